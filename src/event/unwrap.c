/* unwrap.c - ExtractNewRecordState on JsonConverter output.
 *
 * The reference is Debezium 3.0.8's transform (AbstractExtractNewRecordState,
 * ExtractNewRecordState, the Default/Legacy delete handling strategies) with
 * Kafka 3.9's ExtractField, InsertField, SchemaUtil and JsonConverter;
 * tests/integration/test_0016_unwrap.py compares with it. Our envelope JSON
 * is written in JsonConverter's member order, so the output is assembled
 * from raw spans of the input: no value is re-encoded. */
#include "event/unwrap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

#define MOD "unwrap"
#define MAX_REFS DBZ_UNWRAP_MAX_REFS
/* parser nodes kept between records; a bigger event's are freed after it */
#define KEEP_NODES 65536

static const char *const keys[] = {
    "type",
    "drop.tombstones",
    "delete.handling.mode",
    "delete.tombstone.handling.mode",
    "route.by.field",
    "add.fields",
    "add.fields.prefix",
    "add.headers",
    "add.headers.prefix",
    "replace.null.with.default",
    "drop.fields.header.name",
    "drop.fields.from.key",
    "drop.fields.keep.schema.compatible",
};

int dbz_unwrap_is_key(const char *key) {
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

/* ---- configuration ---- */

/* trim: a copy of s without leading and trailing white space (Java's
 * String.trim: everything <= ' ') */
static char *trim(const char *s, size_t n) {
    while (n && (unsigned char)*s <= ' ') s++, n--;
    while (n && (unsigned char)s[n - 1] <= ' ') n--;
    char *r = dp_xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static const char *opt(const dbz_unwrap_t *u, const cfg_kv_t *kv, const char *name) {
    char key[512];
    snprintf(key, sizeof key, "%s.%s", u->alias, name);
    return cfg_kv_get(kv, key);
}

/* parse_bool: Kafka's ConfigDef BOOLEAN: trimmed, case-insensitive */
static dp_err_t parse_bool(const dbz_unwrap_t *u, const cfg_kv_t *kv, const char *name, int dflt,
                           int *out, char *errstr, size_t n) {
    const char *v = opt(u, kv, name);
    *out = dflt;
    if (!v) return DP_OK;
    char *t = trim(v, strlen(v));
    dp_err_t err = DP_OK;
    if (strcasecmp(t, "true") == 0)
        *out = 1;
    else if (strcasecmp(t, "false") == 0)
        *out = 0;
    else
        err =
            dp_seterr(errstr, n, DP_ERR_CONFIG,
                      "\"transforms.%s.%s\" is \"%s\": expected true or false", u->alias, name, v);
    free(t);
    return err;
}

/* parse_enum: case-insensitive, trimmed, as Debezium's EnumeratedValue
 * parse; returns the index in "a|b|c" or -1 for unset/blank */
static dp_err_t parse_enum(const dbz_unwrap_t *u, const cfg_kv_t *kv, const char *name,
                           const char *const *vals, size_t nvals, int *out, char *errstr,
                           size_t n) {
    const char *v = opt(u, kv, name);
    *out = -1;
    if (!v) return DP_OK;
    char *t = trim(v, strlen(v));
    if (!*t) {
        free(t);
        return DP_OK;
    }
    for (size_t i = 0; i < nvals; i++)
        if (strcasecmp(t, vals[i]) == 0) *out = (int)i;
    free(t);
    if (*out >= 0) return DP_OK;
    char allowed[256] = "";
    for (size_t i = 0; i < nvals; i++) {
        size_t l = strlen(allowed);
        snprintf(allowed + l, sizeof allowed - l, "%s%s", i ? ", " : "", vals[i]);
    }
    return dp_seterr(errstr, n, DP_ERR_CONFIG,
                     "\"transforms.%s.%s\" is \"%s\": Debezium 3.0.8 accepts %s", u->alias, name, v,
                     allowed);
}

/* struct_of: the struct hosting an unqualified field, as Debezium's
 * FieldReference.determineStruct */
static const char *struct_of(const char *field) {
    if (!strcmp(field, "id") || !strcmp(field, "total_order") ||
        !strcmp(field, "data_collection_order"))
        return "transaction";
    if (!strcmp(field, "op") || !strcmp(field, "ts_ms") || !strcmp(field, "ts_us") ||
        !strcmp(field, "ts_ns"))
        return NULL;
    if (!strcmp(field, "updateDescription")) return "updateDescription";
    return "source";
}

/* java_split: Java's String.split(sep) on a one-character separator:
 * the pieces without the trailing empty ones (an empty input is one empty
 * piece). Returns how many there are; the first max are stored. */
static size_t java_split(const char *s, char sep, const char **p, size_t *l, size_t max) {
    if (!*s) {
        p[0] = s;
        l[0] = 0;
        return 1;
    }
    size_t len = strlen(s);
    while (len && s[len - 1] == sep) len--;
    if (!len) return 0;
    size_t k = 0;
    const char *start = s, *end = s + len;
    for (const char *c = s;; c++) {
        if (c == end || *c == sep) {
            if (k < max) {
                p[k] = start;
                l[k] = (size_t)(c - start);
            }
            k++;
            if (c == end) break;
            start = c + 1;
        }
    }
    return k;
}

static dp_err_t parse_refs(const dbz_unwrap_t *u, const cfg_kv_t *kv, const char *name,
                           const char *prefix, dbz_unwrap_ref_t **out, size_t *nout, char *errstr,
                           size_t n) {
    const char *v = opt(u, kv, name);
    *out = NULL;
    *nout = 0;
    if (!v || !*v) return DP_OK;
    dp_err_t err = DP_OK;
    const char *s = v;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char *item = trim(s, len);
        const char *pp[3], *sp[3];
        size_t pl[3], sl[3];
        size_t np = java_split(item, ':', pp, pl, 2);
        if (np == 0 || np > 2) {
            err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                            "\"transforms.%s.%s\": unexpected field name \"%s\"", u->alias, name,
                            item);
            free(item);
            break;
        }
        char *first = trim(pp[0], pl[0]);
        /* "a.b.c" keeps a and b, as Debezium's split does */
        size_t ns = java_split(first, '.', sp, sl, 2);
        if (ns > 2) ns = 2;
        if (ns == 0) {
            sp[0] = first;
            sl[0] = 0;
            ns = 1;
        }
        if (*nout >= MAX_REFS) {
            err = dp_seterr(errstr, n, DP_ERR_CONFIG, "\"transforms.%s.%s\": more than %d fields",
                            u->alias, name, MAX_REFS);
            free(first);
            free(item);
            break;
        }
        *out = dp_xrealloc(*out, sizeof **out * (*nout + 1));
        dbz_unwrap_ref_t *r = &(*out)[(*nout)++];
        memset(r, 0, sizeof *r);
        if (ns == 1) {
            r->field = trim(sp[0], sl[0]);
            const char *st = struct_of(r->field);
            r->strct = st ? dp_xstrdup(st) : NULL;
        } else {
            r->strct = trim(sp[0], sl[0]);
            r->field = trim(sp[1], sl[1]);
        }
        if (r->strct && strcmp(r->strct, "source") && strcmp(r->strct, "transaction") &&
            strcmp(r->strct, "before") && strcmp(r->strct, "after")) {
            /* Debezium fails on the first event (no such struct in the
             * envelope); say so at once */
            err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                            "\"transforms.%s.%s\": \"%s\" names struct \"%s\"; a PostgreSQL change "
                            "event has before, after, source and transaction",
                            u->alias, name, item, r->strct);
            free(first);
            free(item);
            break;
        }
        char nm[512];
        if (np == 2)
            snprintf(nm, sizeof nm, "%s%.*s", prefix, (int)pl[1], pp[1]);
        else if (ns == 1)
            snprintf(nm, sizeof nm, "%s%s", prefix, r->field);
        else
            snprintf(nm, sizeof nm, "%s%s_%s", prefix, r->strct, r->field);
        r->name = dp_xstrdup(nm);
        free(first);
        free(item);
        if (!comma) break;
        s = comma + 1;
    }
    return err;
}

static void free_refs(dbz_unwrap_ref_t *r, size_t nr) {
    for (size_t i = 0; i < nr; i++) {
        free(r[i].strct);
        free(r[i].field);
        free(r[i].name);
    }
    free(r);
}

dp_err_t dbz_unwrap_init(dbz_unwrap_t *u, const char *alias, const cfg_kv_t *kv, int schemas_enable,
                         size_t max_bytes, char *errstr, size_t n) {
    memset(u, 0, sizeof *u);
    u->alias = dp_xstrdup(alias);
    u->schemas_enable = schemas_enable;
    dp_buf_init(&u->hdrbuf, max_bytes);
    dp_err_t err = DP_OK;
    size_t al = strlen(alias);
    for (size_t i = 0; i < kv->n && !err; i++) {
        const char *k = kv->keys[i];
        if (strncmp(k, alias, al) || k[al] != '.') continue;
        if (!dbz_unwrap_is_key(k + al + 1))
            err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                            "unknown configuration key \"transforms.%s\" (%s has no option \"%s\")",
                            k, DBZ_UNWRAP_TYPE, k + al + 1);
    }
    static const char *const dth[] = {"drop", "tombstone", "rewrite", "rewrite-with-tombstone"};
    static const char *const dh[] = {"drop", "rewrite", "none"};
    int mode = -1, legacy_mode = -1, drop_tombstones = 1, b;
    if (!err) err = parse_enum(u, kv, "delete.tombstone.handling.mode", dth, 4, &mode, errstr, n);
    if (!err) err = parse_enum(u, kv, "delete.handling.mode", dh, 3, &legacy_mode, errstr, n);
    if (!err) err = parse_bool(u, kv, "drop.tombstones", 1, &drop_tombstones, errstr, n);
    if (!err) err = parse_bool(u, kv, "replace.null.with.default", 1, &b, errstr, n);
    if (!err) err = parse_bool(u, kv, "drop.fields.from.key", 0, &b, errstr, n);
    if (!err) err = parse_bool(u, kv, "drop.fields.keep.schema.compatible", 1, &b, errstr, n);
    const char *route = opt(u, kv, "route.by.field");
    if (!err && route && *route)
        err = dp_seterr(errstr, n, DP_ERR_UNSUPPORTED,
                        "\"transforms.%s.route.by.field\": routing by a field's value is not "
                        "implemented by datapipe",
                        alias);
    const char *fp = opt(u, kv, "add.fields.prefix"), *hp = opt(u, kv, "add.headers.prefix");
    if (!err)
        err = parse_refs(u, kv, "add.fields", fp ? fp : "__", &u->fields, &u->nfields, errstr, n);
    if (!err)
        err =
            parse_refs(u, kv, "add.headers", hp ? hp : "__", &u->headers, &u->nheaders, errstr, n);
    if (err) {
        dbz_unwrap_fini(u);
        return err;
    }
    if (mode >= 0) {
        /* drop, tombstone, rewrite, rewrite-with-tombstone */
        static const int del[] = {DBZ_UNWRAP_DROP, DBZ_UNWRAP_NULL, DBZ_UNWRAP_VALUE,
                                  DBZ_UNWRAP_VALUE};
        u->delete_action = del[mode];
        u->keep_tombstones = mode == 3;
        u->rewrite = mode >= 2;
    } else {
        /* Debezium takes this branch whenever the new key is unset or
         * blank, defaults included, and warns each time */
        static const int del[] = {DBZ_UNWRAP_DROP, DBZ_UNWRAP_VALUE, DBZ_UNWRAP_NULL};
        u->legacy = 1;
        u->delete_action = del[legacy_mode < 0 ? 0 : legacy_mode];
        u->rewrite = legacy_mode == 1;
        u->keep_tombstones = !drop_tombstones;
        dp_warn(MOD,
                "transform \"%s\": the deleted record handling configs \"drop.tombstones\" and "
                "\"delete.handling.mode\" have been deprecated, please use "
                "\"delete.tombstone.handling.mode\" instead",
                alias);
    }
    return DP_OK;
}

void dbz_unwrap_fini(dbz_unwrap_t *u) {
    if (!u) return;
    free(u->alias);
    free_refs(u->fields, u->nfields);
    free_refs(u->headers, u->nheaders);
    dp_json_fini(&u->json);
    dp_buf_fini(&u->hdrbuf);
    memset(u, 0, sizeof *u);
}

size_t dbz_unwrap_nheaders(const dbz_unwrap_t *u) { return u->nhdr; }

void dbz_unwrap_header(const dbz_unwrap_t *u, size_t i, const char **name, const void **value,
                       size_t *len) {
    *name = u->headers[u->hdr_ref[i]].name;
    *value = u->hdr_null[i] ? NULL : u->hdrbuf.data + u->hdr_off[i];
    *len = u->hdr_null[i] ? 0 : u->hdr_len[i];
}

/* ---- one record ---- */

/* raw span of a node, quotes of strings included */
static const char *span(const dp_json_t *j, uint32_t nd, size_t *len) {
    const dp_json_node_t *x = &j->nodes[nd];
    if (x->type == DP_JSON_STRING) {
        *len = x->len + 2;
        return j->src + x->start - 1;
    }
    *len = x->len;
    return j->src + x->start;
}

static dp_err_t put_span(dp_buf_t *b, const dp_json_t *j, uint32_t nd) {
    size_t l;
    const char *p = span(j, nd, &l);
    return dp_buf_append(b, p, l);
}

static int is_null(const dp_json_t *j, uint32_t nd) {
    return !nd || j->nodes[nd].type == DP_JSON_NULL;
}

/* field_schema: the schema of field name in struct schema st, or 0 */
static uint32_t field_schema(const dp_json_t *j, uint32_t st, const char *name) {
    uint32_t fs = st ? dp_json_get(j, st, "fields") : 0;
    if (!fs || j->nodes[fs].type != DP_JSON_ARRAY) return 0;
    for (uint32_t f = j->nodes[fs].child; f; f = j->nodes[f].next) {
        uint32_t nm = dp_json_get(j, f, "field");
        if (nm && dp_json_key_eq(j, nm, name)) return f;
    }
    return 0;
}

/* resolve: where the envelope schema S has the field r names: 1 and its
 * schema in *sch (*in_parent: in r's struct, else in the envelope, as
 * FieldReference falls back), 0 nowhere, -1 no such struct */
static int resolve(const dp_json_t *j, uint32_t S, const dbz_unwrap_ref_t *r, uint32_t *sch,
                   int *in_parent) {
    uint32_t ps = S;
    if (r->strct) {
        ps = field_schema(j, S, r->strct);
        if (!ps) return -1;
    }
    *sch = field_schema(j, ps, r->field);
    *in_parent = *sch != 0;
    if (!*in_parent) {
        *sch = field_schema(j, S, r->field);
        if (!*sch) return 0;
    }
    return 1;
}

/* where one add.fields/add.headers reference is found in an event:
 * *sch the field's schema (0 without schemas), *val its value (0: null) */
typedef struct found {
    uint32_t sch, val;
} found_t;

/* locate: Debezium's FieldReference.getSchema/getValue. Returns 1 if the
 * field exists (it is added), 0 if not, -1 if its struct is unknown. */
static int locate(const dp_json_t *j, uint32_t S, uint32_t P, const dbz_unwrap_ref_t *r,
                  found_t *f) {
    f->sch = f->val = 0;
    /* P may be the root, node 0: only a member lookup gives 0 for "none" */
    uint32_t pval = r->strct ? dp_json_get(j, P, r->strct) : P;
    int pnull = r->strct && is_null(j, pval);
    int in_parent;
    if (S) {
        int rr = resolve(j, S, r, &f->sch, &in_parent);
        if (rr <= 0) return rr;
    } else {
        /* without schemas: JsonConverter writes every field of a struct,
         * so presence in the payload is presence in the schema; a null
         * transaction block has Debezium's three fields, a null before
         * the fields of after and the other way round */
        if (r->strct && !dp_json_get(j, P, r->strct)) return -1;
        if (!r->strct)
            in_parent = dp_json_get(j, P, r->field) != 0;
        else if (pnull && !strcmp(r->strct, "transaction"))
            in_parent = !strcmp(r->field, "id") || !strcmp(r->field, "total_order") ||
                !strcmp(r->field, "data_collection_order");
        else if (pnull) {
            /* before and after share one schema: ask the other one */
            uint32_t o = dp_json_get(j, P, strcmp(r->strct, "before") ? "before" : "after");
            in_parent = !is_null(j, o) && j->nodes[o].type == DP_JSON_OBJECT &&
                dp_json_get(j, o, r->field) != 0;
        } else
            in_parent = dp_json_get(j, pval, r->field) != 0;
        if (!in_parent && !dp_json_get(j, P, r->field)) return 0;
    }
    if (pnull) return 1;
    f->val = in_parent ? dp_json_get(j, pval, r->field) : dp_json_get(j, P, r->field);
    return 1;
}

/* put_added_schema: a field schema copied as SchemaUtil.copySchemaBasics
 * (...).optional() does: type, items/keys/values, name, version, doc,
 * parameters kept; made optional; no default; a struct's fields not
 * copied; named name */
static dp_err_t put_added_schema(dp_buf_t *b, const dp_json_t *j, uint32_t sch, const char *name) {
    dp_buf_putc(b, '{');
    int first = 1;
    for (uint32_t k = j->nodes[sch].child; k; k = j->nodes[j->nodes[k].next].next) {
        uint32_t v = j->nodes[k].next;
        if (dp_json_key_eq(j, k, "default") || dp_json_key_eq(j, k, "field")) continue;
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        put_span(b, j, k);
        dp_buf_putc(b, ':');
        if (dp_json_key_eq(j, k, "optional"))
            dp_buf_puts(b, "true");
        else if (dp_json_key_eq(j, k, "fields"))
            dp_buf_puts(b, "[]");
        else
            put_span(b, j, v);
    }
    if (!first) dp_buf_putc(b, ',');
    dp_buf_puts(b, "\"field\":");
    dp_json_put_str(b, name, strlen(name));
    return dp_buf_putc(b, '}');
}

/* put_row_schema: the row struct's schema without its "field" member;
 * rebuilt (SchemaUtil.copySchemaBasics into a new struct: no longer
 * optional) with the added fields appended when rebuilt is set */
static dp_err_t put_row_schema(dbz_unwrap_t *u, dp_buf_t *b, const dp_json_t *j, uint32_t rs,
                               int rebuilt, const int *present, const found_t *fnd) {
    dp_buf_putc(b, '{');
    int first = 1;
    for (uint32_t k = j->nodes[rs].child; k; k = j->nodes[j->nodes[k].next].next) {
        uint32_t v = j->nodes[k].next;
        if (dp_json_key_eq(j, k, "field")) continue;
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        put_span(b, j, k);
        dp_buf_putc(b, ':');
        if (rebuilt && dp_json_key_eq(j, k, "optional")) {
            dp_buf_puts(b, "false");
        } else if (rebuilt && dp_json_key_eq(j, k, "fields")) {
            size_t l;
            const char *p = span(j, v, &l);
            dp_buf_append(b, p, l - 1); /* without ']' */
            int empty = j->nodes[v].child == 0;
            if (u->rewrite) {
                dp_buf_puts(b, empty ? "" : ",");
                dp_buf_puts(b, "{\"type\":\"string\",\"optional\":true,\"field\":\"__deleted\"}");
                empty = 0;
            }
            for (size_t i = 0; i < u->nfields; i++) {
                if (!present[i]) continue;
                dp_buf_puts(b, empty ? "" : ",");
                empty = 0;
                put_added_schema(b, j, fnd[i].sch, u->fields[i].name);
            }
            dp_buf_putc(b, ']');
        } else {
            put_span(b, j, v);
        }
    }
    return dp_buf_putc(b, '}');
}

/* put_header: SimpleHeaderConverter's bytes of a field value */
static dp_err_t put_header(dbz_unwrap_t *u, size_t ref, const dp_json_t *j, uint32_t val) {
    if (u->nhdr >= sizeof u->hdr_off / sizeof u->hdr_off[0]) return DP_OK;
    size_t i = u->nhdr++;
    u->hdr_ref[i] = ref;
    u->hdr_null[i] = is_null(j, val);
    u->hdr_off[i] = u->hdrbuf.len;
    dp_err_t err = DP_OK;
    if (!u->hdr_null[i]) {
        if (j->nodes[val].type == DP_JSON_STRING) {
            dp_buf_t s;
            dp_buf_init(&s, u->hdrbuf.max);
            err = dp_json_str(j, val, &s);
            if (!err) err = dp_buf_append(&u->hdrbuf, s.data, s.len);
            dp_buf_fini(&s);
        } else {
            err = put_span(&u->hdrbuf, j, val);
        }
    }
    u->hdr_len[i] = u->hdrbuf.len - u->hdr_off[i];
    return err;
}

static dp_err_t apply(dbz_unwrap_t *u, const void *val, size_t len, dp_buf_t *out,
                      dbz_unwrap_result_t *res, char *errstr, size_t n);

dp_err_t dbz_unwrap_apply(dbz_unwrap_t *u, const void *val, size_t len, dp_buf_t *out,
                          dbz_unwrap_result_t *res, char *errstr, size_t n) {
    dp_err_t err = apply(u, val, len, out, res, errstr, n);
    if (u->json.cap > KEEP_NODES) dp_json_fini(&u->json);
    return err;
}

static dp_err_t apply(dbz_unwrap_t *u, const void *val, size_t len, dp_buf_t *out,
                      dbz_unwrap_result_t *res, char *errstr, size_t n) {
    u->nhdr = 0;
    dp_buf_reset(&u->hdrbuf);
    *res = DBZ_UNWRAP_DROP;
    if (!val) {
        /* a tombstone: only an "op" header, "d" */
        for (size_t i = 0; i < u->nheaders; i++) {
            if (strcmp(u->headers[i].field, "op") || u->nhdr >= 64) continue;
            u->hdr_ref[u->nhdr] = i;
            u->hdr_null[u->nhdr] = 0;
            u->hdr_off[u->nhdr] = u->hdrbuf.len;
            dp_buf_putc(&u->hdrbuf, 'd');
            u->hdr_len[u->nhdr++] = 1;
        }
        *res = u->keep_tombstones ? DBZ_UNWRAP_NULL : DBZ_UNWRAP_DROP;
        return DP_OK;
    }
    dp_json_t *j = &u->json;
    /* every node takes at least two bytes of text ("1,") */
    size_t max_nodes = len / 2 + 64;
    dp_err_t err = dp_json_parse(
        j, val, len, max_nodes > UINT32_MAX ? UINT32_MAX : (uint32_t)max_nodes, errstr, n);
    if (err) return err;
    uint32_t S = 0, P = 0;
    int valid;
    if (u->schemas_enable) {
        S = dp_json_get(j, 0, "schema");
        P = dp_json_get(j, 0, "payload");
        uint32_t nm = S ? dp_json_get(j, S, "name") : 0;
        valid = P && nm && j->nodes[nm].type == DP_JSON_STRING && j->nodes[nm].len >= 9 &&
            memcmp(dp_json_raw(j, nm) + j->nodes[nm].len - 9, ".Envelope", 9) == 0 &&
            j->nodes[P].type == DP_JSON_OBJECT;
    } else {
        P = 0;
        valid = j->nodes[0].type == DP_JSON_OBJECT && dp_json_get(j, 0, "op") &&
            dp_json_get(j, 0, "source");
    }
    dp_buf_reset(out);
    if (!valid) {
        /* not a change event: passed on unchanged */
        *res = DBZ_UNWRAP_VALUE;
        return dp_buf_append(out, val, len);
    }
    for (size_t i = 0; i < u->nheaders; i++) {
        found_t f;
        int r = locate(j, S, P, &u->headers[i], &f);
        if (r < 0)
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "\"transforms.%s.add.headers\": the event has no struct \"%s\"",
                             u->alias, u->headers[i].strct);
        if (r && (err = put_header(u, i, j, f.val)))
            return dp_seterr(errstr, n, err, "headers of an event are larger than the bound");
    }
    uint32_t after = dp_json_get(j, P, "after"), before = dp_json_get(j, P, "before");
    if (is_null(j, after) && is_null(j, before)) return DP_OK; /* truncate: dropped */
    uint32_t row = after;
    const char *deleted = u->rewrite ? "false" : NULL;
    const char *side = "after";
    if (is_null(j, after)) {
        if (u->delete_action == DBZ_UNWRAP_DROP) return DP_OK;
        if (u->delete_action == DBZ_UNWRAP_NULL) {
            /* ExtractField's null value with the after schema */
            *res = DBZ_UNWRAP_VALUE;
            if (!S) return dp_buf_puts(out, "null");
            dp_buf_puts(out, "{\"schema\":");
            put_row_schema(u, out, j, field_schema(j, S, "after"), 0, NULL, NULL);
            dp_buf_puts(out, ",\"payload\":null}");
            return out->overflow ? DP_ERR_NOMEM : DP_OK;
        }
        row = before;
        side = "before";
        deleted = "true";
    }
    if (j->nodes[row].type != DP_JSON_OBJECT)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "event's \"%s\" is not an object", side);
    int present[MAX_REFS];
    found_t fnd[MAX_REFS];
    for (size_t i = 0; i < u->nfields; i++) {
        int r = locate(j, S, P, &u->fields[i], &fnd[i]);
        if (r < 0)
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "\"transforms.%s.add.fields\": the event has no struct \"%s\"",
                             u->alias, u->fields[i].strct);
        present[i] = r;
    }
    if (S) {
        dp_buf_puts(out, "{\"schema\":");
        /* addFields rebuilds the struct for every c/u/r and rewritten d */
        put_row_schema(u, out, j, field_schema(j, S, side), 1, present, fnd);
        dp_buf_puts(out, ",\"payload\":");
    }
    size_t l;
    const char *p = span(j, row, &l);
    int empty = j->nodes[row].child == 0;
    dp_buf_append(out, p, l - 1); /* without '}' */
    if (deleted) {
        dp_buf_puts(out, empty ? "\"__deleted\":\"" : ",\"__deleted\":\"");
        dp_buf_puts(out, deleted);
        dp_buf_putc(out, '"');
        empty = 0;
    }
    for (size_t i = 0; i < u->nfields; i++) {
        if (!present[i]) continue;
        if (!empty) dp_buf_putc(out, ',');
        empty = 0;
        dp_json_put_str(out, u->fields[i].name, strlen(u->fields[i].name));
        dp_buf_putc(out, ':');
        if (fnd[i].val)
            put_span(out, j, fnd[i].val);
        else
            dp_buf_puts(out, "null");
    }
    dp_buf_putc(out, '}');
    if (S) dp_buf_putc(out, '}');
    if (out->overflow)
        return dp_seterr(errstr, n, DP_ERR_NOMEM, "unwrapped event is larger than the bound");
    *res = DBZ_UNWRAP_VALUE;
    return DP_OK;
}

/* ---- the transform on typed events ---- */

void dbz_unwrap_plan_fini(dbz_unwrap_plan_t *p) {
    dp_buf_fini(&p->schema[0]);
    dp_buf_fini(&p->schema[1]);
    dp_buf_fini(&p->null_schema);
    memset(p, 0, sizeof *p);
}

/* image_col: the index of the column named field in t, written in its
 * row images, or -1 */
static int image_col(const dbz_table_t *t, const char *field) {
    for (uint16_t c = 0; c < t->ncols; c++)
        if (!t->cols[c].omit && !strcmp(t->cols[c].name, field)) return c;
    return -1;
}

/* plan_refs: where each reference's value comes from (cols: the column of
 * a before./after. reference, NULL: such references need the JSON
 * transform); 0 when one needs the JSON transform (a whole struct as the
 * value, or no such struct) */
static int plan_refs(const dp_json_t *j, uint32_t S, const dbz_unwrap_ref_t *refs, size_t nrefs,
                     const dbz_event_t *probe, const dbz_options_t *opt, unsigned char *in,
                     uint16_t *cols, uint32_t *sch) {
    for (size_t i = 0; i < nrefs; i++) {
        int in_parent = 0;
        const dbz_unwrap_ref_t *ref = &refs[i];
        int r = resolve(j, S, ref, &sch[i], &in_parent);
        if (r < 0) return 0;
        in[i] = r == 0 ? 0 : in_parent ? 1 : 2;
        if (r && in_parent && ref->strct &&
            (!strcmp(ref->strct, "before") || !strcmp(ref->strct, "after"))) {
            int c = cols ? image_col(probe->table, ref->field) : -1;
            if (c < 0) return 0;
            in[i] = 3;
            cols[i] = (uint16_t)c;
            continue;
        }
        dbz_val_t v;
        if (r && dbz_event_field(probe, opt, in_parent ? ref->strct : NULL, ref->field, &v))
            return 0;
    }
    return 1;
}

dp_err_t dbz_unwrap_plan_build(const dbz_unwrap_t *u, const dbz_table_t *t,
                               const dbz_options_t *opt, dbz_unwrap_plan_t *p, char *errstr,
                               size_t n) {
    dbz_unwrap_plan_fini(p);
    size_t max = u->hdrbuf.max;
    dp_buf_init(&p->schema[0], max);
    dp_buf_init(&p->schema[1], max);
    dp_buf_init(&p->null_schema, max);
    /* the schema as a member, so that it is not node 0 (which field_schema
     * reads as "none") */
    dp_buf_t doc;
    dp_buf_init(&doc, t->value_schema.len + 16);
    dp_buf_puts(&doc, "{\"s\":");
    dp_buf_append(&doc, t->value_schema.data, t->value_schema.len);
    dp_buf_putc(&doc, '}');
    dp_json_t j = {0};
    dp_err_t err =
        dp_json_parse(&j, (const char *)doc.data, doc.len, (uint32_t)(doc.len / 2 + 64), errstr, n);
    uint32_t S = err ? 0 : dp_json_get(&j, 0, "s");
    if (!err && !S)
        err = dp_seterr(errstr, n, DP_ERR_INVALID, "table \"%s.%s\": no envelope schema", t->schema,
                        t->table);
    if (err) {
        dp_json_fini(&j);
        dp_buf_fini(&doc);
        return err;
    }
    /* a probe event: which fields are typed scalars */
    dbz_event_t probe = {t, 'c', NULL, NULL, {0, 0, 0, 0, "false", NULL}, 0};
    uint32_t fsch[MAX_REFS], hsch[MAX_REFS];
    int typed =
        plan_refs(&j, S, u->fields, u->nfields, &probe, opt, p->field_in, p->field_col, fsch) &&
        plan_refs(&j, S, u->headers, u->nheaders, &probe, opt, p->header_in, NULL, hsch);
    p->state = typed ? DBZ_UNWRAP_PLAN_TYPED : DBZ_UNWRAP_PLAN_JSON;
    if (typed && u->schemas_enable) {
        int present[MAX_REFS];
        found_t fnd[MAX_REFS];
        for (size_t i = 0; i < u->nfields; i++) {
            present[i] = p->field_in[i] != 0;
            fnd[i].sch = fsch[i];
            fnd[i].val = 0;
        }
        uint32_t as = field_schema(&j, S, "after"), bs = field_schema(&j, S, "before");
        if (!as || !bs) {
            err = dp_seterr(errstr, n, DP_ERR_INVALID,
                            "table \"%s.%s\": envelope schema without "
                            "before or after",
                            t->schema, t->table);
        } else {
            put_row_schema((dbz_unwrap_t *)u, &p->schema[0], &j, as, 1, present, fnd);
            put_row_schema((dbz_unwrap_t *)u, &p->schema[1], &j, bs, 1, present, fnd);
            put_row_schema((dbz_unwrap_t *)u, &p->null_schema, &j, as, 0, NULL, NULL);
            if (p->schema[0].overflow || p->schema[1].overflow || p->null_schema.overflow)
                err = dp_seterr(errstr, n, DP_ERR_NOMEM,
                                "table \"%s.%s\": unwrapped schema "
                                "larger than the bound",
                                t->schema, t->table);
        }
    }
    dp_json_fini(&j);
    dp_buf_fini(&doc);
    return err;
}

/* typed_header: SimpleHeaderConverter's bytes of a typed value */
static void typed_header(dbz_unwrap_t *u, size_t ref, const dbz_val_t *v) {
    if (u->nhdr >= MAX_REFS) return;
    size_t i = u->nhdr++;
    u->hdr_ref[i] = ref;
    u->hdr_null[i] = v->kind == DBZ_VAL_NULL;
    u->hdr_off[i] = u->hdrbuf.len;
    if (v->kind == DBZ_VAL_STR)
        dp_buf_append(&u->hdrbuf, v->s, v->n);
    else if (v->kind == DBZ_VAL_INT)
        dp_buf_put_i64(&u->hdrbuf, v->i);
    u->hdr_len[i] = u->hdrbuf.len - u->hdr_off[i];
}

/* added_col: column c of the row image row (NULL: the image is null, and
 * so is the value) */
static void added_col(const dbz_event_t *ev, const pgo_tuple_t *row, uint16_t c, dbz_val_t *v) {
    static const pgo_value_t null_value = {PGO_VAL_NULL, NULL, 0};
    v->kind = DBZ_VAL_NULL; /* only what the kind says is read */
    if (!row) return;
    v->kind = DBZ_VAL_COL;
    v->col = &ev->table->cols[c];
    v->cv = c < row->ncols ? &row->cols[c] : &null_value;
}

dp_err_t dbz_unwrap_event(dbz_unwrap_t *u, const dbz_unwrap_plan_t *p, const dbz_event_t *ev,
                          const dbz_options_t *opt, dbz_unwrapped_t *out) {
    u->nhdr = 0;
    dp_buf_reset(&u->hdrbuf);
    out->res = DBZ_UNWRAP_DROP;
    out->nadded = 0;
    for (size_t i = 0; i < u->nheaders; i++) {
        if (!p->header_in[i]) continue;
        dbz_val_t v;
        const dbz_unwrap_ref_t *r = &u->headers[i];
        dbz_event_field(ev, opt, p->header_in[i] == 1 ? r->strct : NULL, r->field, &v);
        typed_header(u, i, &v);
    }
    if (!ev->after && !ev->before) return DP_OK; /* truncate: dropped */
    out->row = ev->after;
    out->side = 0;
    out->deleted = u->rewrite ? "false" : NULL;
    if (!ev->after) {
        if (u->delete_action == DBZ_UNWRAP_DROP) return DP_OK;
        out->res = DBZ_UNWRAP_VALUE;
        if (u->delete_action == DBZ_UNWRAP_NULL) return DP_OK; /* row NULL: a null value */
        out->row = ev->before;
        out->side = 1;
        out->deleted = "true";
    }
    out->res = DBZ_UNWRAP_VALUE;
    for (size_t i = 0; i < u->nfields; i++) {
        if (!p->field_in[i]) continue;
        const dbz_unwrap_ref_t *r = &u->fields[i];
        size_t k = out->nadded++;
        out->added_name[k] = r->name;
        if (p->field_in[i] == 3) {
            added_col(ev, strcmp(r->strct, "before") ? ev->after : ev->before, p->field_col[i],
                      &out->added[k]);
            continue;
        }
        dbz_event_field(ev, opt, p->field_in[i] == 1 ? r->strct : NULL, r->field, &out->added[k]);
    }
    return u->hdrbuf.overflow ? DP_ERR_NOMEM : DP_OK;
}

dp_err_t dbz_unwrap_write_json(const dbz_unwrap_t *u, const dbz_unwrap_plan_t *p,
                               const dbz_event_t *ev, const dbz_unwrapped_t *uw, dp_buf_t *out) {
    dp_buf_reset(out);
    if (!uw->row) {
        if (!u->schemas_enable) return dp_buf_puts(out, "null");
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, p->null_schema.data, p->null_schema.len);
        dp_buf_puts(out, ",\"payload\":null}");
        return out->overflow ? DP_ERR_NOMEM : DP_OK;
    }
    if (u->schemas_enable) {
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, p->schema[uw->side].data, p->schema[uw->side].len);
        dp_buf_puts(out, ",\"payload\":");
    }
    dbz_put_row(out, ev->table, uw->row, 0);
    if (out->overflow) return DP_ERR_NOMEM;
    out->len--; /* the row's '}': the added fields follow */
    int empty = out->data[out->len - 1] == '{';
    if (uw->deleted) {
        dp_buf_puts(out, empty ? "\"__deleted\":\"" : ",\"__deleted\":\"");
        dp_buf_puts(out, uw->deleted);
        dp_buf_putc(out, '"');
        empty = 0;
    }
    for (size_t i = 0; i < uw->nadded; i++) {
        if (!empty) dp_buf_putc(out, ',');
        empty = 0;
        dp_json_put_str(out, uw->added_name[i], strlen(uw->added_name[i]));
        dp_buf_putc(out, ':');
        const dbz_val_t *v = &uw->added[i];
        if (v->kind == DBZ_VAL_STR)
            dp_json_put_str(out, v->s, v->n);
        else if (v->kind == DBZ_VAL_INT)
            dp_buf_put_i64(out, v->i);
        else if (v->kind == DBZ_VAL_COL)
            dbz_put_value(out, v->col, v->cv);
        else
            dp_buf_puts(out, "null");
    }
    dp_buf_putc(out, '}');
    if (u->schemas_enable) dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}
