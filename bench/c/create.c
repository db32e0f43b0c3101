/* Figure 4's floor: the system calls of one dlcreate + dldelete, made from C.
 *
 *   create SPEC COUNT
 *
 * SPEC (written by bench/figures/4-dlcreate.ts from a live library) names the
 * zygote and what dlbind does with it, one item a line:
 *   file PATH SIZE    a live library's backing file (/proc/<pid>/fd/<n>) and its size
 *   alias OFFSET LEN  MADV_DONTDUMP on the writable alias, at an object offset
 * The zygote's written pages are read from the file once (SEEK_DATA/SEEK_HOLE), then each of
 * COUNT libraries is: memfd_create, the alias mapped MAP_FIXED into address space reserved
 * PROT_NONE, the pages pwritten (the last one, the section headers, sets the file's size),
 * dlopen of /proc/<pid>/fd/<n>, dlinfo, the madvise calls; then dlclose, mincore of the load
 * base, the alias back to PROT_NONE, close. Prints {"createNs":[...],"deleteNs":[...]}, one pair of numbers a library,
 * after 20 untimed ones. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>
#include "bench.h"

struct range { long offset, length; };

int main(int argc, char **argv) {
  if (argc != 3) die("usage", "create SPEC COUNT");
  long count = atol(argv[2]);
  FILE *spec = fopen(argv[1], "r");
  if (spec == NULL) die("cannot open", argv[1]);
  char path[4096], kind[16];
  long size = 0;
  struct range alias[32], data[64];
  int nalias = 0, ndata = 0;
  while (fscanf(spec, "%15s", kind) == 1) {
    if (strcmp(kind, "file") == 0) {
      if (fscanf(spec, "%4095s %ld", path, &size) != 2) die("bad spec line", kind);
    } else if (strcmp(kind, "alias") == 0 && nalias < 32) {
      if (fscanf(spec, "%ld %ld", &alias[nalias].offset, &alias[nalias].length) != 2) die("bad spec line", kind);
      nalias++;
    } else die("bad spec item", kind);
  }
  fclose(spec);

  /* The zygote's written ranges and their bytes. */
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) die("cannot open", path);
  char *bytes[64];
  for (off_t at = 0; at < size && ndata < 64;) {
    off_t start = lseek(src, at, SEEK_DATA);
    if (start < 0) break;
    off_t end = lseek(src, start, SEEK_HOLE);
    if (end > size) end = size;
    data[ndata].offset = start;
    data[ndata].length = end - start;
    bytes[ndata] = malloc(end - start);
    if (pread(src, bytes[ndata], end - start, start) != end - start) die("cannot read", path);
    ndata++;
    at = end;
  }
  close(src);
  if (ndata == 0 || data[ndata - 1].offset + data[ndata - 1].length != size) die("the written pages do not end the file", path);

  long page = sysconf(_SC_PAGESIZE);
  long span = (size + page - 1) / page * page;
  /* As dlbind does: the alias lives in address space reserved once. */
  char *space = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (space == MAP_FAILED) die("mmap", strerror(errno));
  long long *create_ns = malloc(count * sizeof *create_ns), *delete_ns = malloc(count * sizeof *delete_ns);
  unsigned char vec[16];
  for (long i = -20; i < count; i++) {
    long long t0 = now_ns();
    int fd = memfd_create("libcreate-floor.so", MFD_CLOEXEC);
    if (fd < 0) die("memfd_create", strerror(errno));
    if (mmap(space, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != space) die("mmap alias", strerror(errno));
    for (int k = 0; k < ndata; k++)
      if (pwrite(fd, bytes[k], data[k].length, data[k].offset) != data[k].length) die("pwrite", strerror(errno));
    char name[64];
    snprintf(name, sizeof name, "/proc/%d/fd/%d", getpid(), fd);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) die("dlopen", dlerror());
    struct link_map *map;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) != 0) die("dlinfo", dlerror());
    char *base = (char *)map->l_addr;
    for (int k = 0; k < nalias; k++) madvise(space + alias[k].offset, alias[k].length, MADV_DONTDUMP);
    long long t1 = now_ns();
    if (dlclose(h) != 0) die("dlclose", dlerror());
    if (mincore(base, 1, vec) == 0 || errno != ENOMEM) die("still mapped after dlclose", name);
    if (mmap(space, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != space) die("mmap PROT_NONE", strerror(errno));
    close(fd);
    long long t2 = now_ns();
    if (i >= 0) {
      create_ns[i] = t1 - t0;
      delete_ns[i] = t2 - t1;
    }
  }
  printf("{\"createNs\":[");
  for (long i = 0; i < count; i++) printf("%s%lld", i ? "," : "", create_ns[i]);
  printf("],\"deleteNs\":[");
  for (long i = 0; i < count; i++) printf("%s%lld", i ? "," : "", delete_ns[i]);
  printf("]}\n");
  return 0;
}
