/* testlib.h - a tiny assertion harness for unit tests. Each test binary
 * prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef DP_TESTLIB_H
#define DP_TESTLIB_H

#include <stdio.h>
#include <string.h>

extern int tl_passed, tl_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            tl_passed++;                                                                           \
        else {                                                                                     \
            tl_failed++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a == _b)                                                                              \
            tl_passed++;                                                                           \
        else {                                                                                     \
            tl_failed++;                                                                           \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (_a && _b && strcmp(_a, _b) == 0)                                                       \
            tl_passed++;                                                                           \
        else {                                                                                     \
            tl_failed++;                                                                           \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    _a ? _a : "(null)", _b ? _b : "(null)");                                       \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_MEM(a, alen, b, blen)                                                             \
    do {                                                                                           \
        if ((size_t)(alen) == (size_t)(blen) &&                                                    \
            ((size_t)(alen) == 0 || memcmp((a), (b), (alen)) == 0))                                \
            tl_passed++;                                                                           \
        else {                                                                                     \
            tl_failed++;                                                                           \
            fprintf(stderr, "%s:%d: %s differs (len %zu vs %zu)\n", __FILE__, __LINE__, #a,        \
                    (size_t)(alen), (size_t)(blen));                                               \
        }                                                                                          \
    } while (0)

/* tl_load_hex: the messages of a recording ("<LSN> <hex bytes>" per line,
 * as tests/tools/record_pgoutput.sh writes them), at most max, each
 * malloc'd into msgs[i] with its length and LSN (lsns may be NULL); exits
 * when the file cannot be read. Returns how many. */
int tl_load_hex(const char *path, unsigned char **msgs, size_t *lens, unsigned long long *lsns,
                int max);

/* tl_finish: print the closing line and return the process exit code. */
int tl_finish(const char *suite);

#endif
