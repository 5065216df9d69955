/* Behaves like QNX's io-pkt: asks for capabilities it may not get and carries on when
 * the calls fail. Each call's result is printed; the exit status is always 0.
 *
 *   [setgid, setuid(UID)]                   with -u: become non-root first (no caps left)
 *   [raw capset, PR_CAPBSET_DROP]           with -r: start as if restricted, without
 *                                           net_admin, net_raw, sys_rawio, ipc_lock and
 *                                           setpcap (raw system calls: not reported)
 *   prctl(PR_SET_KEEPCAPS, 1)
 *   capset(permitted = effective = current + net_admin, net_raw, sys_rawio, ipc_lock)
 *   prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, net_raw)
 *   prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS)
 *
 * Usage: iopkt_like [-r] [-u UID] */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static const int want[] = {CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_RAWIO, CAP_IPC_LOCK};

/* Takes the wanted capabilities and setpcap away, as a restricted type would start. */
static int start_restricted(void) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    int gone[] = {CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_RAWIO, CAP_IPC_LOCK, CAP_SETPCAP};
    unsigned n = sizeof gone / sizeof gone[0];
    for (unsigned i = 0; i < n; i++)
        if (syscall(SYS_prctl, PR_CAPBSET_DROP, gone[i], 0, 0, 0)) return -1;
    if (syscall(SYS_capget, &hdr, data)) return -1;
    for (unsigned i = 0; i < n; i++) {
        unsigned bit = 1u << (gone[i] % 32);
        data[gone[i] / 32].effective &= ~bit;
        data[gone[i] / 32].permitted &= ~bit;
        data[gone[i] / 32].inheritable &= ~bit;
    }
    return (int)syscall(SYS_capset, &hdr, data);
}

int main(int argc, char **argv) {
    int i = 1;
    if (i < argc && !strcmp(argv[i], "-r")) {
        if (said("restricted", start_restricted())) return 0;
        i++;
    }
    if (i + 1 < argc && !strcmp(argv[i], "-u")) {
        uid_t uid = (uid_t)atoi(argv[i + 1]);
        if (said("setuid", setgid(uid) || setuid(uid))) return 0;
    }
    errno = EDOM; /* a successful call leaves errno alone, with the preload too */
    said("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    printf("errno after success: %s\n", strerror(errno));

    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    capget(&hdr, data);
    for (unsigned w = 0; w < sizeof want / sizeof want[0]; w++) {
        data[want[w] / 32].permitted |= 1u << (want[w] % 32);
        data[want[w] / 32].effective |= 1u << (want[w] % 32);
    }
    said("raise", capset(&hdr, data));
    said("ambient", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
    said("securebits", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0));
    printf("ready\n");
    print_state();
    return 0;
}
