/* Drops capabilities with a raw capset(2), in the two ways `protect` tells apart:
 *
 *   capdrop keep CAP...   permitted = effective = only these ("drop everything else")
 *   capdrop drop CAP...   the current sets minus these (drops them by name)
 *
 * Prints the resulting state; exits 1 if capset fails. */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "keep") && strcmp(argv[1], "drop"))) {
        fprintf(stderr, "usage: capdrop keep|drop CAP...\n");
        return 2;
    }
    int keep = !strcmp(argv[1], "keep");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (capget(&hdr, data)) return 1;
    if (keep) memset(data, 0, sizeof data);
    for (int i = 2; i < argc; i++) {
        int c = cap_arg(argv[i]);
        unsigned bit = 1u << (c % 32);
        if (keep) {
            data[c / 32].permitted |= bit;
            data[c / 32].effective |= bit;
        } else {
            data[c / 32].permitted &= ~bit;
            data[c / 32].effective &= ~bit;
            data[c / 32].inheritable &= ~bit;
        }
    }
    if (said(argv[1], capset(&hdr, data))) return 1;
    print_state();
    return 0;
}
