/* transforms.c - RegexRouter, ExtractNewRecordState and message.key.columns
 * from capture's settings. */
#include "capture/transforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/relist.h"

#define REGEX_ROUTER "org.apache.kafka.connect.transforms.RegexRouter"

static dp_err_t add_router(cap_transforms_t *t, const capture_settings_t *s, const char *alias,
                           char *errstr, size_t n) {
    char key[256];
    snprintf(key, sizeof key, "%s.regex", alias);
    const char *re = cfg_kv_get(&s->transforms_kv, key);
    snprintf(key, sizeof key, "%s.replacement", alias);
    const char *rep = cfg_kv_get(&s->transforms_kv, key);
    if (!re || !rep)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "transform \"%s\" needs \"transforms.%s.regex\" "
                         "and \"transforms.%s.replacement\"",
                         alias, alias, alias);
    cap_router_t *r = &t->routers[t->nrouters];
    if (dp_regcomp_whole(&r->re, re, 0))
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "invalid regular expression in \"transforms.%s.regex\"", alias);
    r->replacement = dp_xstrdup(rep);
    t->nrouters++;
    return DP_OK;
}

static dp_err_t add_unwrap(cap_transforms_t *t, const capture_settings_t *s, const char *alias,
                           char *errstr, size_t n) {
    /* changes only values, RegexRouter only topics: the two commute */
    if (t->unwrap)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"transforms.%s.type\": datapipe runs one " DBZ_UNWRAP_TYPE
                         " transform (\"%s\" is one)",
                         alias, t->unwrap->alias);
    t->unwrap = dp_xcalloc(1, sizeof *t->unwrap);
    dp_err_t err = dbz_unwrap_init(t->unwrap, alias, &s->transforms_kv, s->value_schemas_enable,
                                   (size_t)s->max_event_bytes, errstr, n);
    if (err) {
        free(t->unwrap);
        t->unwrap = NULL;
    }
    return err;
}

/* every transforms.<name>.<key> must belong to a listed transform */
static dp_err_t check_keys(const cap_transforms_t *t, const capture_settings_t *s, char *errstr,
                           size_t n) {
    for (size_t i = 0; i < s->transforms_kv.n; i++) {
        const char *k = s->transforms_kv.keys[i], *dot = strrchr(k, '.');
        const char *prop = dot ? dot + 1 : "";
        size_t al = t->unwrap ? strlen(t->unwrap->alias) : 0;
        if (t->unwrap && strncmp(k, t->unwrap->alias, al) == 0 && k[al] == '.')
            continue; /* checked by dbz_unwrap_init */
        if (strcmp(prop, "type") && strcmp(prop, "regex") && strcmp(prop, "replacement"))
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "unknown configuration key \"transforms.%s\"", k);
    }
    return DP_OK;
}

static dp_err_t init_transforms(cap_transforms_t *t, const capture_settings_t *s, char *errstr,
                                size_t n) {
    if (!s->transforms || !*s->transforms) {
        if (s->transforms_kv.n)
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "\"transforms.%s\" set but \"transforms\" is empty",
                             s->transforms_kv.keys[0]);
        return DP_OK;
    }
    char *copy = dp_xstrdup(s->transforms), *save = NULL;
    size_t max = 1;
    for (const char *p = copy; *p; p++) max += *p == ',';
    t->routers = dp_xcalloc(max, sizeof *t->routers);
    dp_err_t err = DP_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char key[256];
        snprintf(key, sizeof key, "%s.type", tok);
        const char *type = cfg_kv_get(&s->transforms_kv, key);
        if (!type)
            err = dp_seterr(errstr, n, DP_ERR_CONFIG, "missing \"transforms.%s.type\"", tok);
        else if (strcmp(type, DBZ_UNWRAP_TYPE) == 0)
            err = add_unwrap(t, s, tok, errstr, n);
        else if (strcmp(type, REGEX_ROUTER) == 0)
            err = add_router(t, s, tok, errstr, n);
        else
            err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                            "\"transforms.%s.type\" names a transform datapipe does not "
                            "implement (it implements " REGEX_ROUTER " and " DBZ_UNWRAP_TYPE ")",
                            tok);
    }
    free(copy);
    return err ? err : check_keys(t, s, errstr, n);
}

/* one "<schema.table regex>:<col>,<col>" entry of message.key.columns */
static dp_err_t add_key_override(cap_transforms_t *t, char *ent, size_t idx, char *errstr,
                                 size_t n) {
    char *colon = strrchr(ent, ':');
    if (!colon || colon == ent || !colon[1])
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"message.key.columns\": entry %zu is not "
                         "<schema.table>:<column>[,<column>...]",
                         idx);
    *colon = 0;
    t->keys = dp_xrealloc(t->keys, sizeof *t->keys * (t->nkeys + 1));
    cap_key_override_t *ko = &t->keys[t->nkeys];
    memset(ko, 0, sizeof *ko);
    if (dp_regcomp_whole(&ko->table, ent, REG_ICASE | REG_NOSUB))
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"message.key.columns\": entry %zu has an invalid regular expression",
                         idx);
    t->nkeys++;
    char *csave = NULL;
    for (char *col = strtok_r(colon + 1, ",", &csave); col; col = strtok_r(NULL, ",", &csave)) {
        while (*col == ' ') col++;
        size_t l = strlen(col);
        while (l && col[l - 1] == ' ') col[--l] = 0;
        if (!l) continue;
        ko->cols = dp_xrealloc(ko->cols, sizeof(char *) * (ko->ncols + 1));
        ko->cols[ko->ncols++] = dp_xstrdup(col);
    }
    if (!ko->ncols)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"message.key.columns\": entry %zu names no column", idx);
    return DP_OK;
}

/* message.key.columns: "<schema.table regex>:<col>,<col>;<regex>:<col>" */
static dp_err_t init_key_columns(cap_transforms_t *t, const char *spec, char *errstr, size_t n) {
    if (!spec || !*spec) return DP_OK;
    char *copy = dp_xstrdup(spec), *save = NULL;
    dp_err_t err = DP_OK;
    size_t idx = 0;
    for (char *ent = strtok_r(copy, ";", &save); ent && !err; ent = strtok_r(NULL, ";", &save)) {
        while (*ent == ' ') ent++;
        if (*ent) err = add_key_override(t, ent, ++idx, errstr, n);
    }
    free(copy);
    return err;
}

dp_err_t cap_transforms_init(cap_transforms_t *t, const capture_settings_t *s, char *errstr,
                             size_t n) {
    memset(t, 0, sizeof *t);
    dp_err_t err = init_transforms(t, s, errstr, n);
    if (!err) err = init_key_columns(t, s->message_key_columns, errstr, n);
    if (err) cap_transforms_fini(t);
    return err;
}

void cap_transforms_fini(cap_transforms_t *t) {
    for (size_t i = 0; i < t->nrouters; i++) {
        regfree(&t->routers[i].re);
        free(t->routers[i].replacement);
    }
    free(t->routers);
    dbz_unwrap_fini(t->unwrap);
    free(t->unwrap);
    for (size_t i = 0; i < t->nkeys; i++) {
        regfree(&t->keys[i].table);
        for (size_t k = 0; k < t->keys[i].ncols; k++) free(t->keys[i].cols[k]);
        free(t->keys[i].cols);
    }
    free(t->keys);
    memset(t, 0, sizeof *t);
}

dp_err_t cap_transforms_check(const capture_settings_t *s, char *errstr, size_t n) {
    cap_transforms_t t;
    int level = dp_log_level; /* the warnings (deprecated keys) are the setup's to give, once */
    dp_log_level = DP_LOG_ERROR;
    dp_err_t err = cap_transforms_init(&t, s, errstr, n);
    dp_log_level = level;
    cap_transforms_fini(&t);
    return err;
}

char *cap_route(const cap_transforms_t *t, const char *topic) {
    char *cur = dp_xstrdup(topic);
    for (size_t r = 0; r < t->nrouters; r++) {
        regmatch_t m[10];
        if (regexec(&t->routers[r].re, cur, 10, m, 0) != 0) continue;
        dp_buf_t out;
        dp_buf_init(&out, 4096);
        for (const char *p = t->routers[r].replacement; *p; p++) {
            if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
                int g = p[1] - '0' + 1; /* group 1 is our outer wrapper */
                if (g < 10 && m[g].rm_so >= 0)
                    dp_buf_append(&out, cur + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                p++;
            } else {
                dp_buf_putc(&out, *p);
            }
        }
        free(cur);
        cur = dp_xstrdup(dp_buf_cstr(&out));
        dp_buf_fini(&out);
    }
    return cur;
}

const cap_key_override_t *cap_key_override(const cap_transforms_t *t, const char *schema_table) {
    for (size_t i = 0; i < t->nkeys; i++)
        if (regexec(&t->keys[i].table, schema_table, 0, NULL, 0) == 0) return &t->keys[i];
    return NULL;
}
