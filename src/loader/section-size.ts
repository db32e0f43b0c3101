// A live table's sh_size: tools that read the live file (readelf, nm, gdb)
// read only sh_size bytes of a section, so a table that grows in place keeps
// its header's field in step. The field is found in the object's own section
// headers, as a reader finds them, once per layout and section.
import { SHDR64_SIZE } from '../elf/constants.js';
import type { Placement } from '../elf/layout.js';
import type { ObjectLayout } from '../elf/writer.js';

const found = new WeakMap<ObjectLayout, Map<number, number | undefined>>();

/**
 * The object offset of the sh_size field of the section header of type
 * `sh_type` that places `section` (its sh_addr and sh_offset), in `mem` laid
 * out as `layout`; undefined when no header does.
 */
export function shSizeOffset(mem: Uint8Array, layout: ObjectLayout, section: Placement, sh_type: number): number | undefined {
  let known = found.get(layout);
  if (known === undefined) found.set(layout, (known = new Map()));
  if (known.has(section.offset)) return known.get(section.offset);
  const v = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  const shnum = v.getUint16(60, true); // e_shnum
  let at: number | undefined;
  for (let i = 0, h = layout.shoff; i < shnum && h + SHDR64_SIZE <= mem.length; i++, h += SHDR64_SIZE) {
    if (
      v.getUint32(h + 4, true) === sh_type &&
      v.getBigUint64(h + 16, true) === BigInt(section.addr) &&
      v.getBigUint64(h + 24, true) === BigInt(section.offset)
    ) {
      at = h + 32;
      break;
    }
  }
  known.set(section.offset, at);
  return at;
}
