/* Refuses one set*id call with a seccomp filter, then makes it: what `secpolctl on`'s
 * id filter does to a restricted type, seen from the tracer's side.
 *
 *   seccomp_setid setuid|setgid ID
 *
 * Installs a libseccomp filter (default allow) that makes setuid(ID) (or setgid(ID))
 * fail with EPERM before the kernel checks any capability, then calls it. Prints
 * `setuid(ID): Operation not permitted`; exits 0 when the call was refused with EPERM,
 * 1 otherwise (2 for a usage or setup error). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "setuid") && strcmp(argv[1], "setgid"))) {
        fprintf(stderr, "usage: seccomp_setid setuid|setgid ID\n");
        return 2;
    }
    int uid_call = !strcmp(argv[1], "setuid");
    unsigned long id = strtoul(argv[2], NULL, 10);
    int nr = uid_call ? SCMP_SYS(setuid) : SCMP_SYS(setgid);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "seccomp_init failed\n");
        return 2;
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, SCMP_A0(SCMP_CMP_EQ, id));
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "cannot install the seccomp filter: %s\n", strerror(-rc));
        return 2;
    }

    /* The raw syscall: glibc's wrapper would broadcast it to threads (there are none). */
    long ret = syscall(uid_call ? SYS_setuid : SYS_setgid, id);
    int err = errno;
    printf("%s(%lu): %s\n", argv[1], id, ret == 0 ? "ok" : strerror(err));
    return ret == -1 && err == EPERM ? 0 : 1;
}
