// ELF notes (SHT_NOTE sections and PT_NOTE segments): a run of Elf64_Nhdr records, each
// followed by its name and descriptor, both padded to the note's alignment (4, or 8 for
// PT_NOTE segments with p_align 8, as GNU property notes are).
import { ElfFormatError } from './errors.js';

/** One note: `name` without its NUL, `type` (n_type) and the descriptor bytes (a view, not a copy). */
export interface ElfNote {
  /** The owner's name without its NUL: 'GNU', 'CORE', 'LINUX'. */
  name: string;
  /** The note's type, whose meaning depends on the owner (NT_GNU_BUILD_ID, NT_PRSTATUS, ...). */
  n_type: number;
  /** The descriptor bytes (a view into the input, not a copy). */
  desc: Uint8Array;
  /** Offset of the note's header in the input. */
  offset: number;
}

export const NHDR_SIZE = 12;

/** Caps what a hostile input can make the reader allocate. */
const MAX_NOTES = 1 << 20;

/**
 * Decodes the notes in `bytes[offset, offset + size)`. `align` is the region's alignment
 * (sh_addralign or p_align); only 8 changes the padding, everything else pads to 4, as
 * readelf and glibc do.
 */
export function readNotes(bytes: Uint8Array, offset: number, size: number, align = 4): ElfNote[] {
  const end = offset + size;
  if (offset < 0 || size < 0 || end > bytes.length)
    throw new ElfFormatError(`note region [0x${offset.toString(16)}, +0x${size.toString(16)}) lies outside the input`, offset);
  const pad = align === 8 ? 8 : 4;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const notes: ElfNote[] = [];
  let at = offset;
  while (at < end) {
    if (end - at < NHDR_SIZE) throw new ElfFormatError('truncated note header', at, end - at);
    if (notes.length >= MAX_NOTES) throw new ElfFormatError(`more than ${MAX_NOTES} notes`, at);
    const n_namesz = view.getUint32(at, true);
    const n_descsz = view.getUint32(at + 4, true);
    const n_type = view.getUint32(at + 8, true);
    const nameAt = at + NHDR_SIZE;
    const descAt = at + roundUp(NHDR_SIZE + n_namesz, pad);
    const next = descAt + roundUp(n_descsz, pad);
    if (nameAt + n_namesz > end) throw new ElfFormatError('note name runs past its region', at, n_namesz);
    if (descAt + n_descsz > end) throw new ElfFormatError('note descriptor runs past its region', at + 4, n_descsz);
    // n_namesz counts the NUL; a name without one is still shown, as readelf does.
    let nameEnd = nameAt + n_namesz;
    if (n_namesz > 0 && bytes[nameEnd - 1] === 0) nameEnd -= 1;
    const name = new TextDecoder('latin1').decode(bytes.subarray(nameAt, nameEnd));
    notes.push({ name, n_type, desc: bytes.subarray(descAt, descAt + n_descsz), offset: at });
    at = Math.min(next, end);
  }
  return notes;
}

function roundUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
