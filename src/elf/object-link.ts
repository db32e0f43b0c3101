// Linking an ET_REL object (a compiler's .o) at addresses chosen by the
// caller: what ld does for one object, without writing a file. Two steps, so
// that nothing is written before everything is known to work:
//   planObjectLink  reads the object, places every SHF_ALLOC section in one of
//                   three blocks (text, rodata, data), reserves GOT slots and
//                   call stubs, and refuses what it cannot link (by name);
//   linkObject      given the blocks' addresses and the undefined symbols'
//                   values, returns the blocks' bytes with every relocation
//                   applied, or throws before the caller has written anything.
import {
  EM_AARCH64,
  EM_X86_64,
  ET_REL,
  R_AARCH64_ABS16,
  R_AARCH64_ABS32,
  R_AARCH64_ABS64,
  R_AARCH64_ADD_ABS_LO12_NC,
  R_AARCH64_ADR_GOT_PAGE,
  R_AARCH64_ADR_PREL_LO21,
  R_AARCH64_ADR_PREL_PG_HI21,
  R_AARCH64_ADR_PREL_PG_HI21_NC,
  R_AARCH64_CALL26,
  R_AARCH64_CONDBR19,
  R_AARCH64_JUMP26,
  R_AARCH64_LD64_GOT_LO12_NC,
  R_AARCH64_LDST128_ABS_LO12_NC,
  R_AARCH64_LDST16_ABS_LO12_NC,
  R_AARCH64_LDST32_ABS_LO12_NC,
  R_AARCH64_LDST64_ABS_LO12_NC,
  R_AARCH64_LDST8_ABS_LO12_NC,
  R_AARCH64_LD_PREL_LO19,
  R_AARCH64_MOVW_UABS_G0,
  R_AARCH64_MOVW_UABS_G0_NC,
  R_AARCH64_MOVW_UABS_G1,
  R_AARCH64_MOVW_UABS_G1_NC,
  R_AARCH64_MOVW_UABS_G2,
  R_AARCH64_MOVW_UABS_G2_NC,
  R_AARCH64_MOVW_UABS_G3,
  R_AARCH64_NONE,
  R_AARCH64_PREL16,
  R_AARCH64_PREL32,
  R_AARCH64_PREL64,
  R_AARCH64_TSTBR14,
  R_X86_64_32,
  R_X86_64_32S,
  R_X86_64_64,
  R_X86_64_GOTPCREL,
  R_X86_64_GOTPCRELX,
  R_X86_64_NONE,
  R_X86_64_PC32,
  R_X86_64_PC64,
  R_X86_64_PLT32,
  R_X86_64_REX_GOTPCRELX,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHN_ABS,
  SHN_COMMON,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_FINI_ARRAY,
  SHT_INIT_ARRAY,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FILE,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_OBJECT,
  STT_SECTION,
  STT_TLS,
  STV_DEFAULT,
  STV_PROTECTED,
  relocationTypeName,
} from './constants.js';
import { ElfFormatError, ElfLinkError } from './errors.js';
import { type ElfFile, readElf } from './reader.js';
import type { ElfSymbol, Machine, Relocation, SectionHeader } from './types.js';

/** The three kinds of memory an object's sections go to. */
export type ObjectArena = 'text' | 'rodata' | 'data';
export const OBJECT_ARENAS: readonly ObjectArena[] = ['text', 'rodata', 'data'];

/** An SHF_ALLOC section of the object and where it goes in its block. */
export interface PlacedSection {
  index: number;
  name: string;
  arena: ObjectArena;
  /** Offset from the start of its block. */
  offset: number;
  size: number;
  nobits: boolean;
}

/** A symbol the object defines, with its place (section index and offset in it). */
export interface DefinedSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  visibility: number;
  /** Its block, and its offset from the block's start. */
  arena: ObjectArena;
  offset: number;
  size: number;
  /**
   * Whether other code may see it: GLOBAL or WEAK with default or protected
   * visibility. Hidden ones (DW.ref.__gxx_personality_v0, say) are the object's own.
   */
  exported: boolean;
}

/** One relocation entry of the object (Elf64_Rela), split up. */
export type ObjectRelocation = Pick<Relocation, 'r_offset' | 'type' | 'sym' | 'r_addend'>;

/** An SHT_RELA section whose target section is loaded. */
export interface ObjectRelocationTable {
  /** The relocation section's name (.rela.text). */
  name: string;
  /** The section index it applies to (sh_info). */
  appliesTo: number;
  entries: ObjectRelocation[];
}

export interface ObjectLinkPlan {
  machine: Machine;
  e_machine: number;
  file: ElfFile;
  bytes: Uint8Array;
  /** By section index. */
  sections: Map<number, PlacedSection>;
  blocks: Record<ObjectArena, { size: number; align: number }>;
  /** Every GLOBAL, WEAK and named LOCAL function or object defined. */
  defined: DefinedSymbol[];
  /** Names of the undefined symbols that relocations use, each once; `weak` ones may stay unresolved (0). */
  undefined: { name: string; weak: boolean }[];
  relocations: ObjectRelocationTable[];
  /** GOT slots (8 bytes each, in the data block at gotAt) by symbol index. */
  got: Map<number, number>;
  gotAt: number;
  /** Call stubs (STUB_SIZE bytes each, in the text block at stubsAt) by symbol index. */
  stubs: Map<number, number>;
  stubsAt: number;
  /** SHN_COMMON symbols, allocated in the data block: symbol index → offset. */
  commons: Map<number, number>;
  /** .init_array / .fini_array sections: constructors to run after loading and destructors before unloading. */
  initArrays: number[];
  finiArrays: number[];
  /** The .eh_frame section, if it is loaded. */
  ehFrame?: number;
}

/** Bytes of one x86_64 stub (jmp [rip+0]; .quad target) or aarch64 veneer (ldr x16, 8; br x16; .quad target). */
export const STUB_SIZE = 16;

const X86_CALLS = new Set([R_X86_64_PLT32]);
const X86_GOT = new Set([R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX]);
const X86_SUPPORTED = new Set([R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32, R_X86_64_32S, R_X86_64_PC64, ...X86_GOT]);
const A64_CALLS = new Set([R_AARCH64_CALL26, R_AARCH64_JUMP26]);
const A64_GOT = new Set([R_AARCH64_ADR_GOT_PAGE, R_AARCH64_LD64_GOT_LO12_NC]);
const A64_SUPPORTED = new Set([
  R_AARCH64_NONE,
  R_AARCH64_ABS64,
  R_AARCH64_ABS32,
  R_AARCH64_ABS16,
  R_AARCH64_PREL64,
  R_AARCH64_PREL32,
  R_AARCH64_PREL16,
  R_AARCH64_MOVW_UABS_G0,
  R_AARCH64_MOVW_UABS_G0_NC,
  R_AARCH64_MOVW_UABS_G1,
  R_AARCH64_MOVW_UABS_G1_NC,
  R_AARCH64_MOVW_UABS_G2,
  R_AARCH64_MOVW_UABS_G2_NC,
  R_AARCH64_MOVW_UABS_G3,
  R_AARCH64_LD_PREL_LO19,
  R_AARCH64_ADR_PREL_LO21,
  R_AARCH64_ADR_PREL_PG_HI21,
  R_AARCH64_ADR_PREL_PG_HI21_NC,
  R_AARCH64_ADD_ABS_LO12_NC,
  R_AARCH64_LDST8_ABS_LO12_NC,
  R_AARCH64_LDST16_ABS_LO12_NC,
  R_AARCH64_LDST32_ABS_LO12_NC,
  R_AARCH64_LDST64_ABS_LO12_NC,
  R_AARCH64_LDST128_ABS_LO12_NC,
  R_AARCH64_TSTBR14,
  R_AARCH64_CONDBR19,
  R_AARCH64_JUMP26,
  R_AARCH64_CALL26,
  ...A64_GOT,
]);
/** Relocations that store a whole 64-bit address: a section holding one goes to the data block (dlsave relocates words there). */
const ABSOLUTE_WORDS = new Set([R_X86_64_64, R_AARCH64_ABS64]);

function sectionName(file: ElfFile, index: number): string {
  return file.sections[index]?.name || `section ${index}`;
}

/** The reader's SHT_RELA tables of an ET_REL object that apply to SHF_ALLOC sections (debug sections' are not needed). */
export function objectRelocations(file: ElfFile): ObjectRelocationTable[] {
  const tables: ObjectRelocationTable[] = [];
  for (const t of file.relocationTables) {
    if (t.appliesTo === undefined) continue;
    const target = file.sections[t.appliesTo];
    if (target === undefined || (target.sh_flags & BigInt(SHF_ALLOC)) === 0n) continue;
    if (t.format !== 'rela') {
      throw new ElfLinkError(`${t.source}: ${t.format.toUpperCase()} relocations are not supported, only SHT_RELA`, target.name);
    }
    tables.push({ name: t.source, appliesTo: t.appliesTo, entries: t.entries });
  }
  return tables;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function arenaOf(s: SectionHeader, absoluteWords: boolean): ObjectArena {
  const flags = Number(s.sh_flags);
  if ((flags & SHF_EXECINSTR) !== 0) return 'text';
  if ((flags & SHF_WRITE) !== 0 || absoluteWords) return 'data';
  return 'rodata';
}

/** Reads and checks an ET_REL object and decides where everything in it goes. Throws ElfFormatError or ElfLinkError. */
export function planObjectLink(bytes: Uint8Array): ObjectLinkPlan {
  const file = readElf(bytes);
  const h = file.header;
  if (h.e_type !== ET_REL) throw new ElfLinkError(`not a relocatable object (e_type ${h.e_type}, ET_REL is ${ET_REL})`);
  if (h.e_machine !== EM_X86_64 && h.e_machine !== EM_AARCH64) throw new ElfLinkError(`machine ${file.machine} is not supported (x86_64 and aarch64 are)`);
  const machine: Machine = h.e_machine === EM_X86_64 ? 'x86_64' : 'aarch64';
  if (file.symbols.length === 0) throw new ElfLinkError('the object has no .symtab');
  const relocations = objectRelocations(file);
  const supported = machine === 'x86_64' ? X86_SUPPORTED : A64_SUPPORTED;
  const calls = machine === 'x86_64' ? X86_CALLS : A64_CALLS;
  const gotTypes = machine === 'x86_64' ? X86_GOT : A64_GOT;

  // Everything refused is refused here, before any address is chosen.
  const absoluteWords = new Set<number>();
  for (const t of relocations) {
    for (const r of t.entries) {
      const where = sectionName(file, t.appliesTo);
      if (!supported.has(r.type)) {
        const name = relocationTypeName(h.e_machine, r.type);
        const tls = /TLS|TPOFF|DTPOFF|DTPMOD|GOTTPOFF/.test(name);
        throw new ElfLinkError(
          `relocation ${name} in ${where} (at 0x${r.r_offset.toString(16)}, from ${t.name}) is not supported${tls ? ': thread-local storage is not supported' : ''}`,
          where,
          name,
        );
      }
      const sym = file.symbols[r.sym];
      if (sym === undefined) throw new ElfLinkError(`${t.name}: relocation at 0x${r.r_offset.toString(16)} names symbol ${r.sym}, past .symtab`, where);
      if (sym.type === STT_TLS) {
        throw new ElfLinkError(
          `${where} refers to thread-local '${sym.name}': thread-local storage is not supported`,
          where,
          relocationTypeName(h.e_machine, r.type),
        );
      }
      if (ABSOLUTE_WORDS.has(r.type)) absoluteWords.add(t.appliesTo);
    }
  }

  const sections = new Map<number, PlacedSection>();
  const sizes: Record<ObjectArena, number> = { text: 0, rodata: 0, data: 0 };
  const aligns: Record<ObjectArena, number> = { text: 16, rodata: 8, data: 8 };
  const initArrays: number[] = [];
  const finiArrays: number[] = [];
  let ehFrame: number | undefined;
  // NOBITS sections go after everything with contents, so the data block's bytes stay contiguous.
  const order = file.sections
    .map((_, i) => i)
    .sort((a, b) => Number(file.sections[a]!.sh_type === SHT_NOBITS) - Number(file.sections[b]!.sh_type === SHT_NOBITS));
  for (const i of order) {
    const s = file.sections[i]!;
    if ((s.sh_flags & BigInt(SHF_ALLOC)) === 0n || s.sh_type === SHT_NOTE) continue;
    const flags = Number(s.sh_flags);
    if ((flags & 0x400) !== 0) throw new ElfLinkError(`section ${s.name} is thread-local (SHF_TLS): thread-local storage is not supported`, s.name);
    if ((flags & SHF_WRITE) !== 0 && (flags & SHF_EXECINSTR) !== 0) throw new ElfLinkError(`section ${s.name} is writable and executable: refused`, s.name);
    if (s.sh_type !== SHT_PROGBITS && s.sh_type !== SHT_NOBITS && s.sh_type !== SHT_INIT_ARRAY && s.sh_type !== SHT_FINI_ARRAY && s.sh_type !== 0x70000001) {
      throw new ElfLinkError(`section ${s.name} has type 0x${s.sh_type.toString(16)}, which cannot be loaded`, s.name);
    }
    if (s.name === '.ctors' || s.name === '.dtors' || s.name.startsWith('.ctors.') || s.name.startsWith('.dtors.')) {
      throw new ElfLinkError(`section ${s.name}: .ctors/.dtors are not supported (.init_array is)`, s.name);
    }
    const size = Number(s.sh_size);
    const a = Math.max(1, Number(s.sh_addralign));
    if (a > 65536 || (a & (a - 1)) !== 0) throw new ElfLinkError(`section ${s.name} asks for alignment ${a}`, s.name);
    if (s.sh_type !== SHT_NOBITS && Number(s.sh_offset) + size > bytes.length) throw new ElfFormatError(`${s.name} lies outside the file`, Number(s.sh_offset));
    const arena = arenaOf(s, absoluteWords.has(i));
    aligns[arena] = Math.max(aligns[arena], a);
    const offset = align(sizes[arena], a);
    sizes[arena] = offset + size;
    sections.set(i, { index: i, name: s.name, arena, offset, size, nobits: s.sh_type === SHT_NOBITS });
    if (s.sh_type === SHT_INIT_ARRAY) initArrays.push(i);
    if (s.sh_type === SHT_FINI_ARRAY) finiArrays.push(i);
    if (s.name === '.eh_frame') {
      ehFrame = i;
      // A zero word after it ends the list for libgcc (crtend.o's job in a linked object).
      sizes[arena] += 4;
    }
  }

  const commons = new Map<number, number>();
  file.symbols.forEach((sym, i) => {
    if (sym.st_shndx !== SHN_COMMON) return;
    const a = Math.max(1, Number(sym.st_value));
    aligns.data = Math.max(aligns.data, a);
    const offset = align(sizes.data, a);
    sizes.data = offset + Number(sym.st_size);
    commons.set(i, offset);
  });

  const got = new Map<number, number>();
  const stubs = new Map<number, number>();
  const undefinedNames = new Map<string, boolean>();
  for (const t of relocations) {
    if (!sections.has(t.appliesTo)) continue;
    for (const r of t.entries) {
      const sym = file.symbols[r.sym]!;
      if (r.sym !== 0 && sym.st_shndx === SHN_UNDEF) {
        undefinedNames.set(sym.name, (undefinedNames.get(sym.name) ?? true) && sym.bind === STB_WEAK);
        // Only a call to another object can be out of reach; calls inside this one are not.
        const call = calls.has(r.type) || (r.type === R_X86_64_PC32 && machine === 'x86_64' && isCallSite(file, bytes, t.appliesTo, r.r_offset));
        if (call && !stubs.has(r.sym)) stubs.set(r.sym, stubs.size);
      } else if (r.sym !== 0 && sym.st_shndx < SHN_LORESERVE && sym.st_shndx !== SHN_UNDEF && !sections.has(sym.st_shndx)) {
        throw new ElfLinkError(
          `${sectionName(file, t.appliesTo)} refers to '${sym.name || sectionName(file, sym.st_shndx)}' in ${sectionName(file, sym.st_shndx)}, which is not loaded`,
          sectionName(file, t.appliesTo),
        );
      }
      if (gotTypes.has(r.type) && !got.has(r.sym)) got.set(r.sym, got.size);
    }
  }
  const stubsAt = align(sizes.text, 16);
  if (stubs.size > 0) sizes.text = stubsAt + stubs.size * STUB_SIZE;
  const gotAt = align(sizes.data, 8);
  if (got.size > 0) sizes.data = gotAt + got.size * 8;

  const defined: DefinedSymbol[] = [];
  file.symbols.forEach((sym, i) => {
    if (i === 0 || sym.name === '' || sym.type === STT_SECTION || sym.type === STT_FILE) return;
    if (sym.st_shndx === SHN_UNDEF || sym.st_shndx === SHN_ABS) return;
    if (sym.type === STT_GNU_IFUNC) throw new ElfLinkError(`'${sym.name}' is an STT_GNU_IFUNC: not supported`);
    const place = symbolPlace(sections, commons, sym, i);
    if (place === undefined) return;
    if (sym.bind === STB_LOCAL && (sym.name.startsWith('.L') || (sym.type !== STT_FUNC && sym.type !== STT_OBJECT))) return;
    if (sym.bind !== STB_LOCAL && sym.bind !== STB_GLOBAL && sym.bind !== STB_WEAK)
      throw new ElfLinkError(`'${sym.name}' has binding ${sym.bind}, not supported`);
    defined.push({
      index: i,
      name: sym.name,
      bind: sym.bind,
      type: sym.type,
      visibility: sym.visibility,
      arena: place.arena,
      offset: place.offset,
      size: Number(sym.st_size),
      exported: sym.bind !== STB_LOCAL && (sym.visibility === STV_DEFAULT || sym.visibility === STV_PROTECTED),
    });
  });

  const blocks = {} as ObjectLinkPlan['blocks'];
  for (const a of OBJECT_ARENAS) blocks[a] = { size: sizes[a], align: aligns[a] };
  return {
    machine,
    e_machine: h.e_machine,
    file,
    bytes,
    sections,
    blocks,
    defined,
    undefined: [...undefinedNames].map(([name, weak]) => ({ name, weak })),
    relocations: relocations.filter((t) => sections.has(t.appliesTo)),
    got,
    gotAt,
    stubs,
    stubsAt,
    commons,
    initArrays,
    finiArrays,
    ehFrame,
  };
}

function symbolPlace(
  sections: Map<number, PlacedSection>,
  commons: Map<number, number>,
  sym: ElfSymbol,
  index: number,
): { arena: ObjectArena; offset: number } | undefined {
  const c = commons.get(index);
  if (c !== undefined) return { arena: 'data', offset: c };
  const s = sections.get(sym.st_shndx);
  if (s === undefined) return undefined;
  return { arena: s.arena, offset: s.offset + Number(sym.st_value) };
}

/** Whether an x86_64 PC32 field is the rel32 of a call or jmp (e8/e9 just before it). */
function isCallSite(file: ElfFile, bytes: Uint8Array, section: number, r_offset: bigint): boolean {
  const s = file.sections[section]!;
  if (s.sh_type === SHT_NOBITS || r_offset < 1n) return false;
  const op = bytes[Number(s.sh_offset + r_offset) - 1];
  return op === 0xe8 || op === 0xe9;
}

/** The bytes of each block, relocated, ready to be written at `addresses`. */
export type LinkedBlocks = Record<ObjectArena, Uint8Array>;

/**
 * Applies every relocation for blocks placed at `addresses`. `resolved` gives
 * each undefined name's address (0n for an unresolved weak one). `slots`
 * gives, for some undefined names, the address of an 8-byte slot holding the
 * address (the library's import slots): GOT references use it, and calls to
 * the name always go through a stub that jumps through it, so that the slot,
 * not the code, says where they go. Writes only
 * into the returned arrays; throws ElfLinkError on a value that does not fit
 * its field.
 */
export function linkObject(
  plan: ObjectLinkPlan,
  addresses: Record<ObjectArena, bigint>,
  resolved: ReadonlyMap<string, bigint>,
  slots?: ReadonlyMap<string, bigint>,
): LinkedBlocks {
  const { file, bytes } = plan;
  const out = {} as LinkedBlocks;
  for (const a of OBJECT_ARENAS) out[a] = new Uint8Array(plan.blocks[a].size);
  for (const s of plan.sections.values()) {
    if (s.nobits || s.size === 0) continue;
    const h = file.sections[s.index]!;
    out[s.arena].set(bytes.subarray(Number(h.sh_offset), Number(h.sh_offset) + s.size), s.offset);
  }
  const sectionAddr = (i: number): bigint => {
    const s = plan.sections.get(i)!;
    return addresses[s.arena] + BigInt(s.offset);
  };
  const symbolValue = (i: number): bigint => {
    const sym = file.symbols[i]!;
    if (i === 0) return 0n;
    if (sym.st_shndx === SHN_UNDEF) {
      const v = resolved.get(sym.name);
      if (v === undefined) throw new ElfLinkError(`undefined symbol '${sym.name}' was not resolved`);
      return v;
    }
    if (sym.st_shndx === SHN_ABS) return sym.st_value;
    const c = plan.commons.get(i);
    if (c !== undefined) return addresses.data + BigInt(c);
    return sectionAddr(sym.st_shndx) + sym.st_value;
  };
  const views = {} as Record<ObjectArena, DataView>;
  for (const a of OBJECT_ARENAS) views[a] = new DataView(out[a].buffer);

  // Stubs and GOT slots first: relocations may point at them.
  const slotOf = (sym: number): bigint | undefined => {
    const entry = file.symbols[sym]!;
    return entry.st_shndx === SHN_UNDEF ? slots?.get(entry.name) : undefined;
  };
  const stubAddr = (sym: number): bigint | undefined => {
    const k = plan.stubs.get(sym);
    return k === undefined ? undefined : addresses.text + BigInt(plan.stubsAt + k * STUB_SIZE);
  };
  for (const [sym, k] of plan.stubs) {
    const at = plan.stubsAt + k * STUB_SIZE;
    const v = views.text;
    const slot = slotOf(sym);
    const here = addresses.text + BigInt(at);
    if (plan.machine === 'x86_64') {
      out.text.set([0xff, 0x25], at);
      if (slot !== undefined) {
        // jmp [rip + slot]: the caller's slot, so that what it holds (and a saved copy's GLOB_DAT) decides the target.
        const d = slot - (here + 6n);
        if (d < -(2n ** 31n) || d >= 2n ** 31n) throw new ElfLinkError(`the slot for '${file.symbols[sym]!.name}' is out of a stub's reach`);
        v.setInt32(at + 2, Number(d), true);
        out.text.fill(0xcc, at + 6, at + 16);
      } else {
        // jmp [rip+0]; .quad target
        v.setBigUint64(at + 6, BigInt.asUintN(64, symbolValue(sym)), true);
        out.text.set([0xcc, 0xcc], at + 14);
      }
    } else if (slot !== undefined) {
      const pages = (slot & ~0xfffn) - (here & ~0xfffn);
      if (pages < -(2n ** 32n) || pages >= 2n ** 32n) throw new ElfLinkError(`the slot for '${file.symbols[sym]!.name}' is out of a veneer's reach`);
      const n = Number(BigInt.asUintN(21, pages >> 12n));
      v.setUint32(at, (0x90000010 | ((n & 3) << 29) | (((n >> 2) & 0x7ffff) << 5)) >>> 0, true); // adrp x16, slot
      v.setUint32(at + 4, (0xf9400210 | (Number((slot & 0xfffn) >> 3n) << 10)) >>> 0, true); // ldr x16, [x16, :lo12:slot]
      v.setUint32(at + 8, 0xd61f0200, true); // br x16
      v.setUint32(at + 12, 0xd4200000, true); // brk #0
    } else {
      v.setUint32(at, 0x58000050, true); // ldr x16, .+8
      v.setUint32(at + 4, 0xd61f0200, true); // br x16
      v.setBigUint64(at + 8, BigInt.asUintN(64, symbolValue(sym)), true);
    }
  }
  const gotAddr = (sym: number): bigint => slotOf(sym) ?? addresses.data + BigInt(plan.gotAt + plan.got.get(sym)! * 8);
  for (const [sym, k] of plan.got) views.data.setBigUint64(plan.gotAt + k * 8, BigInt.asUintN(64, symbolValue(sym)), true);

  const x86 = plan.machine === 'x86_64';
  for (const t of plan.relocations) {
    const target = plan.sections.get(t.appliesTo)!;
    const where = target.name;
    if (target.nobits) {
      if (t.entries.length > 0) throw new ElfLinkError(`${t.name} relocates ${where}, which has no contents (SHT_NOBITS)`, where);
      continue;
    }
    const v = views[target.arena];
    const base = sectionAddr(t.appliesTo);
    for (const r of t.entries) {
      const name = relocationTypeName(plan.e_machine, r.type);
      const sym = file.symbols[r.sym]!;
      const symName = sym.type === STT_SECTION ? sectionName(file, sym.st_shndx) : sym.name;
      const width = fieldWidth(x86, r.type);
      if (r.r_offset < 0n || r.r_offset + BigInt(width) > BigInt(target.size)) {
        throw new ElfLinkError(`${name} at ${where}+0x${r.r_offset.toString(16)} lies outside the section`, where, name);
      }
      const at = target.offset + Number(r.r_offset);
      const P = base + r.r_offset;
      const A = r.r_addend;
      const fail = (what: string): never => {
        throw new ElfLinkError(`${name} at ${where}+0x${r.r_offset.toString(16)} against '${symName}': ${what}`, where, name);
      };
      const check = (value: bigint, lo: bigint, hi: bigint, hint: string): bigint => {
        if (value < lo || value > hi) fail(`0x${value.toString(16)} does not fit (${hint})`);
        return value;
      };
      let S = symbolValue(r.sym);
      if (x86) {
        switch (r.type) {
          case R_X86_64_NONE:
            break;
          case R_X86_64_64:
            v.setBigUint64(at, BigInt.asUintN(64, S + A), true);
            break;
          case R_X86_64_PC64:
            v.setBigUint64(at, BigInt.asUintN(64, S + A - P), true);
            break;
          case R_X86_64_PC32:
          case R_X86_64_PLT32: {
            let value = S + A - P;
            const stub = stubAddr(r.sym);
            if (stub !== undefined && (slotOf(r.sym) !== undefined || value < -(2n ** 31n) || value >= 2n ** 31n)) value = stub + A - P;
            check(value, -(2n ** 31n), 2n ** 31n - 1n, 'more than 2 GiB away; code that reaches outside data PC-relative needs -fPIC');
            v.setInt32(at, Number(value), true);
            break;
          }
          case R_X86_64_32:
            v.setUint32(at, Number(check(S + A, 0n, 2n ** 32n - 1n, 'an absolute 32-bit address; compile with -fPIC')), true);
            break;
          case R_X86_64_32S:
            v.setInt32(at, Number(check(S + A, -(2n ** 31n), 2n ** 31n - 1n, 'an absolute 32-bit address; compile with -fPIC')), true);
            break;
          default: {
            // GOTPCREL, GOTPCRELX, REX_GOTPCRELX: the slot is in this library, always in reach.
            const value = gotAddr(r.sym) + A - P;
            v.setInt32(at, Number(check(value, -(2n ** 31n), 2n ** 31n - 1n, 'GOT slot out of reach')), true);
          }
        }
        continue;
      }
      const insn = (): number => v.getUint32(at, true);
      const put = (word: number): void => v.setUint32(at, word >>> 0, true);
      const page = (x: bigint): bigint => x & ~0xfffn;
      const adr = (imm: bigint): void => {
        const n = Number(BigInt.asUintN(21, imm));
        put((insn() & ~((3 << 29) | (0x7ffff << 5))) | ((n & 3) << 29) | (((n >> 2) & 0x7ffff) << 5));
      };
      const imm12 = (value: bigint, shift: number): void => {
        const lo = Number(value & 0xfffn);
        if ((lo & ((1 << shift) - 1)) !== 0) fail(`address 0x${value.toString(16)} is not ${1 << shift}-byte aligned`);
        put((insn() & ~(0xfff << 10)) | ((lo >> shift) << 10));
      };
      const branch = (value: bigint, bits: number, shift: number): void => {
        if ((value & 3n) !== 0n) fail('branch target is not 4-byte aligned');
        const range = 2n ** BigInt(bits + 1);
        check(value, -range, range - 1n, `branch range ±${range >> 20n} MiB`);
        const n = Number(BigInt.asUintN(bits, value >> 2n));
        const mask = ((2 ** bits - 1) << shift) >>> 0;
        put((insn() & ~mask) | (n << shift));
      };
      switch (r.type) {
        case R_AARCH64_NONE:
          break;
        case R_AARCH64_ABS64:
          v.setBigUint64(at, BigInt.asUintN(64, S + A), true);
          break;
        case R_AARCH64_ABS32:
          v.setUint32(at, Number(BigInt.asUintN(32, check(S + A, -(2n ** 31n), 2n ** 32n - 1n, 'absolute 32-bit'))), true);
          break;
        case R_AARCH64_ABS16:
          v.setUint16(at, Number(BigInt.asUintN(16, check(S + A, -(2n ** 15n), 2n ** 16n - 1n, 'absolute 16-bit'))), true);
          break;
        case R_AARCH64_PREL64:
          v.setBigUint64(at, BigInt.asUintN(64, S + A - P), true);
          break;
        case R_AARCH64_PREL32:
          v.setUint32(at, Number(BigInt.asUintN(32, check(S + A - P, -(2n ** 31n), 2n ** 32n - 1n, 'PC-relative 32-bit'))), true);
          break;
        case R_AARCH64_PREL16:
          v.setUint16(at, Number(BigInt.asUintN(16, check(S + A - P, -(2n ** 15n), 2n ** 16n - 1n, 'PC-relative 16-bit'))), true);
          break;
        case R_AARCH64_CALL26:
        case R_AARCH64_JUMP26: {
          let value = S + A - P;
          const stub = stubAddr(r.sym);
          if (stub !== undefined && (slotOf(r.sym) !== undefined || value < -(2n ** 27n) || value >= 2n ** 27n)) value = stub - P;
          branch(value, 26, 0);
          break;
        }
        case R_AARCH64_CONDBR19:
        case R_AARCH64_LD_PREL_LO19:
          branch(S + A - P, 19, 5);
          break;
        case R_AARCH64_TSTBR14:
          branch(S + A - P, 14, 5);
          break;
        case R_AARCH64_ADR_PREL_LO21:
          adr(check(S + A - P, -(2n ** 20n), 2n ** 20n - 1n, 'ADR range ±1 MiB'));
          break;
        case R_AARCH64_ADR_PREL_PG_HI21:
          adr(check((page(S + A) - page(P)) >> 12n, -(2n ** 20n), 2n ** 20n - 1n, 'ADRP range ±4 GiB; code that reaches outside data PC-relative needs -fPIC'));
          break;
        case R_AARCH64_ADR_PREL_PG_HI21_NC:
          adr((page(S + A) - page(P)) >> 12n);
          break;
        case R_AARCH64_ADR_GOT_PAGE:
          adr(check((page(gotAddr(r.sym)) - page(P)) >> 12n, -(2n ** 20n), 2n ** 20n - 1n, 'GOT page out of reach'));
          break;
        case R_AARCH64_LD64_GOT_LO12_NC:
          imm12(gotAddr(r.sym), 3);
          break;
        case R_AARCH64_ADD_ABS_LO12_NC:
        case R_AARCH64_LDST8_ABS_LO12_NC:
          imm12(S + A, 0);
          break;
        case R_AARCH64_LDST16_ABS_LO12_NC:
          imm12(S + A, 1);
          break;
        case R_AARCH64_LDST32_ABS_LO12_NC:
          imm12(S + A, 2);
          break;
        case R_AARCH64_LDST64_ABS_LO12_NC:
          imm12(S + A, 3);
          break;
        case R_AARCH64_LDST128_ABS_LO12_NC:
          imm12(S + A, 4);
          break;
        default: {
          // MOVW_UABS_G0..G3 (and _NC): 16 bits of the absolute address into movz/movk's imm16.
          const group = [
            [R_AARCH64_MOVW_UABS_G0, 0, true],
            [R_AARCH64_MOVW_UABS_G0_NC, 0, false],
            [R_AARCH64_MOVW_UABS_G1, 1, true],
            [R_AARCH64_MOVW_UABS_G1_NC, 1, false],
            [R_AARCH64_MOVW_UABS_G2, 2, true],
            [R_AARCH64_MOVW_UABS_G2_NC, 2, false],
            [R_AARCH64_MOVW_UABS_G3, 3, false],
          ].find((g) => g[0] === r.type)!;
          S = BigInt.asUintN(64, S + A);
          const g = BigInt(group[1] as number);
          if (group[2] && S >= 2n ** (16n * (g + 1n))) fail(`0x${S.toString(16)} does not fit in ${16n * (g + 1n)} bits`);
          put((insn() & ~(0xffff << 5)) | (Number((S >> (16n * g)) & 0xffffn) << 5));
        }
      }
    }
  }
  return out;
}

function fieldWidth(x86: boolean, type: number): number {
  if (x86) return type === R_X86_64_64 || type === R_X86_64_PC64 ? 8 : type === R_X86_64_NONE ? 0 : 4;
  if (type === R_AARCH64_ABS64 || type === R_AARCH64_PREL64) return 8;
  if (type === R_AARCH64_ABS16 || type === R_AARCH64_PREL16) return 2;
  return type === R_AARCH64_NONE ? 0 : 4;
}

/**
 * Addresses of the 8-byte words in the data block that hold absolute
 * addresses (R_X86_64_64/R_AARCH64_ABS64 and GOT slots), as offsets from the
 * block's start: a saved copy of the library needs a relocation for each.
 */
export function absoluteWordOffsets(plan: ObjectLinkPlan): number[] {
  const words: number[] = [];
  for (const t of plan.relocations) {
    const s = plan.sections.get(t.appliesTo)!;
    if (s.arena !== 'data') continue;
    for (const r of t.entries) if (ABSOLUTE_WORDS.has(r.type)) words.push(s.offset + Number(r.r_offset));
  }
  for (const k of plan.got.values()) words.push(plan.gotAt + k * 8);
  return words;
}
