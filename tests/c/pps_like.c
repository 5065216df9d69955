/* Behaves like QNX's pps at start-up: as root, keeps a few capabilities, switches to a
 * non-root user and drops everything else, the way Linux services do it:
 *
 *   prctl(PR_SET_KEEPCAPS, 1)             keep the permitted set across setuid
 *   prctl(PR_CAPBSET_DROP, c)             for every capability not kept (one by one)
 *   setgroups, setgid, setuid(UID)
 *   cap_set_proc(only the kept ones)      libcap: permitted = effective = KEEP
 *
 * Usage: pps_like [-u UID] CAP...  (names or numbers; default UID 65534)
 * Exits 1 if any step fails, after printing it; prints the final state otherwise. */
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    uid_t uid = 65534;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "-u")) {
        uid = (uid_t)atoi(argv[2]);
        first = 3;
    }
    unsigned long long keep = 0;
    for (int i = first; i < argc; i++) keep |= 1ULL << cap_arg(argv[i]);

    if (said("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))) return 1;
    int bad = 0;
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0)) bad = 1;
    if (said("bounding", bad ? -1 : 0)) return 1;
    if (said("setuid", setgroups(0, NULL) || setgid(uid) || setuid(uid))) return 1;

    cap_t caps = cap_init();
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        if (!(keep & (1ULL << c))) continue;
        cap_value_t v = c;
        cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
        cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
    }
    if (said("keep", cap_set_proc(caps))) return 1;
    cap_free(caps);
    print_state();
    return 0;
}
