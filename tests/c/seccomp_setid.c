/* Refuses one set*id call with a seccomp filter, then makes it: what `secpolctl on`'s
 * id filter does to a restricted type, seen from the tracer's side.
 *
 *   seccomp_setid setuid|setgid|setgroups ID
 *
 * Installs a libseccomp filter (default allow) that makes setuid(ID) (or setgid(ID), or
 * setgroups with any list, as the filter cannot read one) fail with EPERM before the
 * kernel checks any capability, then calls it (setgroups with the list [ID]). Prints
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
    const char *call = argc == 3 ? argv[1] : "";
    long sys = !strcmp(call, "setuid") ? SYS_setuid : !strcmp(call, "setgid") ? SYS_setgid
               : !strcmp(call, "setgroups") ? SYS_setgroups : -1;
    if (sys < 0) {
        fprintf(stderr, "usage: seccomp_setid setuid|setgid|setgroups ID\n");
        return 2;
    }
    unsigned long id = strtoul(argv[2], NULL, 10);
    /* setgroups: refused whenever the list is not empty. */
    struct scmp_arg_cmp arg = sys == SYS_setgroups ? SCMP_A0(SCMP_CMP_NE, 0) : SCMP_A0(SCMP_CMP_EQ, id);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "seccomp_init failed\n");
        return 2;
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), (int)sys, 1, arg);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "cannot install the seccomp filter: %s\n", strerror(-rc));
        return 2;
    }

    /* The raw syscall: glibc's wrapper would broadcast it to threads (there are none). */
    gid_t list[1] = {(gid_t)id};
    long ret = sys == SYS_setgroups ? syscall(sys, 1, list) : syscall(sys, id);
    int err = errno;
    printf("%s(%lu): %s\n", call, id, ret == 0 ? "ok" : strerror(err));
    return ret == -1 && err == EPERM ? 0 : 1;
}
