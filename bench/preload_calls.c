/* Timing driver for bench/preload.sh (not a test).
 *
 *   preload_calls exec N PROG [PRELOAD]   posix_spawn PROG N times (with LD_PRELOAD=PRELOAD
 *                                         in the child's environment when given); prints
 *                                         microseconds per spawn+exit
 *   preload_calls keepcaps N              prctl(PR_SET_KEEPCAPS, 0) N times: an
 *                                         intercepted, reported call; nanoseconds per call
 *   preload_calls capset N                capset(the current sets) N times: intercepted,
 *                                         reported, nothing dropped
 *   preload_calls other N                 prctl(PR_GET_DUMPABLE) N times: passes straight
 *                                         through the preload
 *
 * The driver itself runs with or without LD_PRELOAD as the script decides. */
#include <linux/capability.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
int capget(cap_user_header_t, cap_user_data_t);
int capset(cap_user_header_t, const cap_user_data_t);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: preload_calls exec|keepcaps|capset|other N [PROG [PRELOAD]]\n");
        return 2;
    }
    long n = atol(argv[2]);
    double t0 = now();
    if (!strcmp(argv[1], "exec") && argc >= 4) {
        char env_preload[4200];
        char *envp[] = {"PATH=/usr/bin:/bin", NULL, NULL};
        if (argc >= 5) {
            snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", argv[4]);
            envp[1] = env_preload;
        }
        char *args[] = {argv[3], NULL};
        for (long i = 0; i < n; i++) {
            pid_t pid;
            int st;
            if (posix_spawn(&pid, argv[3], NULL, NULL, args, envp)) return 1;
            if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) return 1;
        }
        printf("%.1f\n", (now() - t0) / n * 1e6);
        return 0;
    }
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (capget(&hdr, data)) return 1;
    t0 = now();
    for (long i = 0; i < n; i++) {
        int r;
        if (!strcmp(argv[1], "keepcaps")) r = prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        else if (!strcmp(argv[1], "capset")) r = capset(&hdr, data);
        else if (!strcmp(argv[1], "other")) r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) < 0;
        else return 2;
        if (r) return 1;
    }
    printf("%.0f\n", (now() - t0) / n * 1e9);
    return 0;
}
