// Stateless encoders: one ELF64 record to bytes at the writer's cursor.
// Each field is written in spec order and named beside it.
import type { ByteWriter } from './bytes.js';
import { EI_NIDENT, ELFCLASS64, ELFDATA2LSB, ELFMAG, EV_CURRENT, EHDR64_SIZE, PHDR64_SIZE, SHDR64_SIZE } from './constants.js';
import type { DynamicEntry, ElfHeader, ProgramHeader, SectionHeader } from './types.js';

export function writeEhdr(w: ByteWriter, h: ElfHeader): void {
  const start = w.pos;
  w.raw(ELFMAG);
  w.u8(h.ei_class || ELFCLASS64); // EI_CLASS
  w.u8(h.ei_data || ELFDATA2LSB); // EI_DATA
  w.u8(EV_CURRENT); // EI_VERSION
  w.u8(h.ei_osabi); // EI_OSABI
  w.u8(h.ei_abiversion); // EI_ABIVERSION
  w.pos = start + EI_NIDENT; // EI_PAD
  w.u16(h.e_type);
  w.u16(h.e_machine);
  w.u32(h.e_version);
  w.u64(h.e_entry);
  w.u64(h.e_phoff);
  w.u64(h.e_shoff);
  w.u32(h.e_flags);
  w.u16(h.e_ehsize);
  w.u16(h.e_phentsize);
  w.u16(h.e_phnum);
  w.u16(h.e_shentsize);
  w.u16(h.e_shnum);
  w.u16(h.e_shstrndx);
  w.expectAt(start + EHDR64_SIZE, 'Elf64_Ehdr');
}

export function writePhdr(w: ByteWriter, p: ProgramHeader): void {
  const start = w.pos;
  w.u32(p.p_type);
  w.u32(p.p_flags);
  w.u64(p.p_offset);
  w.u64(p.p_vaddr);
  w.u64(p.p_paddr);
  w.u64(p.p_filesz);
  w.u64(p.p_memsz);
  w.u64(p.p_align);
  w.expectAt(start + PHDR64_SIZE, 'Elf64_Phdr');
}

export function writeShdr(w: ByteWriter, s: SectionHeader): void {
  const start = w.pos;
  w.u32(s.sh_name);
  w.u32(s.sh_type);
  w.u64(s.sh_flags);
  w.u64(s.sh_addr);
  w.u64(s.sh_offset);
  w.u64(s.sh_size);
  w.u32(s.sh_link);
  w.u32(s.sh_info);
  w.u64(s.sh_addralign);
  w.u64(s.sh_entsize);
  w.expectAt(start + SHDR64_SIZE, 'Elf64_Shdr');
}

/**
 * Elf64_Sym as six 32-bit stores into a Uint32Array over the table (entries
 * are 24 bytes, 8-byte aligned, so every field pair lands on a word): the
 * fastest way to fill millions of entries. `word` is the entry's byte offset / 4.
 * Little-endian hosts only; the writer checks.
 */
export function writeSymWords(
  words: Uint32Array,
  word: number,
  st_name: number,
  st_info: number,
  st_other: number,
  st_shndx: number,
  st_value: number,
  st_size: number,
): void {
  words[word] = st_name;
  words[word + 1] = st_info | (st_other << 8) | (st_shndx << 16);
  words[word + 2] = st_value >>> 0;
  words[word + 3] = Math.floor(st_value / 0x1_0000_0000);
  words[word + 4] = st_size >>> 0;
  words[word + 5] = Math.floor(st_size / 0x1_0000_0000);
}

export function writeDyn(w: ByteWriter, d: DynamicEntry): void {
  w.i64(d.d_tag); // d_tag
  w.u64(d.d_val); // d_un
}

export function writeRela(w: ByteWriter, r_offset: bigint, r_info: bigint, r_addend: bigint): void {
  w.u64(r_offset);
  w.u64(r_info);
  w.i64(r_addend);
}
