// DWARF call-frame instructions (DWARF 5, section 6.4.2; the .eh_frame
// dialect of the LSB): the per-machine rules a CIE starts from, a typed
// builder so nobody writes DW_CFA bytes by hand, and a decoder.
import { ElfBuildError, ElfFormatError } from './errors.js';
import { readSleb128, readUleb128, sleb128, uleb128 } from './leb128.js';
import type { Machine } from './types.js';

export const DW_CFA_advance_loc = 0x40;
export const DW_CFA_offset = 0x80;
export const DW_CFA_restore = 0xc0;
export const DW_CFA_nop = 0x00;
export const DW_CFA_set_loc = 0x01;
export const DW_CFA_advance_loc1 = 0x02;
export const DW_CFA_advance_loc2 = 0x03;
export const DW_CFA_advance_loc4 = 0x04;
export const DW_CFA_offset_extended = 0x05;
export const DW_CFA_restore_extended = 0x06;
export const DW_CFA_undefined = 0x07;
export const DW_CFA_same_value = 0x08;
export const DW_CFA_register = 0x09;
export const DW_CFA_remember_state = 0x0a;
export const DW_CFA_restore_state = 0x0b;
export const DW_CFA_def_cfa = 0x0c;
export const DW_CFA_def_cfa_register = 0x0d;
export const DW_CFA_def_cfa_offset = 0x0e;
export const DW_CFA_def_cfa_expression = 0x0f;
export const DW_CFA_expression = 0x10;
export const DW_CFA_offset_extended_sf = 0x11;
export const DW_CFA_def_cfa_sf = 0x12;
export const DW_CFA_def_cfa_offset_sf = 0x13;
export const DW_CFA_val_offset = 0x14;
export const DW_CFA_val_offset_sf = 0x15;
export const DW_CFA_val_expression = 0x16;
/** DW_CFA_AARCH64_negate_ra_state on aarch64, DW_CFA_GNU_window_save on SPARC. */
export const DW_CFA_GNU_window_save = 0x2d;
export const DW_CFA_GNU_args_size = 0x2e;
export const DW_CFA_GNU_negative_offset_extended = 0x2f;

/** What a machine's CIE says, with the factors GCC uses, so compiler-made CFI bytes work unchanged. */
export interface CfiMachine {
  /** The factor advance_loc operands are multiplied by: 1 on x86_64, 4 on aarch64. */
  code_alignment_factor: number;
  /** The factor offset operands are multiplied by: -8 on x86_64, -8 on aarch64. */
  data_alignment_factor: number;
  /** The DWARF register the return address is in: 16 (the rip column) on x86_64, 30 (x30) on aarch64. */
  return_address_register: number;
  /** The DWARF number of the stack pointer. */
  stackPointer: number;
  /** The CIE's initial instructions: the rules at a function's first instruction. */
  initialInstructions: Uint8Array;
  /** DWARF register numbers by name. */
  registers: Readonly<Record<string, number>>;
}

const X86_64_REGISTERS: Record<string, number> = {
  rax: 0,
  rdx: 1,
  rcx: 2,
  rbx: 3,
  rsi: 4,
  rdi: 5,
  rbp: 6,
  rsp: 7,
  r8: 8,
  r9: 9,
  r10: 10,
  r11: 11,
  r12: 12,
  r13: 13,
  r14: 14,
  r15: 15,
  rip: 16,
};
const AARCH64_REGISTERS: Record<string, number> = { sp: 31, fp: 29, lr: 30 };
for (let i = 0; i <= 30; i++) AARCH64_REGISTERS[`x${i}`] = i;
for (let i = 0; i <= 31; i++) AARCH64_REGISTERS[`v${i}`] = 64 + i;

export const CFI_MACHINES: Readonly<Record<Machine, CfiMachine>> = {
  // GCC's x86_64 CIE: CFA = rsp+8, return address (column 16) at CFA-8.
  x86_64: {
    code_alignment_factor: 1,
    data_alignment_factor: -8,
    return_address_register: 16,
    stackPointer: 7,
    initialInstructions: Uint8Array.of(DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 16, 1),
    registers: X86_64_REGISTERS,
  },
  // GCC's aarch64 CIE: CFA = sp, return address in x30 (column 30, same value).
  aarch64: {
    code_alignment_factor: 4,
    data_alignment_factor: -8,
    return_address_register: 30,
    stackPointer: 31,
    initialInstructions: Uint8Array.of(DW_CFA_def_cfa, 31, 0),
    registers: AARCH64_REGISTERS,
  },
};

/** A register by name for the machine (x86_64 'rbp', aarch64 'x29' or 'fp'), or a DWARF number. */
export type CfiRegister = string | number;

/**
 * Builds the call-frame instructions of one FDE: what follows the CIE's
 * initial rules. Offsets and advances are in bytes; the builder divides by the
 * CIE's factors and picks the shortest encoding.
 *
 *     cfi('x86_64').advance(1).defCfaOffset(16).offset('rbp', -16).advance(3).defCfaRegister('rbp')
 */
export class CfiBuilder {
  private readonly out: number[] = [];
  /** The machine's CIE factors and register numbers. */
  readonly info: CfiMachine;
  /** Starts an empty list of instructions for `machine`. */
  constructor(
    /** The machine the instructions are for. */
    readonly machine: Machine = 'x86_64',
  ) {
    const info = CFI_MACHINES[machine];
    if (info === undefined) throw new ElfBuildError(`no call-frame rules for machine '${String(machine)}'`, 'machine');
    this.info = info;
  }

  /** The DWARF number of a register. */
  register(reg: CfiRegister): number {
    if (typeof reg === 'number') {
      if (!Number.isInteger(reg) || reg < 0 || reg > 65535) throw new ElfBuildError(`register number must be 0..65535, got ${reg}`, 'unwind');
      return reg;
    }
    const n = this.info.registers[reg];
    if (n === undefined) throw new ElfBuildError(`no register '${String(reg)}' on ${this.machine}`, 'unwind');
    return n;
  }

  /** Moves the location past `bytes` bytes of code. */
  advance(bytes: number): this {
    const f = this.info.code_alignment_factor;
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes % f !== 0)
      throw new ElfBuildError(`advance must be a non-negative multiple of ${f} bytes on ${this.machine}, got ${bytes}`, 'unwind');
    const delta = bytes / f;
    if (delta === 0) return this;
    if (delta < 0x40) this.out.push(DW_CFA_advance_loc | delta);
    else if (delta <= 0xff) this.out.push(DW_CFA_advance_loc1, delta);
    else if (delta <= 0xffff) this.out.push(DW_CFA_advance_loc2, delta & 0xff, delta >>> 8);
    else if (delta <= 0xffffffff) this.out.push(DW_CFA_advance_loc4, delta & 0xff, (delta >>> 8) & 0xff, (delta >>> 16) & 0xff, delta >>> 24);
    else throw new ElfBuildError(`advance of ${bytes} bytes is too large`, 'unwind');
    return this;
  }

  /** CFA = reg + offset. */
  defCfa(reg: CfiRegister, offset: number): this {
    const r = this.register(reg);
    if (Number.isSafeInteger(offset) && offset >= 0) this.out.push(DW_CFA_def_cfa, ...uleb128(r), ...uleb128(offset));
    else this.out.push(DW_CFA_def_cfa_sf, ...uleb128(r), ...sleb128(this.factored(offset)));
    return this;
  }

  /** CFA = (current CFA register) + offset. */
  defCfaOffset(offset: number): this {
    if (Number.isSafeInteger(offset) && offset >= 0) this.out.push(DW_CFA_def_cfa_offset, ...uleb128(offset));
    else this.out.push(DW_CFA_def_cfa_offset_sf, ...sleb128(this.factored(offset)));
    return this;
  }

  /** CFA = reg + (current CFA offset). */
  defCfaRegister(reg: CfiRegister): this {
    this.out.push(DW_CFA_def_cfa_register, ...uleb128(this.register(reg)));
    return this;
  }

  /** `reg` was saved at CFA + cfaOffset (negative: below the CFA). */
  offset(reg: CfiRegister, cfaOffset: number): this {
    const r = this.register(reg);
    const f = this.factored(cfaOffset);
    if (f >= 0 && r < 0x40) this.out.push(DW_CFA_offset | r, ...uleb128(f));
    else if (f >= 0) this.out.push(DW_CFA_offset_extended, ...uleb128(r), ...uleb128(f));
    else this.out.push(DW_CFA_offset_extended_sf, ...uleb128(r), ...sleb128(f));
    return this;
  }

  /** `reg` has its CIE rule again (after the epilogue restored it). */
  restore(reg: CfiRegister): this {
    const r = this.register(reg);
    if (r < 0x40) this.out.push(DW_CFA_restore | r);
    else this.out.push(DW_CFA_restore_extended, ...uleb128(r));
    return this;
  }

  /** `reg` is unchanged from the caller's. */
  sameValue(reg: CfiRegister): this {
    this.out.push(DW_CFA_same_value, ...uleb128(this.register(reg)));
    return this;
  }

  /** `reg` cannot be recovered (for the return address: the outermost frame). */
  undefined(reg: CfiRegister): this {
    this.out.push(DW_CFA_undefined, ...uleb128(this.register(reg)));
    return this;
  }

  /** Pushes every rule, for an epilogue in the middle of a function. */
  rememberState(): this {
    this.out.push(DW_CFA_remember_state);
    return this;
  }

  /** Pops the rules pushed by rememberState. */
  restoreState(): this {
    this.out.push(DW_CFA_restore_state);
    return this;
  }

  /** DW_CFA_nop: no rule (padding). */
  nop(): this {
    this.out.push(DW_CFA_nop);
    return this;
  }

  /** The instruction bytes, for `{ unwind: bytes }`. */
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }

  private factored(offset: number): number {
    const f = this.info.data_alignment_factor;
    if (!Number.isSafeInteger(offset) || offset % f !== 0)
      throw new ElfBuildError(`offset must be a multiple of ${-f} bytes on ${this.machine}, got ${offset}`, 'unwind');
    return offset / f;
  }
}

/** A CfiBuilder for the machine (default x86_64). */
export function cfi(machine: Machine = 'x86_64'): CfiBuilder {
  return new CfiBuilder(machine);
}

/**
 * The rules for the standard frame-pointer prologue at a function's start:
 * x86_64 `push rbp; mov rbp, rsp`, aarch64 `stp x29, x30, [sp, #-16]!; mov x29, sp`.
 * They describe the body after the prologue; an epilogue that pops the frame
 * before `ret` is not described (unwinding from a callee never stops there).
 */
export function framePointerCfi(machine: Machine): Uint8Array {
  if (machine === 'aarch64') return cfi(machine).advance(4).defCfaOffset(16).offset('x29', -16).offset('x30', -8).advance(4).defCfaRegister('x29').bytes();
  return cfi(machine).advance(1).defCfaOffset(16).offset('rbp', -16).advance(3).defCfaRegister('rbp').bytes();
}

/** One decoded call-frame instruction; operands are as encoded, offsets already multiplied by the factors. */
export interface CfaInstruction {
  /** The DW_CFA_ name. */
  op: string;
  /** advance_loc*: code bytes (factor applied); set_loc: the address. */
  delta?: number;
  /** The register an instruction is about (DWARF number). */
  reg?: number;
  /** register: the register holding the saved value. */
  reg2?: number;
  /** Bytes (factor applied where the encoding is factored). */
  offset?: number;
  /** Expression bytes of def_cfa_expression, expression, val_expression. */
  expression?: Uint8Array;
}

const REGISTER_OPS: Record<number, string> = {
  [DW_CFA_restore_extended]: 'DW_CFA_restore_extended',
  [DW_CFA_undefined]: 'DW_CFA_undefined',
  [DW_CFA_same_value]: 'DW_CFA_same_value',
  [DW_CFA_def_cfa_register]: 'DW_CFA_def_cfa_register',
};

const SIMPLE: Record<number, string> = {
  [DW_CFA_nop]: 'DW_CFA_nop',
  [DW_CFA_remember_state]: 'DW_CFA_remember_state',
  [DW_CFA_restore_state]: 'DW_CFA_restore_state',
  [DW_CFA_GNU_window_save]: 'DW_CFA_GNU_window_save',
};

/**
 * Decodes call-frame instructions; the DW_CFA_nop padding at the end is left out.
 * `at` is the input offset of bytes[0] for
 * errors; `addressSize` is what DW_CFA_set_loc reads (8: absptr on ELF64).
 */
export function decodeCfi(bytes: Uint8Array, factors: { code: number; data: number }, at = 0, addressSize = 8): CfaInstruction[] {
  const out: CfaInstruction[] = [];
  const end = bytes.length;
  const u = (p: number) => readUleb128(bytes, p, end);
  const s = (p: number) => readSleb128(bytes, p, end);
  const need = (p: number, n: number) => {
    if (p + n > end) throw new ElfFormatError('call-frame instruction runs past its record', at + p);
  };
  let p = 0;
  while (p < end) {
    const start = p;
    const b = bytes[p++]!;
    const high = b & 0xc0;
    const low = b & 0x3f;
    if (high === DW_CFA_advance_loc) {
      out.push({ op: 'DW_CFA_advance_loc', delta: low * factors.code });
      continue;
    }
    if (high === DW_CFA_offset) {
      const o = u(p);
      p = o.next;
      out.push({ op: 'DW_CFA_offset', reg: low, offset: o.value * factors.data });
      continue;
    }
    if (high === DW_CFA_restore) {
      out.push({ op: 'DW_CFA_restore', reg: low });
      continue;
    }
    if (b === DW_CFA_nop) {
      // Records are padded with nops: trailing ones are padding, not rules, and a hostile record may be megabytes of them.
      let q = p;
      while (q < end && bytes[q] === 0) q++;
      if (q === end) break;
      out.push({ op: 'DW_CFA_nop' });
      for (; p < q; p++) out.push({ op: 'DW_CFA_nop' });
      continue;
    }
    const simple = SIMPLE[b];
    if (simple !== undefined) {
      out.push({ op: simple });
      continue;
    }
    switch (b) {
      case DW_CFA_set_loc: {
        need(p, addressSize);
        let v = 0;
        for (let k = addressSize - 1; k >= 0; k--) v = v * 256 + bytes[p + k]!;
        p += addressSize;
        out.push({ op: 'DW_CFA_set_loc', delta: v });
        break;
      }
      case DW_CFA_advance_loc1:
        need(p, 1);
        out.push({ op: 'DW_CFA_advance_loc1', delta: bytes[p]! * factors.code });
        p += 1;
        break;
      case DW_CFA_advance_loc2:
        need(p, 2);
        out.push({ op: 'DW_CFA_advance_loc2', delta: (bytes[p]! | (bytes[p + 1]! << 8)) * factors.code });
        p += 2;
        break;
      case DW_CFA_advance_loc4:
        need(p, 4);
        out.push({ op: 'DW_CFA_advance_loc4', delta: (bytes[p]! + bytes[p + 1]! * 256 + bytes[p + 2]! * 65536 + bytes[p + 3]! * 16777216) * factors.code });
        p += 4;
        break;
      case DW_CFA_offset_extended:
      case DW_CFA_val_offset: {
        const r = u(p);
        const o = u(r.next);
        p = o.next;
        out.push({ op: b === DW_CFA_offset_extended ? 'DW_CFA_offset_extended' : 'DW_CFA_val_offset', reg: r.value, offset: o.value * factors.data });
        break;
      }
      case DW_CFA_offset_extended_sf:
      case DW_CFA_val_offset_sf:
      case DW_CFA_GNU_negative_offset_extended: {
        const r = u(p);
        const o = b === DW_CFA_GNU_negative_offset_extended ? u(r.next) : s(r.next);
        p = o.next;
        const name =
          b === DW_CFA_offset_extended_sf
            ? 'DW_CFA_offset_extended_sf'
            : b === DW_CFA_val_offset_sf
              ? 'DW_CFA_val_offset_sf'
              : 'DW_CFA_GNU_negative_offset_extended';
        out.push({ op: name, reg: r.value, offset: (b === DW_CFA_GNU_negative_offset_extended ? -o.value : o.value) * factors.data });
        break;
      }
      case DW_CFA_restore_extended:
      case DW_CFA_undefined:
      case DW_CFA_same_value:
      case DW_CFA_def_cfa_register: {
        const r = u(p);
        p = r.next;
        const name = REGISTER_OPS[b]!;
        out.push({ op: name, reg: r.value });
        break;
      }
      case DW_CFA_register: {
        const r = u(p);
        const r2 = u(r.next);
        p = r2.next;
        out.push({ op: 'DW_CFA_register', reg: r.value, reg2: r2.value });
        break;
      }
      case DW_CFA_def_cfa: {
        const r = u(p);
        const o = u(r.next);
        p = o.next;
        out.push({ op: 'DW_CFA_def_cfa', reg: r.value, offset: o.value });
        break;
      }
      case DW_CFA_def_cfa_sf: {
        const r = u(p);
        const o = s(r.next);
        p = o.next;
        out.push({ op: 'DW_CFA_def_cfa_sf', reg: r.value, offset: o.value * factors.data });
        break;
      }
      case DW_CFA_def_cfa_offset: {
        const o = u(p);
        p = o.next;
        out.push({ op: 'DW_CFA_def_cfa_offset', offset: o.value });
        break;
      }
      case DW_CFA_def_cfa_offset_sf: {
        const o = s(p);
        p = o.next;
        out.push({ op: 'DW_CFA_def_cfa_offset_sf', offset: o.value * factors.data });
        break;
      }
      case DW_CFA_GNU_args_size: {
        const o = u(p);
        p = o.next;
        out.push({ op: 'DW_CFA_GNU_args_size', offset: o.value });
        break;
      }
      case DW_CFA_def_cfa_expression:
      case DW_CFA_expression:
      case DW_CFA_val_expression: {
        let reg: number | undefined;
        if (b !== DW_CFA_def_cfa_expression) {
          const r = u(p);
          reg = r.value;
          p = r.next;
        }
        const len = u(p);
        need(len.next, len.value);
        const expression = bytes.slice(len.next, len.next + len.value);
        p = len.next + len.value;
        const name = b === DW_CFA_def_cfa_expression ? 'DW_CFA_def_cfa_expression' : b === DW_CFA_expression ? 'DW_CFA_expression' : 'DW_CFA_val_expression';
        out.push(reg === undefined ? { op: name, expression } : { op: name, reg, expression });
        break;
      }
      default:
        throw new ElfFormatError('unknown call-frame instruction', at + start, b);
    }
  }
  return out;
}

/** A register's name for the machine ('rbp', 'x29'), or `r<n>`. */
export function registerName(machine: string, reg: number): string {
  const table = machine === 'x86_64' ? X86_64_REGISTERS : machine === 'aarch64' ? AARCH64_REGISTERS : {};
  for (const [name, n] of Object.entries(table)) if (n === reg && name !== 'fp' && name !== 'lr') return name;
  return `r${reg}`;
}

/** One instruction as text, in readelf's words ("DW_CFA_offset: r6 (rbp) at cfa-16"). */
export function formatCfaInstruction(machine: string, i: CfaInstruction): string {
  const r = (n: number | undefined) => `r${n} (${registerName(machine, n!)})`;
  switch (i.op) {
    case 'DW_CFA_advance_loc':
    case 'DW_CFA_advance_loc1':
    case 'DW_CFA_advance_loc2':
    case 'DW_CFA_advance_loc4':
      return `${i.op}: ${i.delta}`;
    case 'DW_CFA_set_loc':
      return `${i.op}: 0x${i.delta!.toString(16)}`;
    case 'DW_CFA_def_cfa':
    case 'DW_CFA_def_cfa_sf':
      return `${i.op}: ${r(i.reg)} ofs ${i.offset}`;
    case 'DW_CFA_def_cfa_offset':
    case 'DW_CFA_def_cfa_offset_sf':
    case 'DW_CFA_GNU_args_size':
      return `${i.op}: ${i.offset}`;
    case 'DW_CFA_offset':
    case 'DW_CFA_offset_extended':
    case 'DW_CFA_offset_extended_sf':
    case 'DW_CFA_GNU_negative_offset_extended':
      return `${i.op}: ${r(i.reg)} at cfa${i.offset! < 0 ? '' : '+'}${i.offset}`;
    case 'DW_CFA_val_offset':
    case 'DW_CFA_val_offset_sf':
      return `${i.op}: ${r(i.reg)} is cfa${i.offset! < 0 ? '' : '+'}${i.offset}`;
    case 'DW_CFA_register':
      return `${i.op}: ${r(i.reg)} in ${r(i.reg2)}`;
    case 'DW_CFA_def_cfa_register':
    case 'DW_CFA_restore':
    case 'DW_CFA_restore_extended':
    case 'DW_CFA_undefined':
    case 'DW_CFA_same_value':
      return `${i.op}: ${r(i.reg)}`;
    case 'DW_CFA_expression':
    case 'DW_CFA_val_expression':
      return `${i.op}: ${r(i.reg)} (${i.expression!.length} bytes)`;
    case 'DW_CFA_def_cfa_expression':
      return `${i.op} (${i.expression!.length} bytes)`;
    default:
      return i.op;
  }
}
