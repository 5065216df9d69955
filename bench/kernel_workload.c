/* A capability-heavy workload for bench/kernel.sh. Run as a non-root user: every
 * iteration makes two capability checks, one real and denied (kill(1, 0) on a process of
 * another user: CAP_KILL) and one NOAUDIT probe (a private writable mapping: memory
 * accounting asks for CAP_SYS_ADMIN). Both are cheap syscalls, so the cost of watching
 * the checks shows. Prints nanoseconds per iteration. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 500000;
	if (geteuid() == 0) {
		fprintf(stderr, "kernel_workload: run as a non-root user\n");
		return 2;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (kill(1, 0) == 0 || errno != EPERM) {
			fprintf(stderr, "kernel_workload: kill(1, 0) was not refused\n");
			return 1;
		}
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		munmap(p, 4096);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / n);
	return 0;
}
