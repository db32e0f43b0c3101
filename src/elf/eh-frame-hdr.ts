// .eh_frame_hdr (the LSB's "Exception Frame Header"): where .eh_frame is, and
// a table of (initial location, FDE address) pairs sorted by location, both
// relative to the header's own address, which libgcc binary-searches.
import { ElfBuildError, ElfFormatError } from './errors.js';
import { DW_EH_PE_datarel, DW_EH_PE_omit, DW_EH_PE_pcrel, DW_EH_PE_sdata4, DW_EH_PE_udata4, readEncodedPointer } from './eh-frame.js';

/** Header bytes before the table: version, three encodings, eh_frame_ptr, fde_count. */
export const EH_FRAME_HDR_SIZE = 12;
/** One table entry: two DW_EH_PE_datarel|sdata4 words. */
export const EH_FRAME_HDR_ENTRY_SIZE = 8;
/** The table encoding libgcc requires for a binary search. */
export const EH_FRAME_HDR_TABLE_ENC = DW_EH_PE_datarel | DW_EH_PE_sdata4;

/** One search-table entry: a function's first address and its FDE's address. */
export interface EhFrameHdrEntry {
  /** The first address the FDE covers (decoded). */
  initial_loc: bigint;
  /** The FDE's address (decoded). */
  fde: bigint;
}

/** A decoded .eh_frame_hdr. */
export interface EhFrameHdr {
  /** The section's address, which datarel pointers are decoded against. */
  address: bigint;
  /** The format version: 1. */
  version: number;
  /** DW_EH_PE_* encoding of eh_frame_ptr. */
  eh_frame_ptr_enc: number;
  /** DW_EH_PE_* encoding of fde_count (DW_EH_PE_omit: no table). */
  fde_count_enc: number;
  /** DW_EH_PE_* encoding of the table's entries (DW_EH_PE_datarel | DW_EH_PE_sdata4 as linkers write it). */
  table_enc: number;
  /** The address of .eh_frame (decoded). */
  eh_frame_ptr: bigint;
  /** Undefined when fde_count_enc is DW_EH_PE_omit (no table). */
  fde_count?: number;
  /** The search table, sorted by initial_loc. */
  table: EhFrameHdrEntry[];
}

/**
 * The header for an .eh_frame at `ehFrameAt`, with `entries` (sorted here by
 * location) as its table. Addresses are relative to the load base.
 */
export function buildEhFrameHdr(at: number, ehFrameAt: number, entries: readonly { pc: number; fde: number }[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => a.pc - b.pc);
  const out = new Uint8Array(EH_FRAME_HDR_SIZE + sorted.length * EH_FRAME_HDR_ENTRY_SIZE);
  writeEhFrameHdrHeader(out, at, ehFrameAt, sorted.length);
  const v = new DataView(out.buffer);
  sorted.forEach((e, i) => {
    v.setInt32(EH_FRAME_HDR_SIZE + i * 8, rel(e.pc, at), true);
    v.setInt32(EH_FRAME_HDR_SIZE + i * 8 + 4, rel(e.fde, at), true);
  });
  return out;
}

/** Writes the 12 header bytes (table encoding included) into `out` at 0. */
export function writeEhFrameHdrHeader(out: Uint8Array, at: number, ehFrameAt: number, fdeCount: number): void {
  out[0] = 1;
  out[1] = DW_EH_PE_pcrel | DW_EH_PE_sdata4;
  out[2] = DW_EH_PE_udata4;
  out[3] = EH_FRAME_HDR_TABLE_ENC;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setInt32(4, rel(ehFrameAt, at + 4), true);
  v.setUint32(8, fdeCount, true);
}

/** `addr - base` as a DW_EH_PE_sdata4 value. */
export function rel(addr: number, base: number): number {
  const v = addr - base;
  if (!Number.isSafeInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new ElfBuildError(`.eh_frame_hdr offset ${v} does not fit 32 bits`, 'unwind');
  return v;
}

/** Decodes an .eh_frame_hdr (its bytes and address; `fileOffset` names input offsets in errors). */
export function decodeEhFrameHdr(bytes: Uint8Array, address: bigint, fileOffset = 0): EhFrameHdr {
  if (bytes.length < 4) throw new ElfFormatError('.eh_frame_hdr is shorter than its header', fileOffset, bytes.length);
  const version = bytes[0]!;
  if (version !== 1) throw new ElfFormatError('unsupported .eh_frame_hdr version', fileOffset, version);
  const eh_frame_ptr_enc = bytes[1]!;
  const fde_count_enc = bytes[2]!;
  const table_enc = bytes[3]!;
  const ptr = readEncodedPointer(bytes, 4, bytes.length, eh_frame_ptr_enc, address + 4n, fileOffset, address);
  const hdr: EhFrameHdr = { address, version, eh_frame_ptr_enc, fde_count_enc, table_enc, eh_frame_ptr: ptr.value, table: [] };
  if (fde_count_enc === DW_EH_PE_omit) return hdr;
  const count = readEncodedPointer(bytes, ptr.next, bytes.length, fde_count_enc, address + BigInt(ptr.next), fileOffset, address);
  let p = count.next;
  // Every entry takes at least two bytes (eight in the usual encoding): a count the bytes cannot hold is refused before the loop.
  const entrySize = table_enc === EH_FRAME_HDR_TABLE_ENC ? EH_FRAME_HDR_ENTRY_SIZE : 2;
  if (count.value * BigInt(entrySize) > BigInt(bytes.length - p) && table_enc !== DW_EH_PE_omit)
    throw new ElfFormatError('.eh_frame_hdr fde_count exceeds the section', fileOffset + ptr.next, count.value);
  if (count.value > BigInt(bytes.length)) throw new ElfFormatError('.eh_frame_hdr fde_count exceeds the section', fileOffset + ptr.next, count.value);
  const n = Number(count.value);
  hdr.fde_count = n;
  if (table_enc === DW_EH_PE_omit) return hdr;
  if (table_enc === EH_FRAME_HDR_TABLE_ENC) {
    const v = new DataView(bytes.buffer, bytes.byteOffset + p, n * EH_FRAME_HDR_ENTRY_SIZE);
    for (let i = 0; i < n; i++) {
      hdr.table.push({
        initial_loc: BigInt.asUintN(64, address + BigInt(v.getInt32(i * 8, true))),
        fde: BigInt.asUintN(64, address + BigInt(v.getInt32(i * 8 + 4, true))),
      });
    }
    return hdr;
  }
  for (let i = 0; i < n; i++) {
    const loc = readEncodedPointer(bytes, p, bytes.length, table_enc, address + BigInt(p), fileOffset, address);
    const fde = readEncodedPointer(bytes, loc.next, bytes.length, table_enc, address + BigInt(loc.next), fileOffset, address);
    hdr.table.push({ initial_loc: loc.value, fde: fde.value });
    p = fde.next;
  }
  return hdr;
}
