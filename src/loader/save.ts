// Turning a live library into a standalone shared object: the same symbols at
// the same addresses (so code that reaches data PC-relative keeps working),
// unused capacity trimmed, fresh SysV and GNU hash tables, and RELATIVE
// relocations for the words marked as pointers into the library.
import { STB_GLOBAL, STT_NOTYPE, STV_DEFAULT } from '../elf/constants.js';
import type { ContentSectionName } from '../elf/layout.js';
import type { ObjectPlan, PlanRelocation, PlanSymbol } from '../elf/writer.js';
import type { Arena } from './arena.js';
import { ARENA_GRANULE } from './arena.js';
import { DlbindError } from './errors.js';
import type { SavedImport } from './imports.js';
import type { LiveObject } from './live-object.js';

export type ArenaName = Exclude<ContentSectionName, 'bss'>;
export const ARENA_NAMES: readonly ArenaName[] = ['text', 'rodata', 'data'];

export interface SavedSymbol {
  name: string;
  /** st_value in the live object (an offset from the load base). */
  value: number;
  size: number;
  type: number;
  /** The function's call-frame instructions, when it has unwind rules. */
  unwind?: Uint8Array;
}

export function savePlan(
  object: LiveObject,
  soname: string,
  arenas: Record<ArenaName, Arena>,
  symbols: Iterable<SavedSymbol>,
  pointerWords: Iterable<number>,
  imports: readonly SavedImport[] = [],
): ObjectPlan {
  const layout = object.layout;
  const sections = {} as ObjectPlan['sections'];
  for (const name of ARENA_NAMES) {
    const live = layout.content[name];
    const blocks = arenas[name].blocks();
    let extent = 0;
    for (const b of blocks) extent = Math.max(extent, b.offset + Math.ceil(b.size / ARENA_GRANULE) * ARENA_GRANULE);
    // Only the blocks in use are copied: freed space (a trap fill, or old bytes of something given back) is saved as zeros.
    const content = new Uint8Array(extent);
    for (const b of blocks) {
      const end = b.offset + Math.ceil(b.size / ARENA_GRANULE) * ARENA_GRANULE;
      content.set(object.mem.subarray(live.offset + b.offset, live.offset + end), b.offset);
    }
    // Only what is saved keeps its address: an empty section's would cost a page of padding.
    sections[name] = { size: extent, align: 16, addr: extent > 0 ? live.addr : undefined, content: extent > 0 ? content : undefined };
  }
  sections.bss = { size: 0, align: 8 };
  const sectionOf = (value: number): ArenaName | undefined =>
    ARENA_NAMES.find((n) => value >= layout.content[n].addr && value < layout.content[n].addr + Math.max(sections[n].size, 1));

  const planSymbols: PlanSymbol[] = [];
  // One FDE per function, however many names it has.
  const described = new Set<number>();
  for (const s of symbols) {
    const section = sectionOf(s.value);
    if (section === undefined) continue;
    const unwind = s.unwind !== undefined && section === 'text' && !described.has(s.value) ? s.unwind : undefined;
    if (unwind !== undefined) described.add(s.value);
    planSymbols.push({
      ...(unwind !== undefined ? { unwind } : {}),
      name: s.name,
      section,
      offset: s.value - layout.content[section].addr,
      size: Math.min(s.size, sections[section].size - (s.value - layout.content[section].addr)),
      type: s.type,
      bind: STB_GLOBAL,
      visibility: STV_DEFAULT,
    });
  }

  const relocations: PlanRelocation[] = [];
  const view = new DataView(object.mem.buffer, object.mem.byteOffset, object.mem.byteLength);
  const base = object.loadBase;
  for (const word of pointerWords) {
    const section = sectionOf(word);
    if (section !== 'data') continue;
    const value = view.getBigUint64(layout.content.data.offset + (word - layout.content.data.addr), true);
    if (value === 0n) continue;
    const rel = value - base;
    const target = rel >= 0n && rel < BigInt(layout.imageSize) ? sectionOf(Number(rel)) : undefined;
    if (target === undefined) {
      throw new DlbindError(
        'EINVAL',
        `the word at 0x${(base + BigInt(word)).toString(16)} was marked with dlreloc but holds 0x${value.toString(16)}, which is not inside the library's text, rodata or data`,
      );
    }
    relocations.push({
      section: 'data',
      offset: word - layout.content.data.addr,
      target,
      targetOffset: Number(rel) - layout.content[target].addr,
    });
  }

  // Import slots become GOT-style words that ld.so fills at load: an undefined symbol each
  // (versioned when it was imported by version) and DT_NEEDED for each provider.
  const needed: string[] = [];
  for (const imp of imports) if (imp.file !== undefined && !needed.includes(imp.file)) needed.push(imp.file);
  const data = sections.data;
  for (const imp of imports) {
    const at = imp.offset - layout.content.data.addr;
    if (at < 0 || at + 8 > data.size || data.content === undefined) throw new DlbindError('EINVAL', `import slot of '${imp.name}' lies outside the saved data`);
    data.content.fill(0, at, at + 8); // this process's address means nothing elsewhere
  }
  const links: ObjectPlan['links'] =
    imports.length === 0
      ? undefined
      : {
          imports: imports.map((imp) => ({
            name: imp.name,
            type: STT_NOTYPE,
            bind: STB_GLOBAL,
            version: imp.file === undefined ? undefined : imp.version,
            file: imp.file,
          })),
          words: imports.map((imp, k) => ({ section: 'data', offset: imp.offset - layout.content.data.addr, import: k, got: true, addend: 0 })),
        };

  return {
    machine: layout.machine,
    soname,
    needed,
    links,
    hashStyle: 'both',
    pageSize: layout.pageSize,
    sections,
    symbols: planSymbols,
    relocations,
    dynamicWritable: true,
    staticSymbols: true,
    // Text and rodata keep their live addresses, so their segments' address-minus-offset differ.
    ehFrameInText: true,
  };
}
