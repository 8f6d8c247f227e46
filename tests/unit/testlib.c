#include "testlib.h"

#include <stdlib.h>

int tl_passed, tl_failed;

static int hexv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

int tl_load_hex(const char *path, unsigned char **msgs, size_t *lens, unsigned long long *lsns,
                int max) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char line[65536];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        unsigned hi, lo;
        char *hex = strchr(line, ' ');
        if (!hex || sscanf(line, "%X/%X", &hi, &lo) != 2) continue;
        hex++;
        size_t len = strcspn(hex, "\r\n") / 2;
        msgs[n] = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            msgs[n][i] = (unsigned char)(hexv(hex[2 * i]) << 4 | hexv(hex[2 * i + 1]));
        if (lsns) lsns[n] = (unsigned long long)hi << 32 | lo;
        lens[n++] = len;
    }
    fclose(f);
    return n;
}

int tl_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}
