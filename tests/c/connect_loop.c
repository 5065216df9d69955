/* Connects out to one address again and again:
 *
 *   connect_loop ADDR PORT N [again]
 *
 * N UDP connects to ADDR:PORT (IPv4), each on a new socket (a UDP connect sends nothing).
 * With `again`, it then runs itself anew (exec) to connect once more: a new program.
 * Exits 1 when a connect fails. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: connect_loop ADDR PORT N [again]\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "connect_loop: bad address %s\n", argv[1]);
        return 2;
    }
    long n = atol(argv[3]);
    for (long i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof to) != 0) {
            perror("connect_loop: connect");
            return 1;
        }
        close(s);
    }
    if (argc > 4 && !strcmp(argv[4], "again")) {
        char *next[] = {argv[0], argv[1], argv[2], "1", NULL};
        execv("/proc/self/exe", next);
        perror("connect_loop: exec");
        return 1;
    }
    return 0;
}
