// `dlbind inspect`'s unwind part: .eh_frame_hdr and .eh_frame, decoded.
import { formatCfaInstruction } from '../elf/cfi.js';
import type { ElfFile } from '../elf/reader.js';
import { append, hex, table } from './format.js';

/** Text lines for the unwind tables (none when the object has none). */
export function unwindText(file: ElfFile): string[] {
  const u = file.unwind;
  if (u === undefined) return [];
  const out: string[] = [];
  const h = u.ehFrameHdr;
  if (h !== undefined) {
    const count = h.fde_count === undefined ? 'no search table' : `${h.fde_count} table entr${h.fde_count === 1 ? 'y' : 'ies'}`;
    out.push('', `Unwind table (.eh_frame_hdr at ${hex(h.address)}: .eh_frame at ${hex(h.eh_frame_ptr)}, ${count})`);
  }
  const e = u.ehFrame;
  if (e !== undefined) {
    out.push('', `Call frame information (.eh_frame at ${hex(e.address)}: ${e.cies.length} CIE, ${e.fdes.length} FDE)`);
    for (const c of e.cies) {
      out.push(
        `  CIE ${hex(c.offset, 8)} "${c.augmentation}" code ${c.code_alignment_factor} data ${c.data_alignment_factor} return address r${c.return_address_register}: ${rules(file, c.initialInstructions)}`,
      );
    }
    append(
      out,
      table(
        e.fdes.map((f) => [hex(f.offset, 8), hex(f.cieOffset, 8), `${hex(f.pc_begin)}..${hex(f.pc_begin + f.pc_range)}`, rules(file, f.instructions)]),
        { header: ['FDE', 'CIE', 'PC range', 'Rules'] },
      ),
    );
  }
  return out;
}

function rules(file: ElfFile, list: readonly { op: string }[]): string {
  const shown = list.filter((i) => i.op !== 'DW_CFA_nop').map((i) => formatCfaInstruction(file.machine, i as Parameters<typeof formatCfaInstruction>[1]));
  return shown.length === 0 ? '-' : shown.join('; ');
}

/** The unwind tables for the JSON report (null when there are none). */
export function unwindJson(file: ElfFile): unknown {
  return file.unwind ?? null;
}
