/*
 * lookup dlsym|dladdr|miss FILE.so NAMES.txt COUNT PASSES
 * Loads FILE.so (RTLD_NOW | RTLD_LOCAL) and times libc's own dlsym or dladdr
 * with clock_gettime, without any FFI in between: dlsym of every name in
 * NAMES.txt (one a line), or dladdr of the addresses of the first COUNT
 * names, or (miss) dlsym(RTLD_DEFAULT) of names absent from FILE.so, which is
 * loaded RTLD_GLOBAL so that every miss crosses its table. One untimed pass first (every name must resolve, every address must
 * be named back), then PASSES timed passes. Prints one JSON line with the
 * nanoseconds of each timed pass.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

int main(int argc, char **argv) {
  if (argc != 6) die("usage", "lookup dlsym|dladdr|miss FILE.so NAMES.txt COUNT PASSES");
  int addr_mode = strcmp(argv[1], "dladdr") == 0;
  int miss_mode = strcmp(argv[1], "miss") == 0;
  long count = atol(argv[4]);
  int passes = atoi(argv[5]);

  long n;
  char **names = read_lines(argv[3], &n);
  if (count <= 0 || count > n) count = n;

  void *h = dlopen(argv[2], RTLD_NOW | (miss_mode ? RTLD_GLOBAL : RTLD_LOCAL));
  if (h == NULL) die("dlopen", dlerror());
  void **addrs = malloc(count * sizeof *addrs);
  for (long i = 0; i < count && miss_mode; i++)
    if (dlsym(RTLD_DEFAULT, names[i]) != NULL) die("dlsym found an absent name", names[i]);
  for (long i = 0; i < count && !miss_mode; i++) {
    addrs[i] = dlsym(h, names[i]);
    if (addrs[i] == NULL) die("dlsym found nothing for", names[i]);
  }

  unsigned long long check = 0;
  if (addr_mode) {
    for (long i = 0; i < count; i++) {
      Dl_info info;
      if (dladdr(addrs[i], &info) == 0 || info.dli_saddr != addrs[i] || info.dli_sname == NULL || strcmp(info.dli_sname, names[i]) != 0)
        die("dladdr does not name", names[i]);
    }
  }

  printf("{\"mode\":\"%s\",\"count\":%ld,\"passNs\":[", argv[1], count);
  for (int pass = 0; pass < passes; pass++) {
    long long t0 = now_ns();
    if (addr_mode) {
      for (long i = 0; i < count; i++) {
        Dl_info info;
        dladdr(addrs[i], &info);
        check += (unsigned long long)(size_t)info.dli_saddr;
      }
    } else if (miss_mode) {
      for (long i = 0; i < count; i++) check += (unsigned long long)(size_t)dlsym(RTLD_DEFAULT, names[i]);
    } else {
      for (long i = 0; i < count; i++) check += (unsigned long long)(size_t)dlsym(h, names[i]);
    }
    long long t1 = now_ns();
    printf("%s%lld", pass ? "," : "", t1 - t0);
  }
  printf("],\"check\":%llu}\n", check);
  return 0;
}
