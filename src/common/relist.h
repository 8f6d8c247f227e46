/* relist.h - a comma-separated list of regular expressions, each matched
 * against a whole string (Debezium's table.include.list and friends, Kafka
 * Connect's topic.creation.<group>.include). */
#ifndef DP_COMMON_RELIST_H
#define DP_COMMON_RELIST_H

#include <regex.h>
#include <stddef.h>

#include "common/err.h"

typedef struct dp_relist {
    regex_t *re;
    size_t n;
} dp_relist_t;

/* dp_relist_compile: list (may be NULL or empty: no patterns) into out,
 * case-insensitive extended regexes anchored at both ends. The error
 * names the pattern and the configuration key. */
dp_err_t dp_relist_compile(const char *list, dp_relist_t *out, const char *key, char *errstr,
                           size_t errstr_size);
/* dp_relist_compile_exact: as dp_relist_compile, matching case as it is
 * (Kafka Connect's lists of topic patterns, e.g. topic.creation.<group>.include) */
dp_err_t dp_relist_compile_exact(const char *list, dp_relist_t *out, const char *key, char *errstr,
                                 size_t errstr_size);
/* dp_regcomp_whole: compile pattern (POSIX extended) to match a whole
 * string, "^(pattern)$", with cflags besides REG_EXTENDED; regcomp's code */
int dp_regcomp_whole(regex_t *re, const char *pattern, int cflags);
/* dp_relist_match: whether one of the patterns matches all of s */
int dp_relist_match(const dp_relist_t *l, const char *s);
void dp_relist_free(dp_relist_t *l);

#endif
