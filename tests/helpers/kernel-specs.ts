// Specs that drive every WebAssembly kernel of the writer (src/elf/kernels.ts) and, with them
// off, every JavaScript twin: tests/kernels.test.ts builds them both ways in one process, and
// (run as a script) under node --jitless, where it prints each build's SHA-256 as JSON.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { buildSharedObject, type SharedObjectSpec, type SymbolSpec } from '../../src/elf/index.js';
import { kernelsAvailable } from '../../src/elf/kernels.js';

const RET = Uint8Array.of(0xc3);
const SECTIONS = ['text', 'rodata', 'data', 'bss'] as const;

function symbol(name: string, i: number): SymbolSpec {
  const section = SECTIONS[i % 4]!;
  return {
    name,
    section,
    ...(section === 'bss' ? { size: 8 + (i % 3) } : { bytes: i % 5 === 0 ? Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9) : RET }),
    ...(i % 7 === 0 ? { visibility: 'hidden' as const } : {}),
    ...(i % 11 === 0 ? { binding: 'weak' as const } : {}),
  };
}

/** Named specs: sizes around the name batches (2,048), both hash styles and each alone, suffixes to share, non-ASCII names, imports, columns, aarch64. */
export function kernelSpecs(): [string, SharedObjectSpec][] {
  const specs: [string, SharedObjectSpec][] = [];
  for (const n of [0, 1, 2, 3, 9, 2047, 2048, 2049, 4097, 20_000, 100_001]) {
    for (const hashStyle of ['both', 'gnu', 'sysv'] as const) {
      if (n > 5000 && hashStyle !== 'both') continue;
      specs.push([`${n} symbols, ${hashStyle}`, { hashStyle, symbols: Array.from({ length: n }, (_, i) => symbol(`jit_fn_${i}`, i)) }]);
    }
  }
  // Names that end others (shared in .dynstr), equal in their last five bytes and more (sorted again, deeper), and one empty-suffix chain.
  const tails = ['', 'a', 'ba', 'cba', 'x_cba', 'yyyyy_x_cba', 'zyyyyy_x_cba', 'handler', 'on_handler', 'click_on_handler', 'key_on_handler'];
  specs.push([
    'shared suffixes',
    { symbols: tails.flatMap((t, i) => [`${t}`, `p${t}`, `pp${t}`].filter((s) => s !== '').map((s, j) => symbol(s, i * 3 + j))) },
  ]);
  specs.push(['long shared endings', { symbols: Array.from({ length: 3000 }, (_, i) => symbol(`${'q'.repeat(i % 17)}${i}_common_suffix_of_many_names`, i)) }]);
  specs.push(['non-ASCII in a batch', { symbols: Array.from({ length: 2500 }, (_, i) => symbol(i % 997 === 5 ? `ünï_${i}` : `n_${i}`, i)) }]);
  specs.push(['all non-ASCII', { symbols: Array.from({ length: 300 }, (_, i) => symbol(`名前_${i}`, i)) }]);
  specs.push([
    'imports before exports',
    {
      needed: ['libc.so.6'],
      imports: ['printf', 'puts', 'malloc', 'free'],
      symbols: [...Array.from({ length: 500 }, (_, i) => symbol(`f${i}`, i)), { name: 'table', section: 'data', size: 16 }],
      pointers: [
        { symbol: 'table', target: 'puts' },
        { symbol: 'table', offset: 8, target: 'f3' },
      ],
    },
  ]);
  specs.push([
    'columns',
    {
      symbols: [symbol('first', 0)],
      columns: [
        {
          names: Array.from({ length: 5000 }, (_, i) => `col_${i}`),
          section: 'text',
          bytes: new Uint8Array(5000).fill(0xc3),
          sizes: new Uint32Array(5000).fill(1),
        },
        { names: new TextEncoder().encode('alpha\0beta\0gamma\0'), section: 'data', sizes: [8, 8, 8] },
      ],
    },
  ]);
  // One block alone is the plan's name column as it stands; a buffer of names is scanned by a kernel.
  const columnNames = Array.from({ length: 5000 }, (_, i) => (i % 613 === 7 ? `cöl_${i}` : `col_${i}`));
  specs.push([
    'columns alone, names as strings',
    { columns: { names: columnNames, sizes: new Uint32Array(5000).fill(1), bytes: new Uint8Array(5000).fill(0xc3) } },
  ]);
  specs.push([
    'columns alone, names as one buffer',
    {
      columns: {
        names: new TextEncoder().encode(columnNames.map((s) => `${s}\0`).join('')),
        sizes: new Uint32Array(5000).fill(1),
        bytes: new Uint8Array(5000).fill(0xc3),
      },
    },
  ]);
  specs.push(['aarch64', { machine: 'aarch64', symbols: Array.from({ length: 3000 }, (_, i) => symbol(`a64_${i}`, i)) }]);
  specs.push(['no static symbols', { staticSymbols: false, symbols: Array.from({ length: 3000 }, (_, i) => symbol(`s_${i}`, i)) }]);
  return specs;
}

/** Specs that must fail, each as the first bad symbol is found. */
export function badKernelSpecs(): [string, SharedObjectSpec][] {
  const names = (n: number, bad: (i: number) => string | undefined): SymbolSpec[] => Array.from({ length: n }, (_, i) => symbol(bad(i) ?? `ok_${i}`, i));
  return [
    ['a NUL in the second batch', { symbols: names(5000, (i) => (i === 3000 ? 'has\0nul' : undefined)) }],
    ['a NUL in the first name of a batch', { symbols: names(5000, (i) => (i === 2048 ? '\0' : undefined)) }],
    ['a duplicate far apart', { symbols: names(6000, (i) => (i === 5999 ? 'ok_17' : undefined)) }],
    ['a duplicate and a later NUL', { symbols: names(6000, (i) => (i === 10 ? 'ok_3' : i === 5000 ? 'x\0' : undefined)) }],
    ['a symbol outside its section', { symbols: [symbol('a', 0), { name: 'b', section: 'text', bytes: RET, size: -1 } as SymbolSpec] }],
  ];
}

/** Column blocks that must fail, each as the first bad name is found. */
export function badColumnSpecs(): [string, SharedObjectSpec][] {
  const strings = (n: number, bad: (i: number) => unknown): SharedObjectSpec => ({
    columns: { names: Array.from({ length: n }, (_, i) => bad(i) ?? `c_${i}`) as string[], section: 'data', sizes: new Uint32Array(n).fill(8) },
  });
  const buffer = (text: string): SharedObjectSpec => ({
    columns: { names: new TextEncoder().encode(text), section: 'data', sizes: new Uint32Array(text.split('\0').length - 1).fill(8) },
  });
  const many = Array.from({ length: 3000 }, (_, i) => `b_${i}\0`);
  return [
    ['a NUL in a name of the second batch', strings(5000, (i) => (i === 3000 ? 'has\0nul' : undefined))],
    ['a NUL before a name that is not a string', strings(5000, (i) => (i === 2100 ? 'x\0' : i === 2500 ? 7 : undefined))],
    ['an empty name after a NUL', strings(5000, (i) => (i === 10 ? 'y\0' : i === 20 ? '' : undefined))],
    ['an empty name in a buffer', buffer([...many.slice(0, 1500), '\0', ...many.slice(1500)].join(''))],
    ['an empty first name in a buffer', buffer(['\0', ...many].join(''))],
    ['a duplicate in a buffer', buffer([...many, 'b_17\0'].join(''))],
  ];
}

/** The SHA-256 of a build, or its error as "Class: message". */
export function buildDigest(spec: SharedObjectSpec): string {
  try {
    return createHash('sha256').update(buildSharedObject(spec)).digest('hex');
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const digests = [...kernelSpecs(), ...badKernelSpecs()].map(([name, spec]) => [name, buildDigest(spec)]);
  process.stdout.write(`${JSON.stringify({ kernels: kernelsAvailable(), digests })}\n`);
}
