// `dlbind demo`: a live JIT library end to end, explained as it goes. Uses the
// public API only, as a user's program would.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DlbindError, type JitLibrary, dladdr, dlalias, dlalloc, dlbind, dlcreate, dldelete, dlfunc, dlsave, dlsym, dlwrite, elf, readElf } from '../index.js';
import { CliError } from './errors.js';
import { grouped, hex, table } from './format.js';
import { segmentFlags } from './inspect.js';

/** A function for the demo, in the machine code of one architecture. */
interface DemoFunction {
  name: string;
  /** A C prototype for dlfunc. */
  signature: string;
  code: Uint8Array;
  /** The instructions, for people. */
  listing: string;
  args: [number, number];
}

const words = (...w: number[]): Uint8Array => new Uint8Array(Uint32Array.from(w).buffer);

/** Two small functions per architecture: int add(int, int) and int mul(int, int). */
export const DEMO_CODE: Record<'x86_64' | 'aarch64', DemoFunction[]> = {
  // System V: the arguments arrive in edi and esi, the result leaves in eax.
  x86_64: [
    { name: 'add', signature: 'int add(int a, int b)', code: Uint8Array.of(0x8d, 0x04, 0x37, 0xc3), listing: 'lea eax, [rdi+rsi]; ret', args: [2, 40] },
    {
      name: 'mul',
      signature: 'int mul(int a, int b)',
      code: Uint8Array.of(0x89, 0xf8, 0x0f, 0xaf, 0xc6, 0xc3),
      listing: 'mov eax, edi; imul eax, esi; ret',
      args: [6, 7],
    },
  ],
  // AAPCS64: the arguments arrive in w0 and w1, the result leaves in w0.
  aarch64: [
    { name: 'add', signature: 'int add(int a, int b)', code: words(0x0b010000, 0xd65f03c0), listing: 'add w0, w0, w1; ret', args: [2, 40] },
    { name: 'mul', signature: 'int mul(int a, int b)', code: words(0x1b017c00, 0xd65f03c0), listing: 'mul w0, w0, w1; ret', args: [6, 7] },
  ],
};

const GREETING = 'hello from a JIT library';

const C_PROGRAM = `/* Written by dlbind demo: calls into a library that was JIT-compiled and saved by dlsave. */
int printf(const char *format, ...);
int add(int a, int b);
int mul(int a, int b);
extern const char greeting[];

int main(void) {
  printf("add(2, 40) = %d\\n", add(2, 40));
  printf("mul(6, 7)  = %d\\n", mul(6, 7));
  printf("greeting   = \\"%s\\"\\n", greeting);
  return add(2, 40) == 42 && mul(6, 7) == 42 ? 0 : 1;
}
`;

export interface DemoOptions {
  /** Keep the temporary directory with the saved library and the C program. */
  keep?: boolean;
  /** Where lines go (default: stdout). */
  print?: (line: string) => void;
}

interface MapsLine {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  inode: number;
}

function mappingsOf(inode: number): MapsLine[] {
  const out: MapsLine[] = [];
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)/.exec(line);
    if (m !== null && Number(m[5]) === inode) {
      out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]!, offset: BigInt(`0x${m[4]}`), inode });
    }
  }
  return out;
}

function glibcVersion(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime === undefined ? 'unknown libc' : `glibc ${header.glibcVersionRuntime}`;
}

/** The first C compiler on PATH, if any. */
function findCompiler(): string | undefined {
  for (const cc of ['cc', 'gcc', 'clang']) {
    const r = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (r.error === undefined && r.status === 0) return cc;
  }
  return undefined;
}

/** Runs the demo. Throws CliError (one line) on failure; EPLATFORM where live libraries cannot work. */
export function runDemo(options: DemoOptions = {}): void {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  let lib: JitLibrary;
  try {
    lib = dlcreate();
  } catch (err) {
    if (err instanceof DlbindError && err.code === 'EPLATFORM') {
      throw new CliError(`the demo cannot run here: ${err.message.replace(/^EPLATFORM: /, '')}`);
    }
    throw err;
  }
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const dir = mkdtempSync(join(tmpdir(), 'dlbind-demo-'));
  let deleted = false;
  try {
    print(`dlbind demo: a live JIT library inside this Node.js process (pid ${process.pid}, ${arch}, ${glibcVersion()}, Node ${process.version})`);

    print('');
    print('1. dlcreate() makes an empty shared object in a memfd and dlopen()s it');
    print(
      table([
        ['name', lib.name],
        ['ld.so loaded', `${lib.path}  (the memfd, named by pid so that a debugger can open it too)`],
        ['load base', hex(lib.loadBase)],
      ]).join('\n'),
    );

    print('');
    print(`2. Write ${arch} machine code into the library and bind it as functions`);
    const [f1, f2] = DEMO_CODE[arch];
    // The C-style API, one step at a time...
    const a1 = dlalloc(lib, f1!.code.length, elf.SHF_EXECINSTR);
    dlwrite(lib, a1, f1!.code);
    dlbind(lib, f1!.name, a1, f1!.code.length, elf.STT_FUNC);
    // ...and the same in one call.
    const a2 = lib.addFunction(f2!.name, f2!.code);
    const text = new TextEncoder().encode(`${GREETING}\0`);
    const a3 = lib.addData('greeting', text);
    print(
      table(
        [
          [f1!.name, hex(a1), String(f1!.code.length), f1!.listing, 'dlalloc + dlwrite + dlbind'],
          [f2!.name, hex(a2), String(f2!.code.length), f2!.listing, 'lib.addFunction (the same in one call)'],
          ['greeting', hex(a3), String(text.length), JSON.stringify(GREETING), 'lib.addData (read-only data)'],
        ],
        { header: ['Symbol', 'Address', 'Bytes', 'Contents', 'Bound with'], align: ['left', 'left', 'right', 'left', 'left'] },
      ).join('\n'),
    );
    print(
      `  Every byte went in through a second, writable mapping of the same file (add is at ${hex(dlalias(lib, a1))} there); the code's own pages are never writable.`,
    );

    print('');
    print("3. libc's dlsym() finds the new symbols; koffi calls the code");
    const calls: string[][] = [];
    for (const f of [f1!, f2!]) {
      const addr = dlsym(lib, f.name);
      if (addr === null) throw new CliError(`dlsym did not find ${f.name}`);
      const fn = dlfunc(addr, f.signature);
      const result = fn(...f.args);
      const expected = f.name === 'add' ? f.args[0] + f.args[1] : f.args[0] * f.args[1];
      if (result !== expected) throw new CliError(`${f.name}(${f.args.join(', ')}) returned ${String(result)}, expected ${expected}`);
      calls.push([`dlsym(lib, '${f.name}')`, hex(addr), `${f.name}(${f.args.join(', ')})`, String(result)]);
    }
    print(table(calls, { header: ['Lookup', 'Address', 'Call', 'Result'] }).join('\n'));

    print('');
    print("4. libc's dladdr() names the symbol that holds an address");
    const lookups = [a1 + 2n, a2, a3 + 6n].map((addr) => {
      const info = dladdr(addr);
      const name = info?.sname == null ? '(none)' : `${info.sname}${info.saddr !== null && addr > info.saddr ? `+${addr - info.saddr}` : ''}`;
      return [hex(addr), name, info?.fname ?? '(no object)'];
    });
    print(table(lookups, { header: ['Address', 'Symbol', 'Object'] }).join('\n'));

    print('');
    print(`5. The live object, as readElf() reads ${lib.path}`);
    const bytes = readFileSync(lib.path);
    const file = readElf(bytes);
    const loads = file.segments.filter((p) => p.p_type === elf.PT_LOAD);
    const sectionsIn = (p: (typeof loads)[number]): string =>
      file.sections
        .filter((s) => (s.sh_flags & BigInt(elf.SHF_ALLOC)) !== 0n && s.sh_addr >= p.p_vaddr && s.sh_addr < p.p_vaddr + p.p_memsz)
        .map((s) => s.name)
        .join(' ');
    print(
      table(
        loads.map((p) => [elf.PT.name(p.p_type), segmentFlags(p.p_flags), hex(lib.loadBase + p.p_vaddr), hex(p.p_offset), grouped(p.p_memsz), sectionsIn(p)]),
        { header: ['Segment', 'Flg', 'Address', 'File offset', 'Bytes', 'Sections'], align: ['left', 'left', 'left', 'left', 'right', 'left'] },
      ).join('\n'),
    );
    print(`  Each segment starts on a page; its file offset equals its address minus the load base. The file is ${grouped(bytes.length)} bytes, mostly holes.`);

    print('');
    print("6. Its mappings, from /proc/self/maps: ld.so's, plus one writable alias");
    const aliasBase = dlalias(lib, a1) - (a1 - lib.loadBase);
    const rows = mappingsOf(statSync(lib.path).ino).map((m) => {
      const loaded = m.start >= lib.loadBase && m.start < lib.loadBase + BigInt(bytes.length);
      const seg = loads.find((p) => m.offset >= p.p_offset && m.offset < p.p_offset + p.p_filesz);
      let who: string;
      if (!loaded) who = m.start === aliasBase ? 'the writable alias: every dlwrite and bind goes here' : 'another mapping of the file';
      else if (seg === undefined) who = 'ld.so';
      else if (m.perms[3] === 's') who = `${sectionsIn(seg)}: shared, so that stores and alias writes meet`;
      else who = `${sectionsIn(seg)}: ld.so's private mapping`;
      return [`${hex(m.start)}-${hex(m.end)}`, m.perms, hex(m.offset), who];
    });
    print(table(rows, { header: ['Range', 'Perms', 'Offset', 'What'] }).join('\n'));
    const wx = rows.filter((r) => r[1]![1] === 'w' && r[1]![2] === 'x');
    print(wx.length === 0 ? '  No mapping is both writable and executable.' : `  WARNING: ${wx.length} mapping(s) are writable and executable`);

    print('');
    print('7. What it holds: lib.stats() and lib.symbols()');
    const s = lib.stats();
    print(
      table(
        [
          ['text', grouped(s.textInUse), grouped(s.capacity.text), 'bytes'],
          ['rodata', grouped(s.rodataInUse), grouped(s.capacity.rodata), 'bytes'],
          ['data', grouped(s.dataInUse), grouped(s.capacity.data), 'bytes'],
          ['symbols', grouped(s.symbols), grouped(s.capacity.maxSymbols), ''],
          ['names (.dynstr)', grouped(s.capacity.stringTableSize - s.stringBytesLeft), grouped(s.capacity.stringTableSize), 'bytes'],
        ],
        { header: ['Capacity', 'In use', 'Of', ''], align: ['left', 'right', 'right', 'left'] },
      ).join('\n'),
    );

    print('');
    print(
      table(
        lib.symbols().map((x) => [x.name, `.${x.section}`, hex(x.address), String(x.size)]),
        { header: ['Name', 'Section', 'Address', 'Size'], align: ['left', 'left', 'left', 'right'] },
      ).join('\n'),
    );

    print('');
    print('8. dlsave() writes the library as a standalone shared object');
    const soPath = join(dir, 'libdemo.so');
    const size = dlsave(lib, soPath);
    const saved = readElf(readFileSync(soPath));
    const defined = saved.dynamicSymbols.filter((x) => x.st_shndx !== elf.SHN_UNDEF).map((x) => x.name);
    const hashes = [saved.sysvHash ? 'DT_HASH' : '', saved.gnuHash ? 'DT_GNU_HASH' : ''].filter(Boolean).join(' and ');
    print(`  ${soPath}: ${grouped(size)} bytes, soname ${saved.soname ?? '(none)'}, symbols ${defined.join(', ')}, ${hashes}`);

    print('');
    print('9. A C program, compiled now, links against the saved file');
    const cc = findCompiler();
    if (cc === undefined) {
      print('  skipped: no C compiler (cc, gcc or clang) on PATH');
    } else {
      writeFileSync(join(dir, 'main.c'), C_PROGRAM);
      const args = ['-o', 'main', 'main.c', `-L${dir}`, '-ldemo', `-Wl,-rpath,${dir}`];
      print(`  $ ${[cc, ...args].map(shellQuote).join(' ')}`);
      const built = spawnSync(cc, args, { cwd: dir, encoding: 'utf8' });
      if (built.status !== 0) throw new CliError(`${cc} failed: ${(built.stderr || built.error?.message || '').trim().split('\n')[0]}`);
      print('  $ ./main');
      const ran = spawnSync(join(dir, 'main'), [], { cwd: dir, encoding: 'utf8' });
      for (const line of ran.stdout.trimEnd().split('\n')) print(`  ${line}`);
      if (ran.status !== 0) throw new CliError(`the C program failed (${ran.signal ?? `exit ${ran.status}`}): ${ran.stderr.trim()}`);
    }

    print('');
    deleted = true;
    const unloaded = dldelete(lib);
    print(`Done. dldelete() ${unloaded ? 'unloaded the library' : 'emptied the library (ld.so keeps it loaded)'}.`);
    if (options.keep) print(`The saved library and the C program are in ${dir} (try: dlbind inspect ${shellQuote(soPath)}).`);
    else print('The temporary directory is removed; `dlbind demo --keep` keeps it.');
  } finally {
    if (!deleted) {
      try {
        dldelete(lib);
      } catch {
        // the error that got us here matters more
      }
    }
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** A word as a POSIX shell reads it back unchanged: bare when it is plain, otherwise in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
