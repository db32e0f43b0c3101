// The layout engine: decides every offset and address of a shared object
// before a byte is written (reserve, then write). It knows nothing about
// symbols beyond how many there are and how big the tables must be.
import { alignUp } from './bytes.js';
import {
  DYN64_SIZE,
  EHDR64_SIZE,
  PF_R,
  PF_W,
  PF_X,
  PHDR64_SIZE,
  PT_DYNAMIC,
  PT_GNU_EH_FRAME,
  PT_GNU_RELRO,
  PT_GNU_STACK,
  PT_LOAD,
  PT_NOTE,
  RELA64_SIZE,
  SHDR64_SIZE,
  SYM64_SIZE,
} from './constants.js';
import { ElfBuildError } from './errors.js';

/** The content sections a shared object built by dlbind has, in address order. */
export type ContentSectionName = 'text' | 'rodata' | 'data' | 'bss';
export const CONTENT_SECTIONS: readonly ContentSectionName[] = ['text', 'rodata', 'data', 'bss'];

/** Which segment an extra section joins: the first read-only one (after the symbol tables), text, rodata or the writable one. */
export type ExtraSegment = 'meta' | 'text' | 'rodata' | 'relro' | 'data';

/** A section beyond the standard ones (versions, PLT, GOT, notes...), placed after its segment's standard sections, in request order. */
export interface ExtraSection {
  key: string;
  segment: ExtraSegment;
  size: number;
  align: number;
  /** Also covered by a PT_NOTE of its own. */
  note?: boolean;
}

export interface LayoutRequest {
  pageSize: number;
  /** Bytes needed by each metadata table (0 = the table is omitted). */
  sysvHashSize: number;
  gnuHashSize: number;
  dynsymCount: number;
  dynstrSize: number;
  relaCount: number;
  dynamicCount: number;
  /** Put .dynamic in the RW segment (classic; needed before glibc 2.35) or in the first read-only one. */
  dynamicWritable: boolean;
  /**
   * Pack file offsets as GNU ld does: a segment starts in the file where the previous one ends,
   * and its address on a fresh page at the same offset within the page (p_offset == p_vaddr
   * modulo pageSize). Otherwise every segment starts a fresh page in the file as in memory, and
   * offsets equal addresses, which a live library (patched through a mapping of its file) needs.
   */
  packFileOffsets?: boolean;
  content: Record<
    ContentSectionName,
    {
      size: number;
      align: number;
      /** Force this load address (page-aligned, not below where it would go). */
      addr?: number;
      /** Give it a section header. Linkers drop empty output sections (eu-elflint wants every allocated section inside a PT_LOAD). */
      present: boolean;
    }
  >;
  symtabCount: number;
  strtabSize: number;
  shstrtabSize: number;
  extra?: readonly ExtraSection[];
  /** Bytes of .eh_frame_hdr and .eh_frame (0 or absent = neither is written; both go after .rodata, as GNU ld puts them). */
  ehFrameHdrSize?: number;
  ehFrameSize?: number;
  /**
   * Put them after .text in the executable segment instead (GNU ld without -z separate-code):
   * for an object whose segments are at different address-minus-offset distances, where
   * valgrind takes .eh_frame's addresses with the text's.
   */
  ehFrameInText?: boolean;
}

/** Where one section lands. Unless a content section's address is forced or offsets are packed, sh_offset equals sh_addr. */
export interface Placement {
  /** File offset. */
  offset: number;
  /** Virtual address relative to the load base (0 for a section that is not loaded). */
  addr: number;
  /** Size in bytes. */
  size: number;
  /** Alignment of the address. */
  align: number;
}

/** One program header as the layout places it. */
export interface SegmentPlacement {
  /** PT_LOAD, PT_DYNAMIC, ... */
  p_type: number;
  /** PF_R, PF_W and PF_X bits. */
  p_flags: number;
  /** p_offset. */
  offset: number;
  /** p_vaddr (and p_paddr). */
  addr: number;
  /** p_filesz. */
  filesz: number;
  /** p_memsz. */
  memsz: number;
  /** p_align. */
  align: number;
}

/** The file and address layout of a shared object: every table's and section's placement, and the segments. */
export interface Layout {
  /** The page size segments are aligned to. */
  pageSize: number;
  /** Number of program headers. */
  phnum: number;
  /** DT_HASH's table, when written. */
  sysvHash?: Placement;
  /** DT_GNU_HASH's table, when written. */
  gnuHash?: Placement;
  /** .dynsym. */
  dynsym: Placement;
  /** .dynstr. */
  dynstr: Placement;
  /** .rela.dyn, when there are relocations. */
  rela?: Placement;
  /** .dynamic. */
  dynamic: Placement;
  /** .text, .rodata, .data and .bss. */
  content: Record<ContentSectionName, Placement>;
  /** .symtab, when static symbols are written. */
  symtab?: Placement;
  /** .strtab, with .symtab. */
  strtab?: Placement;
  /** .shstrtab (the section names). */
  shstrtab: Placement;
  /** Where each extra section landed, by key. */
  extra: Record<string, Placement>;
  /** At an address 4 past a multiple of 8, so that its search table's 8-byte entries are aligned (one store each). */
  ehFrameHdr?: Placement;
  /** .eh_frame, when written or reserved. */
  ehFrame?: Placement;
  /** Offset of the section header table. */
  shoff: number;
  /** The program headers, in order. */
  segments: SegmentPlacement[];
  /** Total file size. */
  fileSize: number;
  /** End of the highest mapped byte (bss included), relative to the load base. */
  imageSize: number;
}

/**
 * Places every section. Each PT_LOAD starts on a fresh page in both the file
 * and memory, so no file page is ever mapped by two segments with different
 * permissions. Unless an address is forced, file offset == vaddr for every
 * allocated section: the loader's view and the file's view of the object are
 * then the same bytes at the same offsets, which is what lets a live library
 * be patched through a mapping of its file.
 *
 * With packFileOffsets (files that are only loaded, with pages above 4 KiB),
 * segments start on fresh pages in memory only, and a segment's first and last
 * file pages may be shared with its neighbours, as GNU ld lays files out.
 */
export function layoutObject(req: LayoutRequest): Layout {
  const page = req.pageSize;
  // File position and address move together inside a segment; a forced
  // address opens a segment whose addresses run ahead of its file offsets.
  let pos = 0;
  let delta = 0;
  const place = (size: number, align: number): Placement => {
    pos = alignUp(pos, align);
    const p = { offset: pos, addr: pos + delta, size, align };
    pos += size;
    return p;
  };
  const startSegment = (forced: number | undefined): void => {
    const natural = alignUp(pos + delta, page);
    if (forced !== undefined && (forced % page !== 0 || forced < natural))
      throw new ElfBuildError(`forced address 0x${forced.toString(16)} must be page-aligned and at least 0x${natural.toString(16)}`);
    // A forced (page-aligned) address needs a page-aligned offset; packed, a free one takes the
    // offset as it is and the address on a fresh page at the same place within the page.
    if (!req.packFileOffsets || forced !== undefined) pos = alignUp(pos, page);
    delta = (forced ?? natural + (pos % page)) - pos;
  };
  const c = req.content;
  const extras = req.extra ?? [];
  const extra: Record<string, Placement> = {};
  const hasExtra = (segment: ExtraSegment) => extras.some((e) => e.segment === segment);
  const placeExtras = (segment: ExtraSegment) => {
    for (const e of extras) if (e.segment === segment) extra[e.key] = place(e.size, e.align);
  };
  const notes = extras.filter((e) => e.note);
  const hasText = c.text.size > 0 || hasExtra('text');
  const hasEh = (req.ehFrameHdrSize ?? 0) > 0;
  const ehInText = hasEh && req.ehFrameInText === true && c.text.size > 0;
  const hasRodata = c.rodata.size > 0 || hasExtra('rodata') || (hasEh && !ehInText);
  const hasRw = req.dynamicWritable || c.data.size > 0 || c.bss.size > 0 || hasExtra('data');
  const hasRelro = hasExtra('relro');
  const phnum = 1 + (hasText ? 1 : 0) + (hasRodata ? 1 : 0) + (hasRw ? 1 : 0) + 2 + notes.length + (hasEh ? 1 : 0) + (hasRelro ? 2 : 0);

  pos = EHDR64_SIZE + phnum * PHDR64_SIZE;
  const sysvHash = req.sysvHashSize > 0 ? place(req.sysvHashSize, 8) : undefined;
  const gnuHash = req.gnuHashSize > 0 ? place(req.gnuHashSize, 8) : undefined;
  const dynsym = place(req.dynsymCount * SYM64_SIZE, 8);
  const dynstr = place(req.dynstrSize, 1);
  const rela = req.relaCount > 0 ? place(req.relaCount * RELA64_SIZE, 8) : undefined;
  placeExtras('meta');
  let dynamic = req.dynamicWritable ? undefined : place(req.dynamicCount * DYN64_SIZE, 8);
  const segments: SegmentPlacement[] = [];
  segments.push({ p_type: PT_LOAD, p_flags: PF_R, offset: 0, addr: 0, filesz: pos, memsz: pos, align: page });

  const content = {} as Record<ContentSectionName, Placement>;
  const loadSegment = (flags: number, first: Placement, fileEnd: number, memEnd: number): SegmentPlacement => ({
    p_type: PT_LOAD,
    p_flags: flags,
    offset: first.offset,
    addr: first.addr,
    filesz: fileEnd - first.offset,
    memsz: memEnd - first.addr,
    align: page,
  });
  if (hasText) startSegment(c.text.addr);
  content.text = place(c.text.size, c.text.align);
  placeExtras('text');
  let ehFrameHdr: Placement | undefined;
  let ehFrame: Placement | undefined;
  const placeEh = () => {
    pos = alignUp(pos, 8) + 4;
    ehFrameHdr = place(req.ehFrameHdrSize!, 4);
    ehFrame = place(req.ehFrameSize ?? 0, 8);
  };
  if (ehInText) placeEh();
  if (hasText) segments.push(loadSegment(PF_R | PF_X, content.text, pos, pos + delta));
  if (hasRodata) startSegment(c.rodata.addr);
  content.rodata = place(c.rodata.size, c.rodata.align);
  placeExtras('rodata');
  if (hasEh && !ehInText) placeEh();
  if (hasRodata) segments.push(loadSegment(PF_R, content.rodata, pos, pos + delta));
  // Sections made read-only after relocation (PT_GNU_RELRO) get a writable segment of their own,
  // whose memory runs to a page end: ld.so protects [start, end) rounded down to pages.
  let relro: SegmentPlacement | undefined;
  if (hasRelro) {
    startSegment(undefined);
    const first = pos;
    placeExtras('relro');
    relro = loadSegment(PF_R | PF_W, { offset: first, addr: first + delta, size: 0, align: page }, pos, alignUp(pos + delta, page));
    segments.push(relro);
  }
  if (hasRw) startSegment(c.data.addr);
  // .data first, so that a forced data address is the segment's start; .dynamic (when writable) after it.
  content.data = place(c.data.size, c.data.align);
  if (dynamic === undefined) dynamic = place(req.dynamicCount * DYN64_SIZE, 8);
  placeExtras('data');
  const rwFileEnd = pos;
  // .bss takes no file space: its offset is where the file part ends, its address continues in memory.
  const bssAddr = alignUp(pos + delta, c.bss.align);
  content.bss = { offset: rwFileEnd, addr: bssAddr, size: c.bss.size, align: c.bss.align };
  const imageEnd = Math.max(rwFileEnd + delta, bssAddr + c.bss.size);
  const rwFirst = req.dynamicWritable && c.data.size === 0 ? dynamic : content.data;
  if (hasRw) segments.push(loadSegment(PF_R | PF_W, rwFirst, rwFileEnd, imageEnd));

  segments.push({
    p_type: PT_DYNAMIC,
    p_flags: req.dynamicWritable ? PF_R | PF_W : PF_R,
    offset: dynamic.offset,
    addr: dynamic.addr,
    filesz: dynamic.size,
    memsz: dynamic.size,
    align: 8,
  });
  for (const e of notes) {
    const p = extra[e.key]!;
    segments.push({ p_type: PT_NOTE, p_flags: PF_R, offset: p.offset, addr: p.addr, filesz: p.size, memsz: p.size, align: e.align });
  }
  if (ehFrameHdr !== undefined) {
    const h: Placement = ehFrameHdr;
    segments.push({ p_type: PT_GNU_EH_FRAME, p_flags: PF_R, offset: h.offset, addr: h.addr, filesz: h.size, memsz: h.size, align: 4 });
  }
  segments.push({ p_type: PT_GNU_STACK, p_flags: PF_R | PF_W, offset: 0, addr: 0, filesz: 0, memsz: 0, align: 16 });
  if (relro !== undefined) segments.push({ ...relro, p_type: PT_GNU_RELRO, p_flags: PF_R, align: 1 });
  if (segments.length !== phnum) throw new ElfBuildError(`internal layout error: ${segments.length} program headers, reserved ${phnum}`);

  const nonAlloc = (size: number, align: number): Placement => {
    pos = alignUp(pos, align);
    const p = { offset: pos, addr: 0, size, align };
    pos += size;
    return p;
  };
  const symtab = req.symtabCount > 0 ? nonAlloc(req.symtabCount * SYM64_SIZE, 8) : undefined;
  const strtab = req.symtabCount > 0 ? nonAlloc(req.strtabSize, 1) : undefined;
  const shstrtab = nonAlloc(req.shstrtabSize, 1);
  const shoff = alignUp(pos, 8);
  const sectionCount = sectionCountOf(req);
  const fileSize = shoff + sectionCount * SHDR64_SIZE;
  if (fileSize > Number.MAX_SAFE_INTEGER / 2) throw new ElfBuildError('object too large');
  return {
    pageSize: page,
    phnum,
    sysvHash,
    gnuHash,
    dynsym,
    dynstr,
    rela,
    dynamic,
    content,
    symtab,
    strtab,
    shstrtab,
    extra,
    ehFrameHdr,
    ehFrame,
    shoff,
    segments,
    fileSize,
    imageSize: alignUp(imageEnd, page),
  };
}

/** Number of section headers for a request, the null section included. */
export function sectionCountOf(req: LayoutRequest): number {
  return (
    1 +
    (req.sysvHashSize > 0 ? 1 : 0) +
    (req.gnuHashSize > 0 ? 1 : 0) +
    2 + // .dynsym, .dynstr
    (req.relaCount > 0 ? 1 : 0) +
    1 + // .dynamic
    CONTENT_SECTIONS.filter((n) => req.content[n].present).length +
    (req.extra?.length ?? 0) +
    (req.symtabCount > 0 ? 2 : 0) +
    ((req.ehFrameHdrSize ?? 0) > 0 ? 2 : 0) + // .eh_frame_hdr, .eh_frame
    1 // .shstrtab
  );
}
