// Reading an object's unwind tables: .eh_frame and .eh_frame_hdr, found by
// their section headers, or (in a loaded image, or a file without section
// headers) through PT_GNU_EH_FRAME as libgcc finds them.
import { PT_GNU_EH_FRAME, SHT_NOBITS } from './constants.js';
import { type EhFrameHdr, decodeEhFrameHdr } from './eh-frame-hdr.js';
import { type EhFrame, decodeEhFrame } from './eh-frame.js';
import { ElfFormatError } from './errors.js';
import type { ProgramHeader, SectionHeader } from './types.js';

/** An object's decoded unwind tables. */
export interface UnwindInfo {
  /** .eh_frame_hdr, when the object has one. */
  ehFrameHdr?: EhFrameHdr;
  /** .eh_frame, when the object has one. */
  ehFrame?: EhFrame;
}

type Locate = (addr: bigint, what: string, at: number) => { offset: number; limit: number };

function sectionBytes(bytes: Uint8Array, s: SectionHeader, at: number): Uint8Array {
  if (s.sh_type === SHT_NOBITS) throw new ElfFormatError(`${s.name} has no file data (SHT_NOBITS)`, at);
  const end = s.sh_offset + s.sh_size;
  if (end > BigInt(bytes.length)) throw new ElfFormatError(`${s.name} lies outside the file`, at, s.sh_offset);
  return bytes.subarray(Number(s.sh_offset), Number(end));
}

/** Decodes the unwind tables; undefined when the object has neither. `shoff`/`phoff` name header offsets in errors. */
export function readUnwindInfo(
  bytes: Uint8Array,
  sections: readonly SectionHeader[],
  segments: readonly ProgramHeader[],
  locate: Locate,
  shoff: number,
  phoff: number,
): UnwindInfo | undefined {
  const info: UnwindInfo = {};
  const ehIndex = sections.findIndex((s) => s.name === '.eh_frame');
  const hdrIndex = sections.findIndex((s) => s.name === '.eh_frame_hdr');
  if (hdrIndex >= 0) {
    const s = sections[hdrIndex]!;
    info.ehFrameHdr = decodeEhFrameHdr(sectionBytes(bytes, s, shoff + hdrIndex * 64), s.sh_addr, Number(s.sh_offset));
  } else {
    const i = segments.findIndex((p) => p.p_type === PT_GNU_EH_FRAME);
    if (i >= 0) {
      const p = segments[i]!;
      const loc = locate(p.p_vaddr, 'PT_GNU_EH_FRAME', phoff + i * 56 + 16);
      const end = loc.offset + Number(p.p_filesz);
      if (end > loc.limit) throw new ElfFormatError('PT_GNU_EH_FRAME runs past its PT_LOAD', phoff + i * 56 + 32, p.p_filesz);
      info.ehFrameHdr = decodeEhFrameHdr(bytes.subarray(loc.offset, end), p.p_vaddr, loc.offset);
    }
  }
  if (ehIndex >= 0) {
    const s = sections[ehIndex]!;
    info.ehFrame = decodeEhFrame(sectionBytes(bytes, s, shoff + ehIndex * 64), s.sh_addr, Number(s.sh_offset));
  } else if (info.ehFrameHdr !== undefined) {
    // Without a section header, .eh_frame runs to its zero terminator (or to the end of its segment).
    const loc = locate(info.ehFrameHdr.eh_frame_ptr, 'eh_frame_ptr', Number(info.ehFrameHdr.address));
    info.ehFrame = decodeEhFrame(bytes.subarray(loc.offset, loc.limit), info.ehFrameHdr.eh_frame_ptr, loc.offset);
  }
  return info.ehFrame === undefined && info.ehFrameHdr === undefined ? undefined : info;
}
