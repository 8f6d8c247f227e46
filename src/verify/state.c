/* state.c - the rows check's latest state per (table, key), and the
 * comparison of live rows with it; see verify.h. The JSON comes from the
 * archive's objects (outside bytes) and from our own encoder: every field
 * is checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "verify/verify.h"

#define MAX_NODES (1u << 20)
#define UNAVAILABLE "__debezium_unavailable_value"

/* one key's latest archived state */
typedef struct entry {
    uint64_t kh; /* hash of (table, key text); 0 = empty slot */
    uint64_t koff; /* key text in keys */
    uint32_t klen;
    uint32_t table;
    uint64_t vh; /* hash of the row, without the masked members */
    uint64_t mask; /* members (by position, first 64) left out */
    int64_t lsn, seq;
    uint8_t set, streamed, deleted, seen;
} entry_t;

struct vfy_state {
    vfy_table_rows_t *tables;
    size_t ntables;
    entry_t *slots;
    size_t nslots, used;
    dp_buf_t keys; /* every key's text, back to back */
    dp_json_t json;
    dp_buf_t key, scratch;
};

/* ---- hashing ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t x = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) x = (x ^ b[i]) * 0x100000001b3ULL;
    return mix(mix(h, n), x);
}

/* number: integers exactly, other numbers by their double value, and an
 * integral double like an integer, so 1 and 1.0 are equal */
static uint64_t hash_number(uint64_t h, const char *raw, size_t len) {
    char tmp[64];
    if (len >= sizeof tmp) return hash_bytes(mix(h, 'N'), raw, len);
    memcpy(tmp, raw, len);
    tmp[len] = 0;
    if (!strpbrk(tmp, ".eE")) {
        char *end;
        long long v = strtoll(tmp, &end, 10);
        if (!*end) return mix(mix(h, 'i'), (uint64_t)v);
    }
    double d = strtod(tmp, NULL);
    if (d == 0) d = 0; /* -0 */
    if (fabs(d) < 9007199254740992.0 && d == (double)(long long)d)
        return mix(mix(h, 'i'), (uint64_t)(long long)d);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return mix(mix(h, 'd'), bits);
}

static uint64_t hash_node(vfy_state_t *s, uint32_t node, uint64_t h, int depth);

static uint64_t hash_members(vfy_state_t *s, uint32_t obj, uint64_t mask, uint64_t h, int depth) {
    const dp_json_t *j = &s->json;
    size_t i = 0;
    for (uint32_t k = j->nodes[obj].child; k; k = j->nodes[j->nodes[k].next].next, i++) {
        uint32_t val = j->nodes[k].next;
        if (i < 64 && (mask >> i) & 1) continue;
        h = hash_node(s, k, h, depth + 1);
        h = hash_node(s, val, h, depth + 1);
    }
    return h;
}

static uint64_t hash_node(vfy_state_t *s, uint32_t node, uint64_t h, int depth) {
    const dp_json_t *j = &s->json;
    const dp_json_node_t *nd = &j->nodes[node];
    switch (nd->type) {
    case DP_JSON_NULL: return mix(h, 'n');
    case DP_JSON_FALSE: return mix(h, 'f');
    case DP_JSON_TRUE: return mix(h, 't');
    case DP_JSON_NUMBER: return hash_number(h, dp_json_raw(j, node), nd->len);
    case DP_JSON_STRING:
        if (dp_json_str(j, node, &s->scratch))
            return hash_bytes(mix(h, 'S'), dp_json_raw(j, node), nd->len);
        return hash_bytes(mix(h, 's'), s->scratch.data, s->scratch.len);
    case DP_JSON_ARRAY:
        h = mix(mix(h, 'a'), nd->count);
        for (uint32_t k = nd->child; k; k = j->nodes[k].next) h = hash_node(s, k, h, depth + 1);
        return h;
    default: return hash_members(s, node, 0, mix(mix(h, 'o'), nd->count), depth);
    }
}

/* ---- the key ---- */

/* key_text: "col=value,..." of the key columns of object obj into s->key */
static dp_err_t key_text(vfy_state_t *s, const vfy_table_rows_t *t, uint32_t obj, char *errstr,
                         size_t n) {
    const dp_json_t *j = &s->json;
    dp_buf_reset(&s->key);
    for (size_t i = 0; i < t->npk; i++) {
        uint32_t v = dp_json_get(j, obj, t->pk[i]);
        if (!v)
            return dp_seterr(errstr, n, DP_ERR_INVALID, "a row of %s.%s has no key column \"%s\"",
                             t->schema, t->table, t->pk[i]);
        if (i) dp_buf_puts(&s->key, ",");
        dp_buf_puts(&s->key, t->pk[i]);
        dp_buf_puts(&s->key, "=");
        if (j->nodes[v].type == DP_JSON_STRING) {
            if (dp_json_str(j, v, &s->scratch))
                return dp_seterr(errstr, n, DP_ERR_INVALID, "bad string");
            dp_json_put_str(&s->key, (const char *)s->scratch.data, s->scratch.len);
        } else {
            dp_buf_append(&s->key, dp_json_raw(j, v), j->nodes[v].len);
        }
    }
    dp_buf_append(&s->key, "", 1); /* a C string for the findings */
    if (s->key.overflow) return dp_seterr(errstr, n, DP_ERR_INVALID, "key too long");
    s->key.len--;
    return DP_OK;
}

static uint64_t key_hash(const vfy_state_t *s, uint32_t table) {
    uint64_t h = hash_bytes(mix(0x51ed, table), s->key.data, s->key.len);
    return h ? h : 1;
}

static void grow(vfy_state_t *s) {
    size_t old = s->nslots;
    entry_t *os = s->slots;
    s->nslots = old ? old * 2 : 1024;
    s->slots = dp_xcalloc(s->nslots, sizeof *s->slots);
    for (size_t i = 0; i < old; i++) {
        if (!os[i].kh) continue;
        size_t k = os[i].kh & (s->nslots - 1);
        while (s->slots[k].kh) k = (k + 1) & (s->nslots - 1);
        s->slots[k] = os[i];
    }
    free(os);
}

/* find: the entry of (table, s->key), added (empty, kh set) when add */
static entry_t *find(vfy_state_t *s, uint32_t table, int add) {
    if (add && (s->used + 1) * 4 >= s->nslots * 3) grow(s);
    if (!s->nslots) return NULL;
    uint64_t h = key_hash(s, table);
    for (size_t k = h & (s->nslots - 1);; k = (k + 1) & (s->nslots - 1)) {
        entry_t *e = &s->slots[k];
        if (!e->kh) {
            if (!add) return NULL;
            memset(e, 0, sizeof *e);
            e->kh = h;
            e->table = table;
            e->koff = s->keys.len;
            e->klen = (uint32_t)s->key.len;
            dp_buf_append(&s->keys, s->key.data, s->key.len);
            s->used++;
            return e;
        }
        if (e->kh == h && e->table == table && e->klen == s->key.len &&
            memcmp(s->keys.data + e->koff, s->key.data, e->klen) == 0)
            return e;
    }
}

/* ---- the interface ---- */

vfy_state_t *vfy_state_new(void) {
    vfy_state_t *s = dp_xcalloc(1, sizeof *s);
    dp_buf_init(&s->keys, (size_t)1 << 40);
    dp_buf_init(&s->key, 1u << 16);
    dp_buf_init(&s->scratch, 1u << 30);
    return s;
}

void vfy_state_free(vfy_state_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->ntables; i++) {
        vfy_table_rows_t *t = &s->tables[i];
        for (size_t k = 0; k < t->npk; k++) free(t->pk[k]);
        free(t->pk);
        free(t->schema);
        free(t->table);
    }
    free(s->tables);
    free(s->slots);
    dp_buf_fini(&s->keys);
    dp_buf_fini(&s->key);
    dp_buf_fini(&s->scratch);
    dp_json_fini(&s->json);
    free(s);
}

uint32_t vfy_state_add_table(vfy_state_t *s, const char *schema, const char *table,
                             const char *const *pk, size_t npk) {
    s->tables = dp_xrealloc(s->tables, (s->ntables + 1) * sizeof *s->tables);
    vfy_table_rows_t *t = &s->tables[s->ntables];
    memset(t, 0, sizeof *t);
    t->schema = dp_xstrdup(schema);
    t->table = dp_xstrdup(table);
    t->pk = dp_xcalloc(npk + 1, sizeof *t->pk);
    for (size_t i = 0; i < npk; i++) t->pk[i] = dp_xstrdup(pk[i]);
    t->npk = npk;
    return (uint32_t)s->ntables++;
}

int vfy_state_table(const vfy_state_t *s, const char *schema, const char *table) {
    for (size_t i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i].schema, schema) && !strcmp(s->tables[i].table, table))
            return (int)i;
    return -1;
}

vfy_table_rows_t *vfy_state_counts(vfy_state_t *s, uint32_t table) { return &s->tables[table]; }
size_t vfy_state_ntables(const vfy_state_t *s) { return s->ntables; }

/* later: whether order (streamed, lsn, seq) comes after e's */
static int later(int streamed, int64_t lsn, int64_t seq, int e_streamed, int64_t e_lsn,
                 int64_t e_seq) {
    if (streamed != e_streamed) return streamed > e_streamed;
    if (lsn != e_lsn) return lsn > e_lsn;
    return seq > e_seq;
}

static dp_err_t parse_object(vfy_state_t *s, const char *p, size_t len, const char *what,
                             char *errstr, size_t n) {
    char jerr[160];
    if (!p || dp_json_parse(&s->json, p, len, MAX_NODES, jerr, sizeof jerr))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "%s is not JSON", what);
    if (s->json.nodes[0].type != DP_JSON_OBJECT)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "%s is not a JSON object", what);
    return DP_OK;
}

/* unavailable_mask: members whose value is the unchanged-TOAST placeholder */
static uint64_t unavailable_mask(const vfy_state_t *s) {
    const dp_json_t *j = &s->json;
    uint64_t mask = 0;
    size_t i = 0;
    for (uint32_t k = j->nodes[0].child; k && i < 64; k = j->nodes[j->nodes[k].next].next, i++) {
        uint32_t v = j->nodes[k].next;
        if (j->nodes[v].type == DP_JSON_STRING && j->nodes[v].len == strlen(UNAVAILABLE) &&
            !memcmp(dp_json_raw(j, v), UNAVAILABLE, j->nodes[v].len))
            mask |= (uint64_t)1 << i;
    }
    return mask;
}

dp_err_t vfy_state_fold(vfy_state_t *s, uint32_t table, char op, int64_t lsn, int64_t seq,
                        const char *before, size_t blen, const char *after, size_t alen,
                        char *errstr, size_t n) {
    vfy_table_rows_t *t = &s->tables[table];
    int streamed = op != 'r';
    t->changes++;
    if (op == 't') {
        if (!t->truncated || later(1, lsn, seq, t->trunc_streamed, t->trunc_lsn, t->trunc_seq)) {
            t->truncated = 1;
            t->trunc_streamed = 1;
            t->trunc_lsn = lsn;
            t->trunc_seq = seq;
        }
        return DP_OK;
    }
    if (op != 'c' && op != 'u' && op != 'r' && op != 'd')
        return dp_seterr(errstr, n, DP_ERR_INVALID, "operation \"%c\" is not c, u, d, r or t", op);
    int del = op == 'd';
    dp_err_t err = del ? parse_object(s, before, blen, "before_data", errstr, n)
                       : parse_object(s, after, alen, "after_data", errstr, n);
    if (!err) err = key_text(s, t, 0, errstr, n);
    if (err) return err;
    entry_t *e = find(s, table, 1);
    if (e->set && !later(streamed, lsn, seq, e->streamed, e->lsn, e->seq)) return DP_OK;
    e->set = 1;
    e->streamed = (uint8_t)streamed;
    e->lsn = lsn;
    e->seq = seq;
    e->deleted = (uint8_t)del;
    e->mask = del ? 0 : unavailable_mask(s);
    e->vh = del ? 0 : hash_members(s, 0, e->mask, mix(0x0b1ec7, s->json.nodes[0].count), 0);
    if (!e->vh) e->vh = 1;
    return DP_OK;
}

/* gone: whether e's latest state is no row (deleted, or a later truncate) */
static int gone(const vfy_table_rows_t *t, const entry_t *e) {
    if (e->deleted) return 1;
    return t->truncated &&
        !later(e->streamed, e->lsn, e->seq, t->trunc_streamed, t->trunc_lsn, t->trunc_seq);
}

dp_err_t vfy_state_check(vfy_state_t *s, uint32_t table, const char *after, size_t alen,
                         vfy_row_fn fn, void *ctx, char *errstr, size_t n) {
    vfy_table_rows_t *t = &s->tables[table];
    t->live++;
    dp_err_t err = parse_object(s, after, alen, "a live row", errstr, n);
    if (!err) err = key_text(s, t, 0, errstr, n);
    if (err) return err;
    entry_t *e = find(s, table, 0);
    if (!e || gone(t, e)) {
        t->missing++;
        fn(ctx, table, VFY_ROW_MISSING, (const char *)s->key.data);
        if (e) e->seen = 1;
        return DP_OK;
    }
    e->seen = 1;
    uint64_t vh = hash_members(s, 0, e->mask, mix(0x0b1ec7, s->json.nodes[0].count), 0);
    if (!vh) vh = 1;
    if (vh != e->vh) {
        t->differs++;
        fn(ctx, table, VFY_ROW_DIFFERS, (const char *)s->key.data);
    }
    return DP_OK;
}

void vfy_state_finish_table(vfy_state_t *s, uint32_t table, vfy_row_fn fn, void *ctx) {
    vfy_table_rows_t *t = &s->tables[table];
    t->keys = 0;
    for (size_t i = 0; i < s->nslots; i++) {
        entry_t *e = &s->slots[i];
        if (!e->kh || e->table != table || gone(t, e)) continue;
        t->keys++;
        if (e->seen) continue;
        t->extra++;
        dp_buf_reset(&s->key);
        dp_buf_append(&s->key, s->keys.data + e->koff, e->klen);
        dp_buf_append(&s->key, "", 1);
        fn(ctx, table, VFY_ROW_EXTRA, (const char *)s->key.data);
    }
}
