/* The workloads of bench/compare.sh. Each times itself and prints nanoseconds per
 * iteration on stdout.
 *
 *   workloads setgroups N   as root: setgroups(0, NULL), an audited CAP_SETGID check that
 *                           is a real use, N times (the same use repeated)
 *   workloads probe N       as a non-root user: a denied kill(1, 0) (CAP_KILL) and a
 *                           private writable mmap (the CAP_SYS_ADMIN memory-accounting
 *                           NOAUDIT probe) per iteration
 *   workloads forkexec N    fork + exec /bin/true and wait, N times
 *   workloads shell N       /bin/sh -c running `ls /`, `cat /etc/hostname` and `true` N
 *                           times in a loop (an exec-heavy shell script)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int die(const char *what)
{
	fprintf(stderr, "workloads: %s: %s\n", what, strerror(errno));
	return 1;
}

static int run_setgroups(long n)
{
	for (long i = 0; i < n; i++)
		if (setgroups(0, NULL) != 0)
			return die("setgroups(0, NULL) (run as root)");
	return 0;
}

static int run_probe(long n)
{
	if (geteuid() == 0) {
		fprintf(stderr, "workloads: probe: run as a non-root user\n");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		if (kill(1, 0) == 0 || errno != EPERM) {
			fprintf(stderr, "workloads: kill(1, 0) was not refused\n");
			return 1;
		}
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return die("mmap");
		munmap(p, 4096);
	}
	return 0;
}

static int spawn_wait(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "workloads: %s failed (status %d)\n", argv[0], st);
		return 1;
	}
	return 0;
}

static int run_forkexec(long n)
{
	char *argv[] = {"/bin/true", NULL};
	for (long i = 0; i < n; i++)
		if (spawn_wait(argv))
			return 1;
	return 0;
}

static int run_shell(long n)
{
	char script[256];
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt %ld ]; do ls / >/dev/null; cat /etc/hostname >/dev/null; /bin/true; i=$((i+1)); done",
		 n);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	return spawn_wait(argv);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: workloads setgroups|probe|forkexec|shell N\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (n <= 0) {
		fprintf(stderr, "workloads: N must be a positive number, not %s\n", argv[2]);
		return 2;
	}
	int (*run)(long) = NULL;
	if (!strcmp(argv[1], "setgroups"))
		run = run_setgroups;
	else if (!strcmp(argv[1], "probe"))
		run = run_probe;
	else if (!strcmp(argv[1], "forkexec"))
		run = run_forkexec;
	else if (!strcmp(argv[1], "shell"))
		run = run_shell;
	else {
		fprintf(stderr, "workloads: unknown workload %s\n", argv[1]);
		return 2;
	}
	double a = now_ns();
	int rc = run(n);
	double b = now_ns();
	if (rc)
		return rc;
	printf("%.1f\n", (b - a) / n);
	return 0;
}
