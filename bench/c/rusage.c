/*
 * rusage OUT.json COMMAND [ARGS...]
 * Runs COMMAND (stdin, stdout and stderr inherited), waits for it with wait4,
 * and writes its wall time, peak RSS and CPU times to OUT.json. Exits with
 * the command's status. The bench measures tools it cannot instrument this way.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long tv_ns(struct timeval t) { return (long long)t.tv_sec * 1000000000LL + (long long)t.tv_usec * 1000LL; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rusage OUT.json COMMAND [ARGS...]\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  FILE *out = fopen(argv[1], "w");
  if (out == NULL) {
    perror(argv[1]);
    return 2;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  fprintf(out, "{\"wallNs\":%lld,\"maxRssKiB\":%ld,\"userNs\":%lld,\"sysNs\":%lld,\"status\":%d}\n", ns(t1) - ns(t0), ru.ru_maxrss,
          tv_ns(ru.ru_utime), tv_ns(ru.ru_stime), code);
  fclose(out);
  return code;
}
