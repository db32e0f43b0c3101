/* What the bench's C drivers share: a monotonic clock and a one-line failure. */
#ifndef DLBIND_BENCH_H
#define DLBIND_BENCH_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Prints "<program>: what: detail" and exits 1. */
static inline void die(const char *what, const char *detail) {
  fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, detail ? detail : "");
  exit(1);
}

/* The lines of a file (each ended by a newline), read whole before anything is timed; their count in *n. */
static inline char **read_lines(const char *path, long *n) {
  FILE *f = fopen(path, "r");
  if (f == NULL) die("cannot open", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc(size + 1);
  if (text == NULL || fread(text, 1, size, f) != (size_t)size) die("cannot read", path);
  text[size] = 0;
  fclose(f);
  long count = 0;
  for (long i = 0; i < size; i++) count += text[i] == '\n';
  char **lines = malloc((count + 1) * sizeof *lines);
  char *p = text;
  for (long k = 0; k < count; k++) {
    lines[k] = p;
    p = strchr(p, '\n');
    *p++ = 0;
  }
  *n = count;
  return lines;
}
#endif
