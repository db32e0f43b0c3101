// A JIT with a real assembler: iced-x86 (npm, MIT; its Rust encoder and decoder compiled to
// WebAssembly) encodes each function at the address dlalloc handed out, so that a call from
// one JIT function to another is a plain rel32 `call`. Then write, bind, call, and
// disassemble back with iced's decoder, side by side with objdump when it is installed.
//
//   npx tsx examples/iced-jit.ts [n]
//
// x86_64 only (iced-x86 is an x86 assembler); on aarch64 it says so and exits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockEncoder, Code, Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction, Register } from 'iced-x86';
import { type JitLibrary, SHF_EXECINSTR, dladdr, dlcreate, dlsym } from 'dlbind';

/** Encodes `instructions` for the address `rip`; branch targets are other instructions' `ip` labels. */
function assemble(rip: bigint, instructions: Instruction[]): Uint8Array {
  const encoder = new BlockEncoder(64, 0);
  for (const i of instructions) encoder.add(i);
  const code = encoder.encode(rip);
  encoder.free();
  return code;
}

/** Gives each instruction a label (its `ip` before encoding) so that branches can name it. */
function labelled(instructions: Instruction[]): Instruction[] {
  instructions.forEach((ins, i) => {
    ins.ip = BigInt(i + 1);
  });
  return instructions;
}

/** Allocates a block, encodes the code for its address, writes and binds it. */
function addFunction(lib: JitLibrary, name: string, size: number, build: (at: bigint) => Instruction[]): { addr: bigint; code: Uint8Array } {
  const addr = lib.alloc(size, SHF_EXECINSTR);
  const code = assemble(addr, build(addr));
  if (code.length > size) throw new Error(`${name}: ${code.length} bytes do not fit in ${size}`);
  lib.write(addr, code);
  lib.bind(name, addr, code.length);
  return { addr, code };
}

/** iced's decoder and formatter over `code` at `addr`: one line per instruction. */
export function disassemble(addr: bigint, code: Uint8Array): string[] {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  decoder.ip = addr;
  const formatter = new Formatter(FormatterSyntax.Intel);
  const lines = decoder.decodeAll().map((ins: Instruction) => {
    const line = formatter.format(ins);
    ins.free();
    return line;
  });
  formatter.free();
  decoder.free();
  return lines;
}

function objdump(addr: bigint, code: Uint8Array): string[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'dlbind-iced-'));
  try {
    const file = join(dir, 'code.bin');
    writeFileSync(file, code);
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel', `--adjust-vma=0x${addr.toString(16)}`, file], {
      encoding: 'utf8',
    });
    if (r.error !== undefined || r.status !== 0) return undefined;
    return r.stdout
      .split('\n')
      .map((l) => /^\s+[0-9a-f]+:\t(?:[0-9a-f]{2} )+\s*\t(.*)$/.exec(l)?.[1]?.replace(/\s+/g, ' ').trim())
      .filter((x): x is string => x !== undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  if (process.arch !== 'x64') {
    console.log('iced-x86 emits x86_64 code; this machine is aarch64 (see the README for aarch64 assemblers).');
    return;
  }
  const n = Number.parseInt(process.argv[2] ?? '10', 10);
  const lib = dlcreate();
  try {
    // int square(int x) { return x * x; }
    const square = addFunction(lib, 'square', 16, () => [
      Instruction.createRegReg(Code.Imul_r32_rm32, Register.EDI, Register.EDI),
      Instruction.createRegReg(Code.Mov_r32_rm32, Register.EAX, Register.EDI),
      Instruction.create(Code.Retnq),
    ]);
    // int sum_squares(int n): the sum of square(i) for i = n down to 1, calling square at its address.
    const sum = addFunction(lib, 'sum_squares', 64, () => {
      const code = labelled([
        Instruction.createReg(Code.Push_r64, Register.RBX),
        Instruction.createReg(Code.Push_r64, Register.R12),
        Instruction.createReg(Code.Push_r64, Register.RAX), // keeps the stack 16-byte aligned at the call
        Instruction.createRegReg(Code.Mov_r32_rm32, Register.EBX, Register.EDI),
        Instruction.createRegReg(Code.Xor_r32_rm32, Register.R12D, Register.R12D),
        /* 6: loop */ Instruction.createRegReg(Code.Test_rm32_r32, Register.EBX, Register.EBX),
        /* 7 */ Instruction.createBranch(Code.Jle_rel32_64, 13n),
        Instruction.createRegReg(Code.Mov_r32_rm32, Register.EDI, Register.EBX),
        /* 9 */ Instruction.createBranch(Code.Call_rel32_64, square.addr),
        Instruction.createRegReg(Code.Add_r32_rm32, Register.R12D, Register.EAX),
        Instruction.createReg(Code.Dec_rm32, Register.EBX),
        /* 12 */ Instruction.createBranch(Code.Jmp_rel32_64, 6n),
        /* 13: done */ Instruction.createRegReg(Code.Mov_r32_rm32, Register.EAX, Register.R12D),
        Instruction.createReg(Code.Pop_r64, Register.RCX),
        Instruction.createReg(Code.Pop_r64, Register.R12),
        Instruction.createReg(Code.Pop_r64, Register.RBX),
        Instruction.create(Code.Retnq),
      ]);
      return code;
    });
    for (const [name, f] of [
      ['square', square],
      ['sum_squares', sum],
    ] as const) {
      const found = dlsym(lib, name);
      console.log(`${name}: ${f.code.length} bytes at 0x${f.addr.toString(16)}; dlsym finds ${found === f.addr ? 'it there' : 'something else'}`);
      const ours = disassemble(f.addr, f.code);
      const theirs = objdump(f.addr, f.code);
      const width = Math.max(18, ...ours.map((l) => l.length)) + 2;
      console.log(`  ${'iced-x86 decoder'.padEnd(width)}${theirs === undefined ? '(objdump is not installed)' : 'objdump -D'}`);
      ours.forEach((l, i) => console.log(`  ${l.padEnd(width)}${theirs?.[i] ?? ''}`));
    }
    const sumSquares = lib.func<(n: number) => number>(sum.addr, 'int sum_squares(int n)');
    const expected = (n * (n + 1) * (2 * n + 1)) / 6;
    console.log(`sum_squares(${n}) = ${sumSquares(n)} (expected ${expected})`);
    console.log(`dladdr(call site) -> ${dladdr(sum.addr + 20n)?.sname}`);
    if (sumSquares(n) !== expected) process.exitCode = 1;
  } finally {
    lib.delete();
  }
}

main();
