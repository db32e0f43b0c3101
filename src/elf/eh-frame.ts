// .eh_frame: one CIE and one FDE per function (the LSB "Exception Frames"
// format), as GCC and GNU ld write it: augmentation "zR", FDE addresses
// DW_EH_PE_pcrel|DW_EH_PE_sdata4, every record padded with DW_CFA_nop to a
// multiple of 8 bytes, and a zero terminator.
import { CFI_MACHINES, type CfaInstruction, decodeCfi } from './cfi.js';
import { ElfBuildError, ElfFormatError } from './errors.js';
import { readSleb128, readUleb128, sleb128, uleb128 } from './leb128.js';
import type { Machine } from './types.js';

export const DW_EH_PE_absptr = 0x00;
export const DW_EH_PE_uleb128 = 0x01;
export const DW_EH_PE_udata2 = 0x02;
export const DW_EH_PE_udata4 = 0x03;
export const DW_EH_PE_udata8 = 0x04;
export const DW_EH_PE_sleb128 = 0x09;
export const DW_EH_PE_sdata2 = 0x0a;
export const DW_EH_PE_sdata4 = 0x0b;
export const DW_EH_PE_sdata8 = 0x0c;
export const DW_EH_PE_pcrel = 0x10;
export const DW_EH_PE_textrel = 0x20;
export const DW_EH_PE_datarel = 0x30;
export const DW_EH_PE_funcrel = 0x40;
export const DW_EH_PE_aligned = 0x50;
export const DW_EH_PE_indirect = 0x80;
export const DW_EH_PE_omit = 0xff;

/** Bytes of the CIE dlbind writes (one per object): header, "zR", factors, initial rules, padding. */
export function cieBytes(machine: Machine): Uint8Array {
  const m = CFI_MACHINES[machine];
  const body = [
    0,
    0,
    0,
    0, // CIE_id
    1, // version
    0x7a,
    0x52,
    0, // augmentation "zR"
    ...uleb128(m.code_alignment_factor),
    ...sleb128(m.data_alignment_factor),
    m.return_address_register, // version 1: one byte
    ...uleb128(1), // augmentation data length
    DW_EH_PE_pcrel | DW_EH_PE_sdata4, // R: FDE pointer encoding
    ...m.initialInstructions,
  ];
  return record(body);
}

function record(body: number[] | Uint8Array): Uint8Array {
  const size = Math.ceil((4 + body.length) / 8) * 8;
  const out = new Uint8Array(size); // the padding is DW_CFA_nop (0)
  new DataView(out.buffer).setUint32(0, size - 4, true);
  out.set(body, 4);
  return out;
}

/** The size of an FDE record for `instructionBytes` bytes of call-frame instructions. */
export function fdeSize(instructionBytes: number): number {
  return Math.ceil((4 + 4 + 4 + 4 + 1 + instructionBytes) / 8) * 8;
}

/**
 * The bytes of one FDE that will sit at address `at`, for the function
 * [pcBegin, pcBegin+pcRange), whose CIE starts at `cieAt`. Addresses are
 * relative to any common base (the load base), and must be within ±2 GiB.
 */
export function fdeBytes(at: number, cieAt: number, pcBegin: number, pcRange: number, instructions: Uint8Array): Uint8Array {
  const out = new Uint8Array(fdeSize(instructions.length));
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length - 4, true);
  v.setUint32(4, checkS32(at + 4 - cieAt, 'CIE pointer'), true);
  v.setInt32(8, checkS32(pcBegin - (at + 8), 'FDE pc_begin'), true);
  v.setUint32(12, checkU32(pcRange, 'FDE pc_range'), true);
  out[16] = 0; // augmentation data length
  out.set(instructions, 17);
  return out;
}

function checkS32(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new ElfBuildError(`${what} ${v} does not fit DW_EH_PE_sdata4`, 'unwind');
  return v;
}
function checkU32(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffff_ffff) throw new ElfBuildError(`${what} ${v} does not fit 32 bits`, 'unwind');
  return v;
}

/** One function's unwind rules, for an .eh_frame being built. */
export interface FdeSpec {
  /** Address of the function's first byte (relative to the load base). */
  pcBegin: number;
  pcRange: number;
  /** Call-frame instructions after the CIE's initial rules. */
  instructions: Uint8Array;
}

/** An .eh_frame section: one CIE, the FDEs in the given order, and a zero terminator. `fdeAt` gives each FDE's address. */
export function buildEhFrame(machine: Machine, addr: number, fdes: readonly FdeSpec[]): { bytes: Uint8Array; fdeAt: number[] } {
  const cie = cieBytes(machine);
  let size = cie.length + 4;
  for (const f of fdes) size += fdeSize(f.instructions.length);
  const bytes = new Uint8Array(size);
  bytes.set(cie, 0);
  const fdeAt: number[] = [];
  let pos = cie.length;
  for (const f of fdes) {
    const rec = fdeBytes(addr + pos, addr, f.pcBegin, f.pcRange, f.instructions);
    bytes.set(rec, pos);
    fdeAt.push(addr + pos);
    pos += rec.length;
  }
  return { bytes, fdeAt };
}

/** The size of the .eh_frame buildEhFrame writes for these instruction lengths. */
export function ehFrameSize(machine: Machine, instructionLengths: readonly number[]): number {
  let size = cieBytes(machine).length + 4;
  for (const n of instructionLengths) size += fdeSize(n);
  return size;
}

/** A decoded CIE. Field names are the LSB's. */
export interface EhFrameCie {
  /** Offset of the record in the section. */
  offset: number;
  /** The record's length field (bytes after it). */
  length: number;
  /** The CIE version: 1 or 3. */
  version: number;
  /** The augmentation string, e.g. 'zR' or 'zPLR'. */
  augmentation: string;
  /** The factor advance_loc operands are multiplied by. */
  code_alignment_factor: number;
  /** The factor offset operands are multiplied by. */
  data_alignment_factor: number;
  /** The DWARF column of the return address. */
  return_address_register: number;
  /** 'R': how FDE addresses are encoded (DW_EH_PE_*). */
  fdeEncoding: number;
  /** 'L': how LSDA pointers are encoded, when present. */
  lsdaEncoding?: number;
  /** 'P': the personality routine's encoding and (pointer) address. */
  personality?: {
    /** DW_EH_PE_* encoding of the pointer. */
    encoding: number;
    /** The decoded pointer: the routine itself, or (DW_EH_PE_indirect) where its address is stored. */
    address: bigint;
  };
  /** 'S': a signal frame. */
  signalFrame: boolean;
  /** The rules in force at each covered function's first instruction. */
  initialInstructions: CfaInstruction[];
}

/** A decoded FDE. */
export interface EhFrameFde {
  /** Offset of the record in the section. */
  offset: number;
  /** The record's length field (bytes after it). */
  length: number;
  /** Offset of its CIE in the section. */
  cieOffset: number;
  /** The first address covered, decoded to an absolute address. */
  pc_begin: bigint;
  /** The number of bytes covered. */
  pc_range: bigint;
  /** The language-specific data area (C++ exception tables), when the CIE has 'L' and the pointer is not 0. */
  lsda?: bigint;
  /** The rules after the CIE's initial ones. */
  instructions: CfaInstruction[];
  /** Offset of the call-frame instructions' bytes in the section (they run to the record's end). */
  instructionsAt: number;
}

/** A decoded .eh_frame section. */
export interface EhFrame {
  /** The section's address, which PC-relative pointers are decoded against. */
  address: bigint;
  /** The CIEs, in section order. */
  cies: EhFrameCie[];
  /** The FDEs, in section order. */
  fdes: EhFrameFde[];
  /** Offset of the zero terminator, when there is one before the section ends. */
  terminator?: number;
}

/**
 * Decodes a pointer with a DW_EH_PE_* encoding at bytes[p]. `fieldAddress`
 * is the address of that byte (the pcrel base); `dataBase` the datarel base.
 */
export function readEncodedPointer(
  bytes: Uint8Array,
  p: number,
  end: number,
  encoding: number,
  fieldAddress: bigint,
  at: number,
  dataBase?: bigint,
): { value: bigint; next: number } {
  if (encoding === DW_EH_PE_omit) return { value: 0n, next: p };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number) => {
    if (p + n > end) throw new ElfFormatError('encoded pointer runs past its record', at + p);
  };
  let value: bigint;
  let next: number;
  switch (encoding & 0x0f) {
    case DW_EH_PE_absptr:
    case DW_EH_PE_udata8:
      need(8);
      value = view.getBigUint64(p, true);
      next = p + 8;
      break;
    case DW_EH_PE_sdata8:
      need(8);
      value = view.getBigInt64(p, true);
      next = p + 8;
      break;
    case DW_EH_PE_udata2:
      need(2);
      value = BigInt(view.getUint16(p, true));
      next = p + 2;
      break;
    case DW_EH_PE_sdata2:
      need(2);
      value = BigInt(view.getInt16(p, true));
      next = p + 2;
      break;
    case DW_EH_PE_udata4:
      need(4);
      value = BigInt(view.getUint32(p, true));
      next = p + 4;
      break;
    case DW_EH_PE_sdata4:
      need(4);
      value = BigInt(view.getInt32(p, true));
      next = p + 4;
      break;
    case DW_EH_PE_uleb128: {
      const r = readUleb128(bytes, p, end);
      value = BigInt(r.value);
      next = r.next;
      break;
    }
    case DW_EH_PE_sleb128: {
      const r = readSleb128(bytes, p, end);
      value = BigInt(r.value);
      next = r.next;
      break;
    }
    default:
      throw new ElfFormatError('unknown pointer encoding', at + p, encoding);
  }
  switch (encoding & 0x70) {
    case 0:
      break;
    case DW_EH_PE_pcrel:
      value += fieldAddress;
      break;
    case DW_EH_PE_datarel:
      if (dataBase === undefined) throw new ElfFormatError('DW_EH_PE_datarel pointer without a data base', at + p, encoding);
      value += dataBase;
      break;
    default:
      throw new ElfFormatError('unsupported pointer encoding', at + p, encoding);
  }
  return { value: BigInt.asUintN(64, value), next };
}

const MAX_RECORDS = 1 << 22;

/**
 * Decodes an .eh_frame section (its bytes, its address; `fileOffset` names
 * input offsets in errors). Stops at the first zero terminator, as libgcc's
 * linear search does.
 */
export function decodeEhFrame(bytes: Uint8Array, address: bigint, fileOffset = 0): EhFrame {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cies = new Map<number, EhFrameCie>();
  const fdes: EhFrameFde[] = [];
  let terminator: number | undefined;
  let p = 0;
  for (let n = 0; p + 4 <= bytes.length; n++) {
    if (n > MAX_RECORDS) throw new ElfFormatError('too many .eh_frame records', fileOffset + p);
    const start = p;
    let length = view.getUint32(p, true);
    let bodyStart = p + 4;
    if (length === 0) {
      terminator = start;
      break;
    }
    if (length === 0xffffffff) {
      if (p + 12 > bytes.length) throw new ElfFormatError('.eh_frame record header runs past the section', fileOffset + p);
      const big = view.getBigUint64(p + 4, true);
      if (big > BigInt(bytes.length)) throw new ElfFormatError('.eh_frame record runs past the section', fileOffset + p, big);
      length = Number(big);
      bodyStart = p + 12;
    }
    const end = bodyStart + length;
    if (end > bytes.length || length < 4) throw new ElfFormatError('.eh_frame record runs past the section', fileOffset + p, length);
    const id = view.getUint32(bodyStart, true);
    if (id === 0) cies.set(start, decodeCie(bytes, start, bodyStart + 4, end, length, address, fileOffset));
    else {
      const cieOffset = bodyStart - id;
      let cie = cies.get(cieOffset);
      if (cie === undefined) {
        if (cieOffset < 0 || cieOffset + 8 > bytes.length) throw new ElfFormatError('FDE points outside .eh_frame for its CIE', fileOffset + bodyStart, id);
        const cl = view.getUint32(cieOffset, true);
        if (cl === 0 || cl === 0xffffffff || view.getUint32(cieOffset + 4, true) !== 0 || cieOffset + 4 + cl > bytes.length)
          throw new ElfFormatError('FDE points at something that is not a CIE', fileOffset + bodyStart, id);
        cie = decodeCie(bytes, cieOffset, cieOffset + 8, cieOffset + 4 + cl, cl, address, fileOffset);
        cies.set(cieOffset, cie);
      }
      fdes.push(decodeFde(bytes, start, bodyStart + 4, end, length, cie, address, fileOffset));
    }
    p = end;
  }
  return { address, cies: [...cies.values()].sort((a, b) => a.offset - b.offset), fdes, terminator };
}

function decodeCie(bytes: Uint8Array, offset: number, p: number, end: number, length: number, address: bigint, fileOffset: number): EhFrameCie {
  const at = fileOffset;
  if (p >= end) throw new ElfFormatError('CIE is empty', at + offset);
  const version = bytes[p++]!;
  if (version !== 1 && version !== 3) throw new ElfFormatError('unsupported CIE version', at + p - 1, version);
  let augmentation = '';
  while (p < end && bytes[p] !== 0) augmentation += String.fromCharCode(bytes[p++]!);
  if (p >= end) throw new ElfFormatError('CIE augmentation string is not terminated', at + offset);
  p++;
  if (augmentation.includes('eh')) throw new ElfFormatError('unsupported CIE augmentation', at + offset, augmentation);
  const caf = readUleb128(bytes, p, end);
  const daf = readSleb128(bytes, caf.next, end);
  p = daf.next;
  let ra: number;
  if (version === 1) {
    if (p >= end) throw new ElfFormatError('CIE ends before its return address register', at + p);
    ra = bytes[p++]!;
  } else {
    const r = readUleb128(bytes, p, end);
    ra = r.value;
    p = r.next;
  }
  const cie: EhFrameCie = {
    offset,
    length,
    version,
    augmentation,
    code_alignment_factor: caf.value,
    data_alignment_factor: daf.value,
    return_address_register: ra,
    fdeEncoding: DW_EH_PE_absptr,
    signalFrame: false,
    initialInstructions: [],
  };
  if (augmentation.startsWith('z')) {
    const len = readUleb128(bytes, p, end);
    const augEnd = len.next + len.value;
    if (augEnd > end) throw new ElfFormatError('CIE augmentation data runs past the record', at + p, len.value);
    let q = len.next;
    for (const c of augmentation.slice(1)) {
      if (c === 'R') {
        if (q >= augEnd) throw new ElfFormatError('CIE augmentation data too short', at + q);
        cie.fdeEncoding = bytes[q++]!;
      } else if (c === 'L') {
        if (q >= augEnd) throw new ElfFormatError('CIE augmentation data too short', at + q);
        cie.lsdaEncoding = bytes[q++]!;
      } else if (c === 'P') {
        if (q >= augEnd) throw new ElfFormatError('CIE augmentation data too short', at + q);
        const encoding = bytes[q++]!;
        const aligned = (encoding & 0x70) === DW_EH_PE_aligned;
        if (aligned) q = Math.ceil((Number(address) + q) / 8) * 8 - Number(address);
        const ptr = readEncodedPointer(bytes, q, augEnd, aligned ? DW_EH_PE_absptr : encoding & 0x7f, address + BigInt(q), at);
        cie.personality = { encoding, address: ptr.value };
        q = ptr.next;
      } else if (c === 'S') cie.signalFrame = true;
      else if (c === 'B' || c === 'G') {
        // aarch64 BTI and MTE markers: no data.
      } else break; // an unknown letter: the length lets the rest be skipped
    }
    p = augEnd;
  } else if (augmentation !== '') throw new ElfFormatError('unsupported CIE augmentation', at + offset, augmentation);
  cie.initialInstructions = decodeCfi(bytes.subarray(p, end), { code: cie.code_alignment_factor, data: cie.data_alignment_factor }, at + p);
  return cie;
}

function decodeFde(
  bytes: Uint8Array,
  offset: number,
  p: number,
  end: number,
  length: number,
  cie: EhFrameCie,
  address: bigint,
  fileOffset: number,
): EhFrameFde {
  const enc = cie.fdeEncoding;
  const begin = readEncodedPointer(bytes, p, end, enc, address + BigInt(p), fileOffset);
  const range = readEncodedPointer(bytes, begin.next, end, enc & 0x0f, 0n, fileOffset);
  p = range.next;
  const fde: EhFrameFde = {
    offset,
    length,
    cieOffset: cie.offset,
    pc_begin: begin.value,
    pc_range: range.value,
    instructions: [],
    instructionsAt: 0,
  };
  if (cie.augmentation.startsWith('z')) {
    const len = readUleb128(bytes, p, end);
    const augEnd = len.next + len.value;
    if (augEnd > end) throw new ElfFormatError('FDE augmentation data runs past the record', fileOffset + p, len.value);
    if (cie.lsdaEncoding !== undefined && cie.lsdaEncoding !== DW_EH_PE_omit && len.value > 0) {
      fde.lsda = readEncodedPointer(bytes, len.next, augEnd, cie.lsdaEncoding & 0x7f, address + BigInt(len.next), fileOffset).value;
    }
    p = augEnd;
  }
  fde.instructionsAt = p;
  fde.instructions = decodeCfi(bytes.subarray(p, end), { code: cie.code_alignment_factor, data: cie.data_alignment_factor }, fileOffset + p);
  return fde;
}
