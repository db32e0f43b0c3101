/*
 * bind FILE NAMES.txt COUNT VALUE [walk]
 * The C reference of a bind: the table stores dlbind's LiveSymbolTable makes
 * (src/loader/symtab.ts), made in C into a live library's own tables. FILE is
 * the library's backing file (/proc/<pid>/fd/<n> of a fresh library of the
 * bench process), mapped MAP_SHARED as dlbind's alias is, so that the stores
 * land in the pages ld.so reads. The shape comes from the file's section
 * headers (.gnu.hash, .dynsym, .dynstr, .data), as a reader finds it.
 *
 * Binds the first COUNT names of NAMES.txt (one a line) as 8-byte STT_OBJECT
 * symbols at VALUE, VALUE + 8, ... (object offsets in .data), each with what
 * a bind does to the tables: the GNU hash of the name, the duplicate check
 * (the bloom filter's two bits, and only when both are set the walk along its
 * bucket's chain: hash words, then the name's bytes), the name
 * copied into .dynstr, the Elf64_Sym entry, its hash word with the end bit,
 * the two bloom bits, and the publishing store (the previous last word's end
 * bit, or the bucket word); a full run is copied to a fresh one with room for
 * half as many again and its old slots made tombstones, .dynsym's sh_size
 * follows the high-water mark. With `walk`, every bind walks its chain, bloom
 * bits or not (the duplicate check as dlbind made it when issue 16 was filed).
 * Only the loop is timed (clock_gettime); the
 * names are read and the file mapped before. Prints one JSON line.
 * The bench then finds every name through libc's dlsym in the library.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include <unistd.h>

#define FIRST_RUN 4
#define TOMBSTONE_INFO ELF64_ST_INFO(STB_GLOBAL, STT_FILE)

/* The live table as a bind sees it. */
static uint32_t nbuckets, bloom_mask, bloom_shift, slot_capacity, str_capacity, str_next, next_fresh = 1;
static uint64_t *bloom;
static uint32_t *buckets, *chain; /* chain[i - 1]: hash word of .dynsym index i (symoffset 1) */
static Elf64_Sym *syms;
static char *strtab;
static uint64_t *dynsym_size; /* .dynsym's sh_size */
static uint32_t *run_start, *run_cap, *run_used;
static uint16_t data_shndx;
static int always_walk;

static inline void store_release(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static inline uint32_t gnu_hash(const char *s, size_t *len) {
  uint32_t h = 5381;
  const unsigned char *p = (const unsigned char *)s;
  for (; *p; p++) h = h * 33 + *p;
  *len = (size_t)(p - (const unsigned char *)s);
  return h;
}

static inline void add_to_bloom(uint32_t h) {
  uint64_t *w = &bloom[(h >> 6) & bloom_mask];
  uint64_t bits = (1ULL << (h & 63)) | (1ULL << ((h >> bloom_shift) & 63));
  if ((*w & bits) != bits) __atomic_store_n(w, *w | bits, __ATOMIC_RELEASE);
}

static uint32_t take_run(uint32_t cap) {
  if (next_fresh + cap > slot_capacity) die("the symbol table is full", NULL);
  uint32_t at = next_fresh;
  next_fresh += cap;
  *dynsym_size = (uint64_t)next_fresh * sizeof(Elf64_Sym);
  return at;
}

static inline void write_sym(uint32_t at, uint32_t name, uint64_t value) {
  Elf64_Sym *s = &syms[at];
  s->st_name = name;
  s->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
  s->st_other = STV_DEFAULT;
  s->st_shndx = data_shndx;
  s->st_value = value;
  s->st_size = 8;
}

/* Bucket b's run is full (or absent): copy it and the new entry to a fresh run, publish it with the bucket word. */
static void copy_run(uint32_t b, uint32_t h, uint32_t name, uint64_t value) {
  uint32_t start = run_start[b], used = start ? run_used[b] : 0, live = used + 1, cap = FIRST_RUN;
  while (2 * cap < 3 * live + 2) cap *= 2;
  uint32_t fresh = take_run(cap);
  for (uint32_t i = fresh; i < fresh + cap; i++) {
    chain[i - 1] = 1;
    syms[i].st_info = TOMBSTONE_INFO;
  }
  for (uint32_t k = 0; k < used; k++) {
    syms[fresh + k] = syms[start + k];
    chain[fresh + k - 1] = chain[start + k - 1] & ~1u;
  }
  write_sym(fresh + used, name, value);
  chain[fresh + used - 1] = h | 1;
  add_to_bloom(h);
  store_release(&buckets[b], fresh);
  for (uint32_t k = 0; k < used; k++) __atomic_store_n(&syms[start + k].st_info, TOMBSTONE_INFO, __ATOMIC_RELEASE);
  run_start[b] = fresh;
  run_cap[b] = cap;
  run_used[b] = live;
}

static void bind(const char *s, uint64_t value) {
  size_t len;
  uint32_t h = gnu_hash(s, &len);
  uint32_t b = h % nbuckets;
  uint32_t start = run_start[b], used = run_used[b];
  /* As symtab.ts: only a name whose two bloom bits are both set can be bound already. */
  uint64_t bits = (1ULL << (h & 63)) | (1ULL << ((h >> bloom_shift) & 63));
  if (always_walk || (bloom[(h >> 6) & bloom_mask] & bits) == bits)
    for (uint32_t i = start; i < start + used; i++)
      if ((chain[i - 1] >> 1) == (h >> 1) && syms[i].st_info != TOMBSTONE_INFO && strcmp(strtab + syms[i].st_name, s) == 0) die("already bound", s);
  if (str_next + len + 1 > str_capacity) die("the string table is full", s);
  uint32_t name = str_next;
  memcpy(strtab + name, s, len + 1);
  str_next += (uint32_t)len + 1;
  if (start == 0 || used == run_cap[b]) {
    copy_run(b, h, name, value);
    return;
  }
  uint32_t at = start + used;
  write_sym(at, name, value);
  chain[at - 1] = h | 1;
  add_to_bloom(h);
  store_release(&chain[at - 2], chain[at - 2] & ~1u);
  run_used[b] = used + 1;
}

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "walk") == 0)) die("usage", "bind FILE NAMES.txt COUNT VALUE [walk]");
  always_walk = argc == 6;
  long count = atol(argv[3]);
  uint64_t value = strtoull(argv[4], NULL, 0);

  long n;
  char **names = read_lines(argv[2], &n);
  if (n < count) die("names file", "fewer names than COUNT");

  int fd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (fd < 0) die("cannot open", argv[1]);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat", argv[1]);
  unsigned char *mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) die("mmap", argv[1]);
  close(fd);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)mem;
  Elf64_Shdr *sh = (Elf64_Shdr *)(mem + eh->e_shoff);
  const char *shnames = (const char *)mem + sh[eh->e_shstrndx].sh_offset;
  Elf64_Shdr *gnu = NULL, *dynsym = NULL;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type == SHT_GNU_HASH) gnu = &sh[i];
    if (sh[i].sh_type == SHT_DYNSYM) dynsym = &sh[i];
    if (strcmp(shnames + sh[i].sh_name, ".data") == 0) data_shndx = (uint16_t)i;
  }
  if (gnu == NULL || dynsym == NULL || data_shndx == 0) die("not a live library", "no .gnu.hash, .dynsym or .data");
  Elf64_Shdr *dynstr = &sh[dynsym->sh_link];
  uint32_t *header = (uint32_t *)(mem + gnu->sh_offset);
  nbuckets = header[0];
  /* A table that can grow starts at symoffset 1; one made with DLBIND_FIXED_BUCKETS=1 keeps the count
     ld.so took at load, whose buckets cover the hash words of .dynsym 1 ... symoffset - 1 (never used). */
  uint32_t symoffset = header[1];
  if (symoffset < 1 || symoffset > nbuckets) die("not a fresh live library", "symoffset out of range");
  bloom_mask = header[2] - 1;
  bloom_shift = header[3];
  bloom = (uint64_t *)(header + 4);
  buckets = (uint32_t *)(bloom + header[2]);
  /* chain[i - 1]: the hash word of .dynsym index i, from the origin ld.so computes (buckets + nbuckets - symoffset). */
  uint32_t chain_at = nbuckets - symoffset + 1;
  chain = buckets + chain_at;
  slot_capacity = (uint32_t)((gnu->sh_size - 16 - 8ULL * header[2]) / 4 - chain_at + 1);
  next_fresh = symoffset;
  syms = (Elf64_Sym *)(mem + dynsym->sh_offset);
  dynsym_size = &dynsym->sh_size;
  if (dynsym->sh_size != sizeof(Elf64_Sym)) die("not a fresh live library", "symbols are bound already");
  strtab = (char *)mem + dynstr->sh_offset;
  str_capacity = (uint32_t)dynstr->sh_size;
  /* A fresh library's strings are packed at the start: the free space begins after the first empty string past 0. */
  for (str_next = 1; str_next + 1 < str_capacity && !(strtab[str_next] == 0 && strtab[str_next + 1] == 0); str_next++) {
  }
  str_next++;
  run_start = calloc(nbuckets, 4);
  run_cap = calloc(nbuckets, 4);
  run_used = calloc(nbuckets, 4);

  long long t0 = now_ns();
  for (long i = 0; i < count; i++) bind(names[i], value + 8 * (uint64_t)i);
  long long t1 = now_ns();
  printf("{\"count\":%ld,\"ns\":%lld,\"slots\":%u,\"strings\":%u}\n", count, t1 - t0, next_fresh, str_next);
  return 0;
}
