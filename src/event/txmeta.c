/* txmeta.c - Debezium's transaction metadata: counters, BEGIN/END records. */
#include "event/txmeta.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/* Java's HashMap: the table starts at 16 buckets on the first put, doubles
 * when the size passes 3/4 of it, and doubles too when a bucket already
 * holding 8 entries takes another while the table is under 64 (past that
 * it would become a tree: not reproduced, it needs 9 collections of one
 * transaction in one bucket of 64 or more). */
/* names of the collections of one transaction: PostgreSQL's names are at
 * most 63 bytes, so this is room for some 100,000 tables */
#define TXMETA_NAMES_MAX (16u << 20)

#define JAVA_INITIAL_CAP 16u
#define JAVA_TREEIFY_BIN 8u
#define JAVA_MIN_TREEIFY_CAP 64u

static uint32_t java_bucket(int32_t hash, uint32_t cap) {
    uint32_t h = (uint32_t)hash;
    return (h ^ (h >> 16)) & (cap - 1);
}

int32_t dbz_java_string_hash(const char *s, size_t n) {
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c0 = p[i];
        size_t extra = c0 >= 0xF0 ? 3 : c0 >= 0xE0 ? 2 : c0 >= 0xC0 ? 1 : 0;
        uint32_t cp = extra == 3 ? c0 & 0x07 : extra == 2 ? c0 & 0x0F : extra == 1 ? c0 & 0x1F : c0;
        if (i + extra >= n) { /* truncated sequence: its bytes as they are */
            extra = 0;
            cp = c0;
        }
        for (size_t k = 1; k <= extra; k++) cp = (cp << 6) | (p[i + k] & 0x3Fu);
        i += 1 + extra;
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            h = h * 31 + (0xD800 + (cp >> 10));
            h = h * 31 + (0xDC00 + (cp & 0x3FF));
        } else {
            h = h * 31 + cp;
        }
    }
    return (int32_t)h;
}

void dbz_txmeta_init(dbz_txmeta_t *m) {
    memset(m, 0, sizeof *m);
    dp_buf_init(&m->names, TXMETA_NAMES_MAX);
}

void dbz_txmeta_fini(dbz_txmeta_t *m) {
    free(m->colls);
    free(m->order);
    dp_buf_fini(&m->names);
    memset(m, 0, sizeof *m);
}

void dbz_txmeta_begin(dbz_txmeta_t *m, uint32_t xid) {
    m->xid = xid;
    m->total = 0;
    m->ncolls = 0;
    m->last = 0;
    dp_buf_reset(&m->names);
}

static int same_name(const dbz_txmeta_t *m, const dbz_txcoll_t *e, const char *schema, size_t sl,
                     const char *table, size_t tl) {
    const char *nm = (const char *)m->names.data + e->off;
    return e->len == sl + 1 + tl && memcmp(nm, schema, sl) == 0 && nm[sl] == '.' &&
        memcmp(nm + sl + 1, table, tl) == 0;
}

/* put: a new collection, with what Java's HashMap.putVal does to its table */
static dbz_txcoll_t *put(dbz_txmeta_t *m, const char *schema, size_t sl, const char *table,
                         size_t tl) {
    if (m->ncolls == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->colls = dp_xrealloc(m->colls, m->cap * sizeof *m->colls);
        m->order = dp_xrealloc(m->order, m->cap * sizeof *m->order);
    }
    dbz_txcoll_t *e = &m->colls[m->ncolls];
    e->off = (uint32_t)m->names.len;
    e->len = (uint32_t)(sl + 1 + tl);
    e->count = 0;
    dp_buf_append(&m->names, schema, sl);
    dp_buf_putc(&m->names, '.');
    dp_buf_append(&m->names, table, tl);
    if (m->names.overflow) {
        m->names.overflow = 0;
        m->names.len = e->off;
        return NULL;
    }
    e->hash = dbz_java_string_hash((const char *)m->names.data + e->off, e->len);
    if (!m->java_cap) m->java_cap = JAVA_INITIAL_CAP;
    uint32_t b = java_bucket(e->hash, m->java_cap), in_bin = 0;
    for (size_t i = 0; i < m->ncolls; i++)
        in_bin += java_bucket(m->colls[i].hash, m->java_cap) == b;
    if (in_bin >= JAVA_TREEIFY_BIN && m->java_cap < JAVA_MIN_TREEIFY_CAP) m->java_cap *= 2;
    m->ncolls++;
    if (m->ncolls > (size_t)m->java_cap / 4 * 3) m->java_cap *= 2;
    return e;
}

dp_err_t dbz_txmeta_event(dbz_txmeta_t *m, const char *schema, const char *table, uint64_t lsn,
                          dbz_txblock_t *out) {
    size_t sl = strlen(schema), tl = strlen(table);
    dbz_txcoll_t *e = NULL;
    if (m->last < m->ncolls && same_name(m, &m->colls[m->last], schema, sl, table, tl))
        e = &m->colls[m->last];
    for (size_t i = 0; !e && i < m->ncolls; i++)
        if (same_name(m, &m->colls[i], schema, sl, table, tl)) e = &m->colls[i];
    if (!e && !(e = put(m, schema, sl, table, tl))) return DP_ERR_NOMEM;
    m->last = (size_t)(e - m->colls);
    e->count++;
    m->total++;
    out->xid = m->xid;
    out->lsn = lsn;
    out->total_order = m->total;
    out->data_collection_order = e->count;
    return DP_OK;
}

/* iteration order of Java's HashMap: by bucket, then insertion order */
static void java_order(dbz_txmeta_t *m) {
    for (size_t i = 0; i < m->ncolls; i++) {
        uint32_t b = java_bucket(m->colls[i].hash, m->java_cap);
        size_t j = i;
        while (j > 0 && java_bucket(m->colls[m->order[j - 1]].hash, m->java_cap) > b) {
            m->order[j] = m->order[j - 1];
            j--;
        }
        m->order[j] = (uint32_t)i;
    }
}

/* Instant.toEpochMilli of the commit time: floor */
static int64_t ts_ms(int64_t ts_us) { return ts_us >= 0 ? ts_us / 1000 : -((-ts_us + 999) / 1000); }

dp_err_t dbz_txmeta_json_key(const dbz_txmeta_t *m, const dbz_options_t *opt, uint64_t lsn,
                             dp_buf_t *key) {
    char id[DBZ_TXID_MAX];
    size_t idn = dbz_txid(m->xid, lsn, id);
    dp_buf_reset(key);
    if (opt->key_schemas_enable)
        dp_buf_puts(key, "{\"schema\":" DBZ_TXMETA_KEY_SCHEMA ",\"payload\":");
    dp_buf_puts(key, "{\"id\":\"");
    dp_buf_append(key, id, idn);
    dp_buf_puts(key, opt->key_schemas_enable ? "\"}}" : "\"}");
    return key->overflow ? DP_ERR_NOMEM : DP_OK;
}

dp_err_t dbz_txmeta_json_value(dbz_txmeta_t *m, const dbz_options_t *opt, int end, uint64_t lsn,
                               int64_t ts_us, dp_buf_t *value) {
    char id[DBZ_TXID_MAX];
    size_t idn = dbz_txid(m->xid, lsn, id);
    dp_buf_reset(value);
    if (opt->schemas_enable)
        dp_buf_puts(value, "{\"schema\":" DBZ_TXMETA_VALUE_SCHEMA ",\"payload\":");
    dp_buf_puts(value, end ? "{\"status\":\"END\",\"id\":\"" : "{\"status\":\"BEGIN\",\"id\":\"");
    dp_buf_append(value, id, idn);
    if (!end) {
        dp_buf_puts(value, "\",\"event_count\":null,\"data_collections\":null");
    } else {
        dp_buf_puts(value, "\",\"event_count\":");
        dp_buf_put_u64(value, m->total);
        dp_buf_puts(value, ",\"data_collections\":[");
        java_order(m);
        for (size_t k = 0; k < m->ncolls; k++) {
            const dbz_txcoll_t *e = &m->colls[m->order[k]];
            dp_buf_puts(value, k ? ",{\"data_collection\":" : "{\"data_collection\":");
            dp_json_put_str(value, (const char *)m->names.data + e->off, e->len);
            dp_buf_puts(value, ",\"event_count\":");
            dp_buf_put_u64(value, e->count);
            dp_buf_putc(value, '}');
        }
        dp_buf_putc(value, ']');
    }
    dp_buf_puts(value, ",\"ts_ms\":");
    dp_buf_put_i64(value, ts_ms(ts_us));
    dp_buf_puts(value, opt->schemas_enable ? "}}" : "}");
    return value->overflow ? DP_ERR_NOMEM : DP_OK;
}

/* ---- the Avro writers: fields in the order of the Connect schemas ---- */

dp_err_t dbz_txmeta_avro_key(const dbz_txmeta_t *m, const dp_avro_type_t *t, uint64_t lsn,
                             dp_buf_t *out, char *errstr, size_t n) {
    char id[DBZ_TXID_MAX];
    size_t idn = dbz_txid(m->xid, lsn, id);
    if (!dp_avro_is_record(t) || dp_avro_nfields(t) != 1)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "avro: not the transaction key's schema");
    return dp_avro_put_string(dp_avro_field_type(t, 0), id, idn, out, "id", errstr, n);
}

dp_err_t dbz_txmeta_avro_value(dbz_txmeta_t *m, const dp_avro_type_t *t, int end, uint64_t lsn,
                               int64_t ts_us, dp_buf_t *out, char *errstr, size_t n) {
    char id[DBZ_TXID_MAX];
    size_t idn = dbz_txid(m->xid, lsn, id);
    if (!dp_avro_is_record(t) || dp_avro_nfields(t) != 5)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "avro: not the transaction value's schema");
    const char *status = end ? "END" : "BEGIN";
    const dp_avro_type_t *cnt = dp_avro_field_type(t, 2), *colls = dp_avro_field_type(t, 3);
    dp_err_t err;
    if ((err = dp_avro_put_string(dp_avro_field_type(t, 0), status, strlen(status), out, "status",
                                  errstr, n)) ||
        (err = dp_avro_put_string(dp_avro_field_type(t, 1), id, idn, out, "id", errstr, n)))
        return err;
    if (!end) {
        if ((err = dp_avro_put_null(cnt, out, "event_count", errstr, n)) ||
            (err = dp_avro_put_null(colls, out, "data_collections", errstr, n)))
            return err;
    } else {
        const dp_avro_type_t *item;
        if ((err = dp_avro_put_integer(cnt, (int64_t)m->total, out, "event_count", errstr, n)) ||
            (err = dp_avro_put_array(colls, m->ncolls, out, &item, "data_collections", errstr, n)))
            return err;
        if (!dp_avro_is_record(item) || dp_avro_nfields(item) != 2)
            return dp_seterr(errstr, n, DP_ERR_INVALID, "avro: not the transaction value's schema");
        java_order(m);
        for (size_t k = 0; k < m->ncolls; k++) {
            const dbz_txcoll_t *e = &m->colls[m->order[k]];
            dp_avro_put_present(item, out); /* the items are optional structs */
            if ((err = dp_avro_put_string(dp_avro_field_type(item, 0),
                                          (const char *)m->names.data + e->off, e->len, out,
                                          "data_collection", errstr, n)) ||
                (err = dp_avro_put_integer(dp_avro_field_type(item, 1), (int64_t)e->count, out,
                                           "event_count", errstr, n)))
                return err;
        }
        dp_avro_put_array_end(out);
    }
    if ((err =
             dp_avro_put_integer(dp_avro_field_type(t, 4), ts_ms(ts_us), out, "ts_ms", errstr, n)))
        return err;
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}
