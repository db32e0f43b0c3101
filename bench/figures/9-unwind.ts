// Figure 9: what unwind rules cost. addFunction of 10,000 small functions
// into one live library, without rules, with the frame-pointer preset and
// with rules from the builder, against what other JITs do: libgcc's
// __register_frame called once per function, each with its own CIE and FDE.
import { buildSharedObject, cfi, dlcreate, getLibc, readElf } from '../lib/dlbind.js';
import { type Context, Figure } from '../lib/figure.js';
import { collect, time } from '../lib/stats.js';

const RUNS = 7;
// push rbp; mov rbp, rsp; call rdi; pop rbp; ret
const CODE = Uint8Array.of(0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3);

export function run(ctx: Context) {
  const n = ctx.quick ? 2_000 : 10_000;
  const f = new Figure(9, `Unwind rules: addFunction of ${n.toLocaleString('en-US')} functions with and without them`, { functions: n, runs: RUNS });
  const built = cfi('x86_64').advance(1).defCfaOffset(16).offset('rbp', -16).advance(3).defCfaRegister('rbp').bytes();
  const variants = [
    { id: 'none', label: 'addFunction, no unwind rules', unwind: undefined },
    { id: 'preset', label: "addFunction, unwind: 'frame-pointer'", unwind: 'frame-pointer' as const },
    { id: 'bytes', label: 'addFunction, unwind: cfi() bytes', unwind: built },
  ].map((v) => ({
    ...v,
    per: f.measure({ id: v.id, label: v.label, show: 'time', per: 'function' }),
    all: f.measure({ id: `${v.id}-all`, label: `${v.label}, all ${n.toLocaleString('en-US')}`, show: 'time', per: 'run' }),
  }));
  const anchor = f.measure({ id: 'register', label: '__register_frame per function (libgcc, through koffi)', show: 'time', per: 'function' });

  const names = Array.from({ length: n }, (_, i) => `fn_${i}`);
  const addAll = (unwind: 'frame-pointer' | Uint8Array | undefined, count: number): number => {
    const lib = dlcreate(undefined, { maxSymbols: count + 16, text: (count + 16) * 16 });
    collect();
    const options = unwind === undefined ? {} : { unwind };
    const seconds = time(() => {
      for (let i = 0; i < count; i++) lib.addFunction(names[i]!, CODE, options);
    });
    if (unwind !== undefined) {
      const fdes = readElf(new Uint8Array(lib.liveObject.mem)).unwind?.ehFrame?.fdes.filter((d) => d.pc_range > 0n).length;
      if (fdes !== count) throw new Error(`the live .eh_frame holds ${fdes} FDEs, expected ${count}`);
    }
    lib.delete();
    return seconds;
  };

  // The anchor's input: one CIE + FDE + terminator per function, copied into native memory.
  const template = (() => {
    const so = buildSharedObject({ symbols: [{ name: 'f', section: 'text', bytes: CODE, unwind: 'frame-pointer' }] });
    const eh = readElf(so).section('.eh_frame')!;
    return so.slice(Number(eh.sh_offset), Number(eh.sh_offset + eh.sh_size));
  })();
  const c = getLibc();
  const gcc = c.koffi.load('libgcc_s.so.1');
  const register = gcc.func('void __register_frame(void *begin)');
  const deregister = gcc.func('void *__deregister_frame_info(void *begin)');
  const stride = Math.ceil(template.length / 16) * 16;
  const registerAll = (count: number): number => {
    const mem = c.koffi.alloc('uint8_t', count * stride);
    const base = c.koffi.address(mem) as bigint;
    const view = new Uint8Array(c.view(base, count * stride));
    for (let i = 0; i < count; i++) view.set(template, i * stride);
    const at = Array.from({ length: count }, (_, i) => base + BigInt(i * stride));
    collect();
    const seconds = time(() => {
      for (let i = 0; i < count; i++) register(at[i]);
    });
    for (let i = 0; i < count; i++) deregister(at[i]);
    c.koffi.free(mem);
    return seconds;
  };

  for (const v of variants) addAll(v.unwind, Math.min(n, 2_000)); // warm-up, untimed
  registerAll(Math.min(n, 2_000));
  for (let r = 0; r < RUNS; r++) {
    for (const v of variants) {
      const s = addAll(v.unwind, n);
      v.per(s / n);
      v.all(s);
    }
    anchor(registerAll(n) / n);
    ctx.log(`run ${r + 1} done`);
  }
  f.ratio('preset vs no rules', 'preset', 'none', { max: 1.5, text: 'rules cost at most half as much again' });
  f.ratio('cfi() bytes vs no rules', 'bytes', 'none');
  f.ratio('addFunction with the preset vs __register_frame alone (which allocates and binds nothing)', 'preset', 'register');
  f.note(
    `Each run adds ${n.toLocaleString('en-US')} 8-byte functions to a fresh library (dlcreate and delete outside the clock) and checks afterwards that the live .eh_frame holds one FDE per function. The rules are written into .eh_frame and the .eh_frame_hdr search table in place; no registration call is made.`,
  );
  f.note(
    '__register_frame only records the object: libgcc sorts its FDEs at the first unwind that needs them, which is not timed here, and each call includes a koffi call (about as long as the registration itself). The anchor does not include the code allocation and symbol binding that addFunction does.',
  );
  return f.result();
}
