/* relist.c - lists of anchored regular expressions; see relist.h. */
#include "common/relist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static dp_err_t compile(const char *list, dp_relist_t *out, const char *key, int cflags,
                        char *errstr, size_t n) {
    memset(out, 0, sizeof *out);
    if (!list || !*list) return DP_OK;
    char *copy = dp_xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l && tok[l - 1] == ' ') tok[--l] = 0;
        if (!l) continue;
        out->re = dp_xrealloc(out->re, sizeof(regex_t) * (out->n + 1));
        if (dp_regcomp_whole(&out->re[out->n], tok, REG_NOSUB | cflags)) {
            /* the message before the copy tok points into goes */
            dp_err_t err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                                     "invalid regular expression \"%s\" in \"%s\"", tok, key);
            free(copy);
            return err;
        }
        out->n++;
    }
    free(copy);
    return DP_OK;
}

int dp_regcomp_whole(regex_t *re, const char *pattern, int cflags) {
    dp_buf_t pat;
    dp_buf_init(&pat, strlen(pattern) + 8);
    dp_buf_puts(&pat, "^(");
    dp_buf_puts(&pat, pattern);
    dp_buf_puts(&pat, ")$");
    int rc = regcomp(re, dp_buf_cstr(&pat), REG_EXTENDED | cflags);
    dp_buf_fini(&pat);
    return rc;
}

dp_err_t dp_relist_compile(const char *list, dp_relist_t *out, const char *key, char *errstr,
                           size_t n) {
    return compile(list, out, key, REG_ICASE, errstr, n);
}

dp_err_t dp_relist_compile_exact(const char *list, dp_relist_t *out, const char *key, char *errstr,
                                 size_t n) {
    return compile(list, out, key, 0, errstr, n);
}

int dp_relist_match(const dp_relist_t *l, const char *s) {
    for (size_t i = 0; i < l->n; i++)
        if (regexec(&l->re[i], s, 0, NULL, 0) == 0) return 1;
    return 0;
}

void dp_relist_free(dp_relist_t *l) {
    for (size_t i = 0; i < l->n; i++) regfree(&l->re[i]);
    free(l->re);
    memset(l, 0, sizeof *l);
}
