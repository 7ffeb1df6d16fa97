/*
 * measure.c - run one command and report its wall time and its own peak RSS.
 *
 *   measure RESULT.json COMMAND [ARGS...]
 *
 * Forks, execs COMMAND, waits for it with wait4() and writes one JSON line to RESULT.json:
 *   {"wall_seconds": S, "maxrss_kib": K, "exit_code": C, "signal": N}
 * COMMAND's stdout and stderr are inherited. measure exits with COMMAND's exit code
 * (128 + signal number if it was killed).
 *
 * Why not wait4() straight from Python: Linux starts a process's ru_maxrss at the resident
 * size of the memory image it exec'd from (exec_mmap records the old mm's high-water mark).
 * Python's subprocess spawns with vfork, so every child would inherit the peak RSS of the
 * benchmark driver itself (numpy and h5py loaded: 40-100 MiB), hiding small peaks such as
 * the copy floor's. This launcher is a few hundred KiB when it forks, so the child's
 * ru_maxrss is its own.
 *
 * Build: gcc -O2 measure.c -o measure
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT.json COMMAND [ARGS...]\n");
        return 2;
    }
    FILE *result = fopen(argv[1], "w");
    if (!result) {
        fprintf(stderr, "measure: cannot create %s: %s\n", argv[1], strerror(errno));
        return 2;
    }

    double start = now_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "measure: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }

    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
            return 2;
        }
    }
    double wall = now_seconds() - start;

    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    fprintf(result, "{\"wall_seconds\": %.6f, \"maxrss_kib\": %ld, \"exit_code\": %d, \"signal\": %d}\n",
            wall, usage.ru_maxrss, code, signal_number);
    if (fclose(result) != 0) {
        fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    return code;
}
