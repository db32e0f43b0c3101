// Offline generation: a shared object written from TypeScript, with no compiler
// or linker, that a C program then links against like any other library.
//
//   npx tsx examples/offline-shared-object.ts [directory]
//
// Writes libanswer.so and main.c into the directory (default: a temporary one,
// removed at the end), then compiles and runs main.c if a C compiler is installed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type SharedObjectSpec, elf, readElf, writeSharedObject } from 'dlbind';

const x86 = process.arch !== 'arm64';
const words = (...w: number[]): Uint8Array => new Uint8Array(Uint32Array.from(w).buffer);

const spec: SharedObjectSpec = {
  machine: x86 ? 'x86_64' : 'aarch64',
  soname: 'libanswer.so',
  symbols: [
    // int answer(void) { return 42; }
    { name: 'answer', section: 'text', bytes: x86 ? Uint8Array.of(0xb8, 0x2a, 0, 0, 0, 0xc3) : words(0x52800540, 0xd65f03c0) },
    // int add(int a, int b) { return a + b; }
    { name: 'add', section: 'text', bytes: x86 ? Uint8Array.of(0x8d, 0x04, 0x37, 0xc3) : words(0x0b010000, 0xd65f03c0) },
    // const char greeting[] = "...";
    { name: 'greeting', section: 'rodata', bytes: new TextEncoder().encode('hello from a library no compiler built\0') },
    // const int primes[5] = { 2, 3, 5, 7, 11 };
    { name: 'primes', section: 'rodata', bytes: new Uint8Array(Int32Array.of(2, 3, 5, 7, 11).buffer), align: 4 },
    // const int *first_prime = &primes[0];  (a RELATIVE relocation: ld.so adds the load address)
    { name: 'first_prime', section: 'data', size: 8 },
    // long counter;  (zero-filled, no bytes in the file)
    { name: 'counter', section: 'bss', size: 8 },
  ],
  pointers: [{ symbol: 'first_prime', target: 'primes' }],
};

const C_PROGRAM = `#include <stdio.h>

int answer(void);
int add(int a, int b);
extern const char greeting[];
extern const int primes[5];
extern const int *first_prime;
extern long counter;

int main(void) {
  printf("answer()       = %d\\n", answer());
  printf("add(40, 2)     = %d\\n", add(40, 2));
  printf("greeting       = \\"%s\\"\\n", greeting);
  printf("primes[4]      = %d\\n", primes[4]);
  printf("*first_prime   = %d\\n", *first_prime);
  counter += 3;
  printf("counter        = %ld\\n", counter);
  return answer() == 42 && add(40, 2) == 42 && *first_prime == 2 ? 0 : 1;
}
`;

function compilerOnPath(): string | undefined {
  for (const cc of ['cc', 'gcc', 'clang']) if (spawnSync(cc, ['--version']).status === 0) return cc;
  return undefined;
}

function main(): void {
  const chosen = process.argv[2];
  const dir = chosen === undefined ? mkdtempSync(join(tmpdir(), 'dlbind-offline-')) : resolve(chosen);
  mkdirSync(dir, { recursive: true });
  try {
    const so = join(dir, 'libanswer.so');
    const size = writeSharedObject(so, spec);
    writeFileSync(join(dir, 'main.c'), C_PROGRAM);
    console.log(`wrote ${so} (${size} bytes) and ${join(dir, 'main.c')}`);

    const file = readElf(readFileSync(so));
    console.log(`readElf: ${elf.ET.name(file.header.e_type)}, ${file.machine}, soname ${file.soname}`);
    for (const s of file.dynamicSymbols.slice(1)) {
      console.log(`  ${s.name.padEnd(12)} ${elf.STT.name(s.type).padEnd(10)} 0x${s.st_value.toString(16).padStart(5, '0')}  ${s.st_size} bytes`);
    }

    const cc = compilerOnPath();
    if (cc === undefined) {
      console.log('no C compiler (cc, gcc or clang) on PATH: not compiling main.c. With one:');
      console.log(`  cc -o main main.c -L. -lanswer -Wl,-rpath,'$ORIGIN' && ./main`);
      return;
    }
    const args = ['-o', 'main', 'main.c', '-L.', '-lanswer', '-Wl,-rpath,$ORIGIN'];
    console.log(`$ ${cc} ${args.join(' ')}`);
    const built = spawnSync(cc, args, { cwd: dir, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`${cc} failed:\n${built.stderr}`);
    console.log('$ ./main');
    const ran = spawnSync('./main', [], { cwd: dir, encoding: 'utf8' });
    process.stdout.write(ran.stdout);
    if (ran.status !== 0) throw new Error(`main failed (${ran.signal ?? ran.status}): ${ran.stderr}`);
  } finally {
    if (chosen === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

main();
