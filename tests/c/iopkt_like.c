/* Behaves like QNX's io-pkt: asks for capabilities it may not get and carries on when
 * the calls fail. Each call's result is printed; the exit status is always 0.
 *
 *   [setgid, setuid(UID)]                   with -u: become non-root first (no caps left)
 *   prctl(PR_SET_KEEPCAPS, 1)
 *   capset(permitted = effective = current + net_admin, net_raw, sys_rawio, ipc_lock)
 *   prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, net_raw)
 *   prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS)
 *
 * Usage: iopkt_like [-u UID] */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "-u")) {
        uid_t uid = (uid_t)atoi(argv[2]);
        if (said("setuid", setgid(uid) || setuid(uid))) return 0;
    }
    said("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));

    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    capget(&hdr, data);
    int want[] = {CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_RAWIO, CAP_IPC_LOCK};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        data[want[i] / 32].permitted |= 1u << (want[i] % 32);
        data[want[i] / 32].effective |= 1u << (want[i] % 32);
    }
    said("raise", capset(&hdr, data));
    said("ambient", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
    said("securebits", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0));
    printf("ready\n");
    print_state();
    return 0;
}
