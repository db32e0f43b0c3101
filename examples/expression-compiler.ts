// A tiny JIT compiler: integer expressions over a, b and c become x86_64
// functions `int f(int a, int b, int c)` in a live library, where libc's
// dlsym finds them, koffi calls them and dladdr names them.
//
//   npx tsx examples/expression-compiler.ts                 the built-in examples
//   npx tsx examples/expression-compiler.ts '(a + b) * c'   your own
//
// System V ABI: a, b and c arrive in edi, esi and edx; the result leaves in eax.
// So `(a + b) * c` compiles to  lea eax, [rdi+rsi]; imul eax, edx; ret.
import { pathToFileURL } from 'node:url';
import { dladdr, dlcreate, dlfunc, dlsym } from 'dlbind';

type Op = '+' | '-' | '*';
type Expr = { kind: 'param'; name: 'a' | 'b' | 'c' } | { kind: 'const'; value: number } | { kind: 'binary'; op: Op; left: Expr; right: Expr };

/** expr := term (('+' | '-') term)*   term := factor ('*' factor)*   factor := a | b | c | integer | '(' expr ')' */
export function parse(source: string): Expr {
  const tokens = source.match(/\d+|[abc]|[-+*()]|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const expect = (t: string): void => {
    if (tokens[i] !== t) throw new SyntaxError(`expected '${t}' at token ${i + 1} of '${source}', found ${tokens[i] ?? 'the end'}`);
    i++;
  };
  const factor = (): Expr => {
    const t = tokens[i++];
    if (t === 'a' || t === 'b' || t === 'c') return { kind: 'param', name: t };
    if (t !== undefined && /^\d+$/.test(t)) {
      const value = Number(t);
      if (value > 0x7fffffff) throw new SyntaxError(`${t} does not fit in an int`);
      return { kind: 'const', value };
    }
    if (t === '(') {
      const e = expr();
      expect(')');
      return e;
    }
    throw new SyntaxError(`unexpected ${t ?? 'end'} in '${source}'`);
  };
  const term = (): Expr => {
    let e = factor();
    while (peek() === '*') {
      i++;
      e = { kind: 'binary', op: '*', left: e, right: factor() };
    }
    return e;
  };
  const expr = (): Expr => {
    let e = term();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[i++] as Op;
      e = { kind: 'binary', op, left: e, right: term() };
    }
    return e;
  };
  const e = expr();
  if (i !== tokens.length) throw new SyntaxError(`unexpected '${tokens[i]}' in '${source}'`);
  return e;
}

/** What the compiled code must compute: 32-bit wrapping arithmetic, as the CPU does. */
export function evaluate(e: Expr, args: { a: number; b: number; c: number }): number {
  if (e.kind === 'param') return args[e.name];
  if (e.kind === 'const') return e.value;
  const l = evaluate(e.left, args);
  const r = evaluate(e.right, args);
  return e.op === '+' ? (l + r) | 0 : e.op === '-' ? (l - r) | 0 : Math.imul(l, r);
}

// Register numbers in ModRM and SIB bytes.
const EAX = 0;
const ECX = 1;
const REG = { a: 7, b: 6, c: 2 } as const; // edi, esi, edx
const NAME = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const NAME64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];

/** x86_64 machine code for `int f(int a, int b, int c)`, with a listing. */
export function compile(e: Expr): { code: Uint8Array; listing: string[] } {
  const bytes: number[] = [];
  const listing: string[] = [];
  const emit = (text: string, ...b: number[]): void => {
    bytes.push(...b);
    listing.push(text);
  };
  const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const modrm = (reg: number, rm: number): number => 0xc0 | (reg << 3) | rm;

  // eax op= register, or eax op= immediate.
  const opReg = (op: Op, src: number): void => {
    if (op === '+') emit(`add eax, ${NAME[src]}`, 0x01, modrm(src, EAX));
    else if (op === '-') emit(`sub eax, ${NAME[src]}`, 0x29, modrm(src, EAX));
    else emit(`imul eax, ${NAME[src]}`, 0x0f, 0xaf, modrm(EAX, src));
  };
  const opImm = (op: Op, v: number): void => {
    if (op === '+') emit(`add eax, ${v}`, 0x05, ...imm32(v));
    else if (op === '-') emit(`sub eax, ${v}`, 0x2d, ...imm32(v));
    else emit(`imul eax, eax, ${v}`, 0x69, modrm(EAX, EAX), ...imm32(v));
  };
  const simple = (x: Expr): boolean => x.kind !== 'binary';
  const opSimple = (op: Op, x: Expr): void => (x.kind === 'param' ? opReg(op, REG[x.name]) : opImm(op, (x as { value: number }).value));

  // Leaves the value of x in eax. Never writes edi, esi or edx, so the arguments stay put.
  const gen = (x: Expr): void => {
    if (x.kind === 'param') {
      emit(`mov eax, ${NAME[REG[x.name]]}`, 0x89, modrm(REG[x.name], EAX));
    } else if (x.kind === 'const') {
      emit(`mov eax, ${x.value}`, 0xb8, ...imm32(x.value));
    } else if (x.op === '+' && x.left.kind === 'param' && x.right.kind === 'param') {
      // lea eax, [base + index]: ModRM 04 selects a SIB byte (index << 3 | base).
      const base = REG[x.left.name];
      const index = REG[x.right.name];
      emit(`lea eax, [${NAME64[base]}+${NAME64[index]}]`, 0x8d, 0x04, (index << 3) | base);
    } else if (simple(x.right)) {
      gen(x.left);
      opSimple(x.op, x.right);
    } else if (simple(x.left) && x.op !== '-') {
      gen(x.right);
      opSimple(x.op, x.left);
    } else {
      gen(x.right);
      emit('push rax', 0x50);
      gen(x.left);
      emit('pop rcx', 0x59);
      opReg(x.op, ECX);
    }
  };
  gen(e);
  emit('ret', 0xc3);
  return { code: Uint8Array.from(bytes), listing };
}

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

function main(): void {
  if (process.arch !== 'x64') {
    console.log(`This example emits x86_64 code; this machine is ${process.arch}. (The dlbind demo has aarch64 code.)`);
    return;
  }
  const sources =
    process.argv.length > 2 ? process.argv.slice(2) : ['(a + b) * c', 'a * a + b * b - c', '(a - 1) * (b + 2) * (c - 3)', '7 * (a + b + c) - 100'];
  let asts: Expr[];
  try {
    asts = sources.map(parse);
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
    return;
  }
  const lib = dlcreate();
  const samples = [
    { a: 1, b: 2, c: 3 },
    { a: -5, b: 17, c: 4 },
    { a: 1000, b: 30000, c: -7 },
    { a: 65536, b: 65536, c: 65536 },
  ];
  sources.forEach((source, n) => {
    const ast = asts[n]!;
    const { code, listing } = compile(ast);
    const name = `expr${n}`;
    lib.addFunction(name, code);
    const addr = dlsym(lib, name);
    if (addr === null) throw new Error(`dlsym did not find ${name}`);
    const f = dlfunc(addr, `int ${name}(int a, int b, int c)`);
    console.log(`${name} = ${source}`);
    console.log(`  ${code.length} bytes at 0x${addr.toString(16)}: ${hex(code)}`);
    for (const line of listing) console.log(`    ${line}`);
    for (const s of samples) {
      const got = f(s.a, s.b, s.c) as number;
      const want = evaluate(ast, s);
      if (got !== want) throw new Error(`${name}(${s.a}, ${s.b}, ${s.c}) = ${got}, but the expression gives ${want}`);
      console.log(`  ${name}(${s.a}, ${s.b}, ${s.c}) = ${got}`);
    }
    const info = dladdr(addr + BigInt(code.length - 1));
    console.log(`  dladdr(last byte) -> ${info?.sname} in ${info?.fname}`);
  });
  console.log(`${sources.length} expression${sources.length === 1 ? '' : 's'} compiled, bound and checked; ${lib.stats().textInUse} bytes of text in use`);
  lib.delete();
}

// Run when started as a program; tests import parse, compile and evaluate.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
