// .note.gnu.build-id: a SHA-1 over the whole output with the id's own bytes
// zeroed (GNU ld's --build-id=sha1), so the same input gives the same id and
// any change to the object gives another.
import { createHash } from 'node:crypto';

export const NT_GNU_BUILD_ID = 3;
export const BUILD_ID_SIZE = 20;
/** Elf64_Nhdr, "GNU\0", then the 20-byte descriptor. */
export const BUILD_ID_NOTE_SIZE = 12 + 4 + BUILD_ID_SIZE;

/** Writes the note's header at `offset`, leaving the descriptor zero. */
export function writeBuildIdHeader(view: DataView, offset: number): void {
  view.setUint32(offset, 4, true); // n_namesz
  view.setUint32(offset + 4, BUILD_ID_SIZE, true); // n_descsz
  view.setUint32(offset + 8, NT_GNU_BUILD_ID, true); // n_type
  view.setUint32(offset + 12, 0x00554e47, true); // "GNU\0"
}

/** Hashes the finished output (descriptor still zero) and stores the id in the note at `offset`. */
export function fillBuildId(out: Uint8Array, offset: number): Uint8Array {
  const id = createHash('sha1').update(out).digest();
  out.set(id, offset + 16);
  return out.subarray(offset + 16, offset + 16 + BUILD_ID_SIZE);
}
