// The shared-object writer. An ObjectPlan says what goes in (sections'
// contents, symbols at section offsets, self-relocations, spare capacity);
// `planLayout` reserves every table and offset; `writeObject` writes them into
// a zero-filled buffer, checking each lands where it was reserved.
import { ByteWriter, HOST_LITTLE_ENDIAN } from './bytes.js';
import {
  DT_GNU_HASH,
  DT_HASH,
  DT_NEEDED,
  DT_NULL,
  DT_RELA,
  DT_RELACOUNT,
  DT_RELAENT,
  DT_RELASZ,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  DYN64_SIZE,
  EHDR64_SIZE,
  ELF64_R_INFO,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_AARCH64,
  EM_X86_64,
  ET_DYN,
  EV_CURRENT,
  PHDR64_SIZE,
  R_AARCH64_RELATIVE,
  R_X86_64_RELATIVE,
  RELA64_SIZE,
  SHDR64_SIZE,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_HASH,
  SHT_NOBITS,
  SHT_NULL,
  SHT_PROGBITS,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_LOCAL,
  SYM64_SIZE,
} from './constants.js';
import { buildEhFrameHdr, EH_FRAME_HDR_ENTRY_SIZE, EH_FRAME_HDR_SIZE } from './eh-frame-hdr.js';
import { buildEhFrame, ehFrameSize } from './eh-frame.js';
import { writeDyn, writeEhdr, writePhdr, writeRela, writeShdr, writeSymWords } from './encode.js';
import { ElfBuildError } from './errors.js';
import { GNU_BLOOM_SHIFT, elfHashString, gnuBloomWords, gnuBucketCount, sysvBucketCount, sysvBucketCountBesideGnu } from './hash.js';
import { type PlanColumns, SECTION_CODE, columnsOf, symbolAt } from './columns.js';
import { CONTENT_SECTIONS, type ContentSectionName, type ExtraSection, type Layout, type LayoutRequest, layoutObject } from './layout.js';
import { type PlanLinks, PreparedLinks } from './links.js';
import {
  kernelChainSysv,
  kernelFillGnu,
  kernelFirstOutside,
  kernelGnuOrder,
  kernelMarkUsed,
  kernelNumberInOrder,
  kernelSplitExported,
  kernelSymbolEntries,
} from './kernels.js';
import { StringTableBuilder } from './strtab.js';
import type { DynamicEntry, Machine } from './types.js';

/** Which symbol hash tables to write: DT_HASH ('sysv'), DT_GNU_HASH ('gnu') or both. */
export type HashStyle = 'sysv' | 'gnu' | 'both';

/** One content section of an ObjectPlan. */
export interface PlanSection {
  /** Size in memory (and in the file, except .bss). */
  size: number;
  /** Alignment of the section's address (a power of two). */
  align: number;
  /** Force the section's address (page-aligned); its file offset stays packed. */
  addr?: number;
  /** Initial bytes at the start of the section; the rest is zero. */
  content?: Uint8Array;
}

/** One symbol of an ObjectPlan, placed at an offset in its section. */
export interface PlanSymbol {
  /** The symbol's name. */
  name: string;
  /** The section it is defined in. */
  section: ContentSectionName;
  /** Offset from the start of its section. */
  offset: number;
  /** st_size. */
  size: number;
  /** STT_* */
  type: number;
  /** STB_* (STB_LOCAL symbols go to .symtab only). */
  bind: number;
  /** STV_* */
  visibility: number;
  /** Call-frame instructions after the CIE's initial rules: the symbol gets an FDE in .eh_frame (text only). */
  unwind?: Uint8Array;
}

/** A pointer-sized word at `section+offset` that must hold the run-time address of `target+targetOffset`. */
export interface PlanRelocation {
  /** The section holding the pointer. */
  section: ContentSectionName;
  /** The pointer's offset in that section. */
  offset: number;
  /** The section pointed into. */
  target: ContentSectionName;
  /** The offset pointed to in `target`. */
  targetOffset: number;
}

/** The writer's input: sections, symbols and relocations already placed (planSharedObject makes one from a spec). */
export interface ObjectPlan {
  /** The target architecture. */
  machine: Machine;
  /** DT_SONAME, if any. */
  soname?: string;
  /** DT_NEEDED entries, in order. */
  needed: readonly string[];
  /** Which hash tables to write: DT_HASH, DT_GNU_HASH or both. */
  hashStyle: HashStyle;
  /** The page size segments are aligned to (4 KiB, 16 KiB or 64 KiB). */
  pageSize: number;
  /** .text, .rodata, .data and .bss. */
  sections: Record<ContentSectionName, PlanSection>;
  /** Every symbol, in .dynsym order. */
  symbols: readonly PlanSymbol[];
  /**
   * The symbols as columns, when the plan was made that way (planSharedObject does): the writer
   * then reads these, not `symbols` (which planSharedObject's plans make on first read, as a view).
   */
  columns?: PlanColumns;
  /** Pointers between the object's own sections. */
  relocations: readonly PlanRelocation[];
  /** Put .dynamic in a writable segment (as GNU ld does), so that debuggers find DT_DEBUG filled in. */
  dynamicWritable: boolean;
  /** Write .symtab/.strtab (for debuggers and `nm` without -D). */
  staticSymbols: boolean;
  /** Pack file offsets (see LayoutRequest); by default when pageSize exceeds 4 KiB. A live library's zygote never does. */
  packFileOffsets?: boolean;
  /** Spare room for symbols bound later: total .dynsym slots, the null symbol included. */
  dynsymCapacity?: number;
  /** Spare room for names bound later: total .dynstr bytes. */
  dynstrCapacity?: number;
  /** SysV nbucket, fixed for the table's life. */
  sysvBuckets?: number;
  /** GNU nbuckets and 64-bit bloom words (a power of two), fixed for the table's life; the chain then covers every slot of dynsymCapacity. */
  gnuBuckets?: number;
  /** The GNU bloom filter's 64-bit word count (a power of two), fixed for the table's life. */
  gnuBloomWords?: number;
  /** @deprecated Not read any more: the writer hashes each name's bytes once (kept so that older plans still type-check). */
  nameHashes?: Uint32Array;
  /** Imports, GOT/PLT, versions, code references, RELR, build-id, runpath, flags. */
  links?: PlanLinks;
  /**
   * Reserve .eh_frame_hdr and .eh_frame of at least these sizes even when no
   * symbol has unwind rules (a live library fills them later).
   */
  ehFrameHdrCapacity?: number;
  /** Reserved .eh_frame bytes (with `ehFrameHdrCapacity`). */
  ehFrameCapacity?: number;
  /** Put .eh_frame_hdr and .eh_frame after .text, in the executable segment (see LayoutRequest.ehFrameInText). */
  ehFrameInText?: boolean;
}

/** What the writer decided: where every table and section is, for readers and for in-place patching. */
export interface ObjectLayout extends Layout {
  /** The target architecture. */
  machine: Machine;
  /** Section header index of each content section (what st_shndx holds). */
  sectionIndex: Record<ContentSectionName, number>;
  /** .dynsym index of each plan symbol, or -1 for symbols that are not exported. */
  dynsymIndex: Int32Array;
  /** Slots of .dynsym in use (null symbol included) and its capacity. */
  dynsymUsed: number;
  /** Total .dynsym slots. */
  dynsymCapacity: number;
  /** Bytes of .dynstr in use and its capacity (DT_STRSZ). */
  dynstrUsed: number;
  /** Total .dynstr bytes. */
  dynstrCapacity: number;
  /** DT_HASH's nbucket (0 without the table). */
  sysvBuckets: number;
  /** DT_GNU_HASH's nbuckets (0 without the table). */
  gnuBuckets: number;
}

const MACHINES: Record<Machine, { e_machine: number; relative: number }> = {
  x86_64: { e_machine: EM_X86_64, relative: R_X86_64_RELATIVE },
  aarch64: { e_machine: EM_AARCH64, relative: R_AARCH64_RELATIVE },
};

/** A plan with every table and offset reserved: what `writeObject` writes. */
export interface PreparedObject {
  plan: ObjectPlan;
  /** The plan's symbols as columns (plan.columns, or made from plan.symbols). */
  columns: PlanColumns;
  layout: ObjectLayout;
  dynstr: StringTableBuilder;
  strtab: StringTableBuilder | undefined;
  shstrtab: StringTableBuilder;
  shstrIds: Map<string, number>;
  /** Plan indexes of exported symbols in .dynsym order (slot 1 first). */
  dynOrder: Int32Array;
  gnuHashes: Uint32Array;
  /** Plan indexes of the local symbols, in .symtab order (the globals follow, as in .dynsym). */
  staticOrder: Int32Array;
  staticLocals: number;
  /** .dynstr's id of the first exported name; the others follow in .dynsym order. */
  firstNameId: number;
  /** The local table's id of the first local name; the others follow in .symtab order. */
  firstStaticNameId: number;
  dynamic: DynamicEntry[];
  sonameId: number;
  gnuBloomWordsCount: number;
  content: LayoutRequest['content'];
  links?: PreparedLinks;
  extras: readonly ExtraSection[];
  /** Plan indexes of the symbols that get an FDE, in symbol order. */
  unwindSymbols: number[];
}

// The per-symbol loops of prepareObject, each a function of its own: V8 optimizes a long loop
// while it runs (on-stack replacement), and a loop alone in its function is compiled quickly and
// left without a deoptimization, where one inside prepareObject recompiled the whole function
// for each loop and deoptimized on leaving each.

/** Writes the exported symbols' indexes (of the first `n`) to the front of `split` and the locals' to the back (last first); returns how many are exported. */
function splitExported(info: Uint8Array, n: number, split: Int32Array): number {
  const exported = kernelSplitExported(info, n, split);
  if (exported >= 0) return exported;
  let dynCount = 0;
  let locals = n;
  for (let i = 0; i < n; i++) {
    if (info[i]! >> 4 !== STB_LOCAL) split[dynCount++] = i;
    else split[--locals] = i;
  }
  return dynCount;
}

/** Counting sort of `exported` by GNU bucket (stable, linear) into `order`, with each one's hash in `sortedHashes`. */
function gnuBucketOrder(hashes: Uint32Array, exported: Int32Array, nbuckets: number, order: Int32Array, sortedHashes: Uint32Array): void {
  // One loop a function (see splitExported): a loop that follows another in the same function
  // has no type feedback when the first one's optimized code reaches it, and deoptimizes there.
  if (kernelGnuOrder(hashes, exported, nbuckets, order, sortedHashes)) return;
  const counts = new Uint32Array(nbuckets + 1);
  countBuckets(hashes, exported, nbuckets, counts);
  prefixSums(counts, nbuckets);
  scatterByBucket(hashes, exported, nbuckets, counts, order, sortedHashes);
}

function countBuckets(hashes: Uint32Array, exported: Int32Array, nbuckets: number, counts: Uint32Array): void {
  for (let k = 0; k < exported.length; k++) counts[(hashes[exported[k]!]! % nbuckets) + 1]!++;
}

function prefixSums(counts: Uint32Array, nbuckets: number): void {
  for (let b = 0; b < nbuckets; b++) counts[b + 1]! += counts[b]!;
}

function scatterByBucket(hashes: Uint32Array, exported: Int32Array, nbuckets: number, counts: Uint32Array, order: Int32Array, sortedHashes: Uint32Array): void {
  for (let k = 0; k < exported.length; k++) {
    const i = exported[k]!;
    const h = hashes[i]!;
    const at = counts[h % nbuckets]!++;
    order[at] = i;
    sortedHashes[at] = h;
  }
}

/** Numbers the symbols of `order` from `first` in `index` (their table index), the others -1. */
function numberInOrder(order: Int32Array, index: Int32Array, first: number): void {
  if (kernelNumberInOrder(order, index, first)) return;
  index.fill(-1);
  for (let k = 0; k < order.length; k++) index[order[k]!] = first + k;
}

/** Marks each section code that some symbol uses. */
function markUsed(codes: Uint8Array, n: number, used: Uint8Array): void {
  if (kernelMarkUsed(codes, n, used)) return;
  for (let i = 0; i < n; i++) used[codes[i]!] = 1;
}

/** The first symbol whose bytes do not lie inside its section, or -1. */
function firstOutside(codes: Uint8Array, n: number, offsets: Float64Array, sizes: Float64Array, sectionSizes: readonly number[]): number {
  const outside = kernelFirstOutside(codes, n, offsets, sizes, sectionSizes);
  if (outside !== -2) return outside;
  for (let i = 0; i < n; i++) {
    const o = offsets[i]!;
    const z = sizes[i]!;
    if (!(o >= 0 && z >= 0 && o + z <= sectionSizes[codes[i]!]!)) return i;
  }
  return -1;
}

/**
 * Reserves every table and offset for a plan. Call `writeObject` with the
 * result to produce the bytes; the layout alone is what the loader needs.
 */
export function prepareObject(plan: ObjectPlan): PreparedObject {
  const m = MACHINES[plan.machine];
  if (m === undefined) throw new ElfBuildError(`unsupported machine '${String(plan.machine)}'`, 'machine');
  const cols = plan.columns ?? columnsOf(plan.symbols);
  const n = cols.count;
  const info = cols.info;
  const names = cols.names;

  // Exported symbols, and their GNU hash order when a GNU table is written.
  // One pass sorts exported from local: exported from the front, locals from the back (reversed, turned round below).
  const split = new Int32Array(n);
  const dynCount = splitExported(info, n, split);
  const exported = split.subarray(0, dynCount);
  const useGnu = plan.hashStyle !== 'sysv';
  const useSysv = plan.hashStyle !== 'gnu';
  const gnuBuckets = useGnu ? (plan.gnuBuckets ?? gnuBucketCount(dynCount)) : 0;
  const gnuHashes = new Uint32Array(dynCount);
  let dynOrder = exported;
  if (useGnu) {
    dynOrder = new Int32Array(dynCount);
    gnuBucketOrder(names.gnu, exported, gnuBuckets, dynOrder, gnuHashes);
  }

  const dynstr = new StringTableBuilder();
  const sonameId = plan.soname !== undefined ? dynstr.add(plan.soname) : -1;
  const neededIds = plan.needed.map((s) => dynstr.add(s));
  const links = plan.links !== undefined ? new PreparedLinks(plan, plan.links, dynstr, cols) : undefined;
  const imported = links?.importCount ?? 0;
  const firstName = dynstr.addColumn(names, dynOrder);
  const dynsymIndex = new Int32Array(n);
  numberInOrder(dynOrder, dynsymIndex, 1 + imported);
  const dynstrUsed = dynstr.finish();
  const dynstrCapacity = Math.max(dynstrUsed, plan.dynstrCapacity ?? 0);
  const dynsymUsed = dynCount + 1 + imported;
  const dynsymCapacity = Math.max(dynsymUsed, plan.dynsymCapacity ?? 0);
  const sysvBuckets = useSysv ? (plan.sysvBuckets ?? (useGnu ? sysvBucketCountBesideGnu : sysvBucketCount)(dynsymCapacity)) : 0;
  const bloomWords = useGnu ? (plan.gnuBloomWords ?? gnuBloomWords(dynCount)) : 0;

  // .strtab is .dynstr's bytes followed by the names of local symbols: the
  // exported names, the bulk of it, are then one copy and keep their offsets.
  let strtab: StringTableBuilder | undefined;
  let staticOrder = new Int32Array(0);
  let staticLocals = 0;
  let firstStaticName = 0;
  let strtabSize = 0;
  const strtabLocalBase = dynstrUsed - 1; // the local table's leading NUL lands on .dynstr's last terminator
  if (plan.staticSymbols) {
    strtab = new StringTableBuilder();
    staticOrder = split.subarray(dynCount).reverse();
    firstStaticName = strtab.addColumn(names, staticOrder);
    staticLocals = staticOrder.length + 1;
    strtabSize = strtabLocalBase + strtab.finish();
  }

  const shstrtab = new StringTableBuilder();
  const shstrIds = new Map<string, number>();
  for (const name of [
    '.hash',
    '.gnu.hash',
    '.dynsym',
    '.dynstr',
    '.rela.dyn',
    '.dynamic',
    '.text',
    '.rodata',
    '.data',
    '.bss',
    '.symtab',
    '.strtab',
    '.shstrtab',
    ...(links?.sectionNames ?? []),
  ]) {
    shstrIds.set(name, shstrtab.add(name));
  }
  const unwindSymbols: number[] = [];
  const unwind = cols.unwind;
  if (unwind !== undefined) {
    for (let i = 0; i < n; i++) {
      if (unwind[i] === undefined) continue;
      if (cols.section[i] !== SECTION_CODE.text) throw new ElfBuildError('unwind rules are for functions in text', `symbols[${i}].unwind`);
      unwindSymbols.push(i);
    }
  }
  const ehFrameHdrSize = Math.max(
    unwindSymbols.length > 0 ? EH_FRAME_HDR_SIZE + unwindSymbols.length * EH_FRAME_HDR_ENTRY_SIZE : 0,
    plan.ehFrameHdrCapacity ?? 0,
  );
  const ehSize = Math.max(
    ehFrameHdrSize > 0
      ? ehFrameSize(
          plan.machine,
          unwindSymbols.map((i) => unwind![i]!.length),
        )
      : 0,
    plan.ehFrameCapacity ?? 0,
  );
  if (ehFrameHdrSize > 0) for (const name of ['.eh_frame_hdr', '.eh_frame']) shstrIds.set(name, shstrtab.add(name));
  shstrtab.finish();

  const dynamic: DynamicEntry[] = [];
  for (const id of neededIds) dynamic.push({ d_tag: DT_NEEDED, d_val: BigInt(id) });
  if (sonameId >= 0) dynamic.push({ d_tag: DT_SONAME, d_val: BigInt(sonameId) });
  if (useSysv) dynamic.push({ d_tag: DT_HASH, d_val: 0n });
  if (useGnu) dynamic.push({ d_tag: DT_GNU_HASH, d_val: 0n });
  dynamic.push({ d_tag: DT_STRTAB, d_val: 0n });
  dynamic.push({ d_tag: DT_SYMTAB, d_val: 0n });
  dynamic.push({ d_tag: DT_STRSZ, d_val: BigInt(dynstrCapacity) });
  dynamic.push({ d_tag: DT_SYMENT, d_val: BigInt(SYM64_SIZE) });
  const relaCount = links?.relaCount ?? plan.relocations.length;
  const relativeCount = links?.relativeRelaCount ?? plan.relocations.length;
  if (relaCount > 0) {
    dynamic.push({ d_tag: DT_RELA, d_val: 0n });
    dynamic.push({ d_tag: DT_RELASZ, d_val: BigInt(relaCount * RELA64_SIZE) });
    dynamic.push({ d_tag: DT_RELAENT, d_val: BigInt(RELA64_SIZE) });
    if (relativeCount > 0) dynamic.push({ d_tag: DT_RELACOUNT, d_val: BigInt(relativeCount) });
  }
  if (links) dynamic.push(...links.dynamicEntries());
  dynamic.push({ d_tag: DT_NULL, d_val: 0n });

  // An empty content section gets a header only when a (zero-size) symbol needs its index.
  const referenced = new Uint8Array(CONTENT_SECTIONS.length);
  const sectionCodes = cols.section;
  markUsed(sectionCodes, n, referenced);
  const content = {} as LayoutRequest['content'];
  for (const name of CONTENT_SECTIONS) {
    const s = plan.sections[name];
    content[name] = { size: s.size, align: s.align, addr: s.addr, present: s.size > 0 || referenced[SECTION_CODE[name]] === 1 };
  }
  const req: LayoutRequest = {
    pageSize: plan.pageSize,
    sysvHashSize: useSysv ? (2 + sysvBuckets + dynsymCapacity) * 4 : 0,
    gnuHashSize: useGnu ? 16 + bloomWords * 8 + gnuBuckets * 4 + (dynsymCapacity - 1 - imported) * 4 : 0,
    dynsymCount: dynsymCapacity,
    dynstrSize: dynstrCapacity,
    relaCount,
    dynamicCount: dynamic.length,
    dynamicWritable: plan.dynamicWritable,
    packFileOffsets: plan.packFileOffsets ?? plan.pageSize > 4096,
    content,
    symtabCount: plan.staticSymbols ? staticLocals + dynCount + imported : 0,
    strtabSize,
    shstrtabSize: shstrtab.byteSize,
    extra: links?.extraSections(dynsymCapacity),
    ehFrameHdrSize,
    ehFrameSize: ehSize,
    ehFrameInText: plan.ehFrameInText,
  };
  let base = layoutObject(req);
  if (links?.settleRelr(base)) {
    req.extra = links.extraSections(dynsymCapacity);
    base = layoutObject(req);
    if (links.settleRelr(base)) throw new ElfBuildError('internal layout error: .relr.dyn did not settle');
  }
  links?.fillDynamic(dynamic, base, dynstr);
  const a = (p: { addr: number } | undefined): bigint => BigInt(p?.addr ?? 0);
  for (const d of dynamic) {
    if (d.d_tag === DT_HASH) d.d_val = a(base.sysvHash);
    else if (d.d_tag === DT_GNU_HASH) d.d_val = a(base.gnuHash);
    else if (d.d_tag === DT_STRTAB) d.d_val = a(base.dynstr);
    else if (d.d_tag === DT_SYMTAB) d.d_val = a(base.dynsym);
    else if (d.d_tag === DT_RELA) d.d_val = a(base.rela);
    else if (d.d_tag === DT_NEEDED || d.d_tag === DT_SONAME) d.d_val = BigInt(dynstr.offsetOf(Number(d.d_val)));
  }

  const extras = req.extra ?? [];
  const sectionIndex = sectionIndexes(plan, base, content, extras);
  const sectionSizes = CONTENT_SECTIONS.map((name) => plan.sections[name].size);
  const offsets = cols.offset;
  const sizes = cols.size;
  const outside = firstOutside(sectionCodes, n, offsets, sizes, sectionSizes);
  if (outside >= 0) {
    const i = outside;
    const sym = symbolAt(cols, i);
    throw new ElfBuildError(
      `symbol '${sym.name}' [${offsets[i]}, +${sizes[i]}) lies outside .${sym.section} (${sectionSizes[sectionCodes[i]!]} bytes)`,
      `symbols[${i}]`,
    );
  }
  const layout: ObjectLayout = {
    ...base,
    machine: plan.machine,
    sectionIndex,
    dynsymIndex,
    dynsymUsed,
    dynsymCapacity,
    dynstrUsed,
    dynstrCapacity,
    sysvBuckets,
    gnuBuckets,
  };
  return {
    plan,
    columns: cols,
    layout,
    dynstr,
    strtab,
    shstrtab,
    shstrIds,
    dynOrder,
    gnuHashes,
    staticOrder,
    staticLocals,
    firstNameId: firstName,
    firstStaticNameId: firstStaticName,
    dynamic,
    sonameId,
    gnuBloomWordsCount: bloomWords,
    content,
    links,
    extras,
    unwindSymbols,
  };
}

interface SectionEntry {
  key: string;
  index: number;
}

/**
 * A Uint32Array over 4-byte-aligned words of the output: the big tables are
 * filled with native 32-bit stores. ELF here is little-endian; on a big-endian
 * host the regions handed out are byte-swapped once everything is written.
 */
function words(out: Uint8Array, offset: number, count: number): Uint32Array {
  if ((out.byteOffset + offset) % 4 !== 0) throw new ElfBuildError('internal layout error: unaligned table');
  if (!HOST_LITTLE_ENDIAN) nativeRegions.push([offset, count]);
  return new Uint32Array(out.buffer, out.byteOffset + offset, count);
}
const nativeRegions: [number, number][] = [];

function swapNativeRegions(out: Uint8Array): void {
  for (const [offset, count] of nativeRegions.splice(0)) {
    const v = new DataView(out.buffer, out.byteOffset + offset, count * 4);
    for (let k = 0; k < count * 4; k += 4) v.setUint32(k, v.getUint32(k, false), true);
  }
}

/** Section header order: null, the metadata tables, then content, then non-allocated tables. */
function sectionOrder(plan: ObjectPlan, layout: Layout, content: LayoutRequest['content'], extras: readonly ExtraSection[]): SectionEntry[] {
  const keys: string[] = [''];
  const extra = (segment: ExtraSection['segment']) => {
    for (const e of extras) if (e.segment === segment) keys.push(e.key);
  };
  if (layout.sysvHash) keys.push('.hash');
  if (layout.gnuHash) keys.push('.gnu.hash');
  keys.push('.dynsym', '.dynstr');
  if (layout.rela) keys.push('.rela.dyn');
  extra('meta');
  if (!plan.dynamicWritable) keys.push('.dynamic');
  for (const name of ['text', 'rodata', 'data'] as const) {
    if (name === 'data') extra('relro');
    if (content[name].present) keys.push(`.${name}`);
    if (name !== 'data') extra(name);
    if (layout.ehFrameHdr && name === (layout.ehFrameHdr.addr < layout.content.rodata.addr ? 'text' : 'rodata')) keys.push('.eh_frame_hdr', '.eh_frame');
  }
  if (plan.dynamicWritable) keys.push('.dynamic');
  extra('data');
  if (content.bss.present) keys.push('.bss');
  if (layout.symtab) keys.push('.symtab', '.strtab');
  keys.push('.shstrtab');
  return keys.map((key, index) => ({ key, index }));
}

function sectionIndexes(
  plan: ObjectPlan,
  layout: Layout,
  content: LayoutRequest['content'],
  extras: readonly ExtraSection[],
): Record<ContentSectionName, number> {
  const order = sectionOrder(plan, layout, content, extras);
  const find = (k: string) => order.find((e) => e.key === k)?.index ?? 0;
  return { text: find('.text'), rodata: find('.rodata'), data: find('.data'), bss: find('.bss') };
}

/**
 * Writes the Elf64_Sym of `order[k]` at entry `firstWord / 6 + k`, named at `nameBase` plus
 * string `firstName + k` of `nameOffsets`. A function of its own, so that V8 optimizes the loop
 * by itself while it runs (see splitExported).
 */
function writeSymbolEntries(
  table: Uint32Array,
  firstWord: number,
  order: Int32Array,
  nameOffsets: Uint32Array,
  firstName: number,
  nameBase: number,
  cols: PlanColumns,
  sectionShndx: readonly number[],
  sectionAddr: readonly number[],
): void {
  if (kernelSymbolEntries(table, firstWord, order, nameOffsets, firstName, nameBase, cols, sectionShndx, sectionAddr)) return;
  const { section, offset, size, info, other } = cols;
  for (let k = 0, word = firstWord; k < order.length; k++, word += 6) {
    const i = order[k]!;
    const code = section[i]!;
    writeSymWords(table, word, nameBase + nameOffsets[firstName + k]!, info[i]!, other[i]!, sectionShndx[code]!, sectionAddr[code]! + offset[i]!, size[i]!);
  }
}

/** Links symbols `first`, `first + 1`, ... (`order`'s, by their SysV hashes) at the head of their bucket's chain, in order: as the live binder does. */
function chainSysv(sysv: Uint32Array, order: Int32Array, first: number, buckets: Uint32Array, chains: Uint32Array): void {
  if (kernelChainSysv(sysv, order, first, buckets, chains)) return;
  const nbucket = buckets.length;
  for (let k = 0; k < order.length; k++) {
    const symIndex = k + first;
    const b = sysv[order[k]!]! % nbucket;
    chains[symIndex] = buckets[b]!;
    buckets[b] = symIndex;
  }
}

/** The GNU table's bloom words, buckets and chain for symbols `first`, `first + 1`, ... with these hashes (sorted by bucket). */
function fillGnuHash(hashes: Uint32Array, first: number, bloom: Uint32Array, bloomWords: number, buckets: Uint32Array, chain: Uint32Array): void {
  if (kernelFillGnu(hashes, first, bloom, bloomWords, buckets, chain)) return;
  const nbuckets = buckets.length;
  const count = hashes.length;
  for (let k = 0; k < count; k++) {
    const h = hashes[k]!;
    const word = (Math.floor(h / 64) % bloomWords) * 2;
    const bit1 = h % 64;
    const bit2 = (h >>> GNU_BLOOM_SHIFT) % 64;
    bloom[word + (bit1 >>> 5)]! |= 1 << (bit1 & 31);
    bloom[word + (bit2 >>> 5)]! |= 1 << (bit2 & 31);
    const b = h % nbuckets;
    if (buckets[b] === 0) buckets[b] = k + first;
    const last = k + 1 === count || hashes[k + 1]! % nbuckets !== b;
    chain[k] = last ? h | 1 : h & ~1;
  }
}

/** Writes a prepared object into `out` (at least `layout.fileSize` bytes, zero-filled). */
export function writeObject(p: PreparedObject, out: Uint8Array): void {
  const { plan, layout } = p;
  if (out.length < layout.fileSize) throw new ElfBuildError(`output buffer is ${out.length} bytes, the object needs ${layout.fileSize}`);
  const w = new ByteWriter(out);
  const order = sectionOrder(plan, layout, p.content, p.extras);
  const index = (k: string) => order.find((e) => e.key === k)?.index ?? 0;

  writeEhdr(w.seek(0), {
    ei_class: ELFCLASS64,
    ei_data: ELFDATA2LSB,
    ei_osabi: 0,
    ei_abiversion: 0,
    e_type: ET_DYN,
    e_machine: MACHINES[plan.machine].e_machine,
    e_version: EV_CURRENT,
    e_entry: 0n,
    e_phoff: BigInt(EHDR64_SIZE),
    e_shoff: BigInt(layout.shoff),
    e_flags: 0,
    e_ehsize: EHDR64_SIZE,
    e_phentsize: PHDR64_SIZE,
    e_phnum: layout.phnum,
    e_shentsize: SHDR64_SIZE,
    e_shnum: order.length,
    e_shstrndx: index('.shstrtab'),
  });
  for (const s of layout.segments) {
    writePhdr(w, {
      p_type: s.p_type,
      p_flags: s.p_flags,
      p_offset: BigInt(s.offset),
      p_vaddr: BigInt(s.addr),
      p_paddr: BigInt(s.addr),
      p_filesz: BigInt(s.filesz),
      p_memsz: BigInt(s.memsz),
      p_align: BigInt(s.align),
    });
  }
  w.expectAt(EHDR64_SIZE + layout.phnum * PHDR64_SIZE, 'program headers');

  const cols = p.columns;
  const view = w.view;
  const sectionAddr = CONTENT_SECTIONS.map((name) => layout.content[name].addr);
  const sectionShndx = CONTENT_SECTIONS.map((name) => layout.sectionIndex[name]);
  const sectionCodes = cols.section;
  const offsets = cols.offset;
  const sizes = cols.size;
  const addrOf = (i: number): number => sectionAddr[sectionCodes[i]!]! + offsets[i]!;
  // .dynsym: slot 0 stays the null symbol; spare capacity stays zero.
  const dynCount = p.dynOrder.length;
  const imported = p.links?.importCount ?? 0;
  const dynsymWords = words(out, layout.dynsym.offset, (dynCount + 1 + imported) * (SYM64_SIZE / 4));
  const dynstr = p.dynstr;
  writeSymbolEntries(dynsymWords, (1 + imported) * 6, p.dynOrder, dynstr.offsetList(), p.firstNameId, 0, cols, sectionShndx, sectionAddr);
  p.dynstr.write(out, layout.dynstr.offset);
  p.links?.writeImportSymbols(view, layout.dynsym.offset, p.dynstr);

  if (layout.sysvHash) {
    const nbucket = layout.sysvBuckets;
    const nchain = layout.dynsymCapacity;
    const hw = w.seek(layout.sysvHash.offset);
    hw.u32(nbucket).u32(nchain);
    const buckets = words(out, layout.sysvHash.offset + 8, nbucket);
    const chains = words(out, layout.sysvHash.offset + 8 + nbucket * 4, nchain);
    // Inserting at the head of each chain, in .dynsym order, is what the live binder does too.
    for (let k = 0; k < imported; k++) {
      const b = elfHashString(p.links!.imports[k]!.name) % nbucket;
      chains[k + 1] = buckets[b]!;
      buckets[b] = k + 1;
    }
    chainSysv(cols.names.sysv, p.dynOrder, 1 + imported, buckets, chains);
  }

  if (layout.gnuHash) {
    const nbuckets = layout.gnuBuckets;
    const bloomWords = p.gnuBloomWordsCount;
    const base = layout.gnuHash.offset;
    const hw = w.seek(base);
    // Imports come first in .dynsym and are not hashed: symoffset skips them.
    hw.u32(nbuckets)
      .u32(1 + imported)
      .u32(bloomWords)
      .u32(GNU_BLOOM_SHIFT); // nbuckets, symoffset, bloom_size, bloom_shift
    // Bloom words are 64-bit little-endian: handled as pairs of 32-bit halves to stay in number arithmetic.
    const bloom = words(out, base + 16, bloomWords * 2);
    const buckets = words(out, base + 16 + bloomWords * 8, nbuckets);
    const chain = words(out, base + 16 + bloomWords * 8 + nbuckets * 4, dynCount);
    fillGnuHash(p.gnuHashes, 1 + imported, bloom, bloomWords, buckets, chain);
  }

  for (const name of CONTENT_SECTIONS) {
    const c = plan.sections[name].content;
    if (name === 'bss' || c === undefined || c.length === 0) continue;
    if (c.length > plan.sections[name].size) throw new ElfBuildError(`.${name} content is larger than the section`);
    out.set(c, layout.content[name].offset);
  }

  if (layout.rela && !p.links) {
    w.seek(layout.rela.offset);
    const type = MACHINES[plan.machine].relative;
    for (const r of plan.relocations) {
      const sec = plan.sections[r.section];
      if (r.offset < 0 || r.offset + 8 > sec.size) throw new ElfBuildError(`relocation at .${r.section}+${r.offset} lies outside the section`, 'relocations');
      const where = BigInt(layout.content[r.section].addr + r.offset);
      const target = BigInt(layout.content[r.target].addr + r.targetOffset);
      writeRela(w, where, ELF64_R_INFO(0, type), target);
      // The word itself holds the link-time value too, as GNU ld writes it, for readers that skip relocations.
      if (r.section !== 'bss') view.setBigUint64(layout.content[r.section].offset + r.offset, target, true);
    }
  }

  p.links?.write(out, layout, p.dynstr, p.dynOrder, BigInt(layout.dynamic.addr));

  w.seek(layout.dynamic.offset);
  for (const d of p.dynamic) writeDyn(w, d);
  w.expectAt(layout.dynamic.offset + layout.dynamic.size, '.dynamic');

  if (layout.ehFrameHdr && layout.ehFrame && p.unwindSymbols.length > 0) {
    const fdes = p.unwindSymbols.map((i) => ({ pcBegin: addrOf(i), pcRange: sizes[i]!, instructions: cols.unwind![i]! }));
    const eh = buildEhFrame(plan.machine, layout.ehFrame.addr, fdes);
    out.set(eh.bytes, layout.ehFrame.offset);
    const hdr = buildEhFrameHdr(
      layout.ehFrameHdr.addr,
      layout.ehFrame.addr,
      fdes.map((f, k) => ({ pc: f.pcBegin, fde: eh.fdeAt[k]! })),
    );
    out.set(hdr, layout.ehFrameHdr.offset);
  }

  if (layout.symtab && layout.strtab && p.strtab) {
    const symtabWords = words(out, layout.symtab.offset, layout.symtab.size / 4);
    const localBase = layout.dynstrUsed - 1;
    const strtab = p.strtab;
    writeSymbolEntries(symtabWords, 6, p.staticOrder, strtab.offsetList(), p.firstStaticNameId, localBase, cols, sectionShndx, sectionAddr);
    // The globals are .dynsym's entries byte for byte: .strtab starts with .dynstr's bytes.
    const globals = layout.dynsym.offset + SYM64_SIZE;
    out.copyWithin(layout.symtab.offset + p.staticLocals * SYM64_SIZE, globals, globals + (imported + dynCount) * SYM64_SIZE);
    out.copyWithin(layout.strtab.offset, layout.dynstr.offset, layout.dynstr.offset + layout.dynstrUsed);
    p.strtab.write(out, layout.strtab.offset + localBase);
  }
  p.shstrtab.write(out, layout.shstrtab.offset);

  w.seek(layout.shoff);
  const name = (k: string) => p.shstrtab.offsetOf(p.shstrIds.get(k)!);
  const dynsymIndex = index('.dynsym');
  const dynstrIndex = index('.dynstr');
  for (const e of order) {
    const k = e.key;
    const section = (
      sh_type: number,
      sh_flags: number,
      pl: { offset: number; addr: number; size: number; align: number },
      sh_link = 0,
      sh_info = 0,
      sh_entsize = 0,
    ) =>
      writeShdr(w, {
        name: k,
        sh_name: name(k),
        sh_type,
        sh_flags: BigInt(sh_flags),
        sh_addr: BigInt(pl.addr),
        sh_offset: BigInt(pl.offset),
        sh_size: BigInt(pl.size),
        sh_link,
        sh_info,
        sh_addralign: BigInt(pl.align),
        sh_entsize: BigInt(sh_entsize),
      });
    switch (k) {
      case '':
        writeShdr(w, {
          name: '',
          sh_name: 0,
          sh_type: SHT_NULL,
          sh_flags: 0n,
          sh_addr: 0n,
          sh_offset: 0n,
          sh_size: 0n,
          sh_link: 0,
          sh_info: 0,
          sh_addralign: 0n,
          sh_entsize: 0n,
        });
        break;
      case '.hash':
        section(SHT_HASH, SHF_ALLOC, layout.sysvHash!, dynsymIndex, 0, 4);
        break;
      case '.gnu.hash':
        section(SHT_GNU_HASH, SHF_ALLOC, layout.gnuHash!, dynsymIndex, 0, 0);
        break;
      case '.dynsym':
        section(SHT_DYNSYM, SHF_ALLOC, layout.dynsym, dynstrIndex, 1, SYM64_SIZE);
        break;
      case '.dynstr':
        section(SHT_STRTAB, SHF_ALLOC, layout.dynstr);
        break;
      case '.rela.dyn':
        section(SHT_RELA, SHF_ALLOC, layout.rela!, dynsymIndex, 0, RELA64_SIZE);
        break;
      case '.dynamic':
        section(SHT_DYNAMIC, plan.dynamicWritable ? SHF_ALLOC | SHF_WRITE : SHF_ALLOC, layout.dynamic, dynstrIndex, 0, DYN64_SIZE);
        break;
      case '.text':
        section(SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, layout.content.text);
        break;
      case '.rodata':
        section(SHT_PROGBITS, SHF_ALLOC, layout.content.rodata);
        break;
      case '.eh_frame_hdr':
        section(SHT_PROGBITS, SHF_ALLOC, layout.ehFrameHdr!);
        break;
      case '.eh_frame':
        section(SHT_PROGBITS, SHF_ALLOC, layout.ehFrame!);
        break;
      case '.data':
        section(SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, layout.content.data);
        break;
      case '.bss':
        section(SHT_NOBITS, SHF_ALLOC | SHF_WRITE, layout.content.bss);
        break;
      case '.symtab':
        section(SHT_SYMTAB, 0, layout.symtab!, index('.strtab'), p.staticLocals, SYM64_SIZE);
        break;
      case '.strtab':
        section(SHT_STRTAB, 0, layout.strtab!);
        break;
      case '.shstrtab':
        section(SHT_STRTAB, 0, layout.shstrtab);
        break;
      default: {
        const h = p.links?.sectionHeader(k, index);
        if (h === undefined) throw new ElfBuildError(`internal error: no header for section '${k}'`);
        section(h.sh_type, h.sh_flags, layout.extra[k]!, h.sh_link, h.sh_info, h.sh_entsize);
      }
    }
  }
  w.expectAt(layout.fileSize, 'section headers');
  if (!HOST_LITTLE_ENDIAN) swapNativeRegions(out);
  p.links?.finish(out, layout);
}
