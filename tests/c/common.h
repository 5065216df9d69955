/* Shared helpers of the preload test programs: capability names and the state report. */
#ifndef SECPOL_TEST_COMMON_H
#define SECPOL_TEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

/* Capability number of a name (`net_bind_service`, `cap_net_bind_service`) or a number. */
__attribute__((unused)) static int cap_arg(const char *s) {
    cap_value_t v;
    char buf[64];
    if (s[0] >= '0' && s[0] <= '9') return atoi(s);
    if (strncmp(s, "cap_", 4) != 0 && strlen(s) < sizeof buf - 4) {
        snprintf(buf, sizeof buf, "cap_%s", s);
        s = buf;
    }
    if (cap_from_name(s, &v) != 0) {
        fprintf(stderr, "unknown capability %s\n", s);
        exit(2);
    }
    return v;
}

/* Prints the uid and the capability lines of /proc/self/status, so two runs compare. */
__attribute__((unused)) static void print_state(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10))
            fputs(line, stdout);
    fclose(f);
}

/* Prints what a call returned, as `what: ok` or `what: <strerror>`. */
__attribute__((unused)) static int said(const char *what, int ret) {
    int e = errno;
    if (ret == 0) printf("%s: ok\n", what);
    else printf("%s: %s\n", what, strerror(e));
    return ret;
}

#endif
