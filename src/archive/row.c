/* row.c - Debezium envelope -> one s3_cdc_events row, and the time
 * partition path. Parses outside bytes: every field is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "event/debezium.h"

/* span_of: the raw text of node (objects keep their braces); strings are
 * decoded into scratch when they contain escapes. */
static dp_err_t span_str(arc_row_t *row, const dp_json_t *j, uint32_t node, arc_span_t *out,
                         const char *what, char *errstr, size_t n) {
    out->null = 1;
    out->p = NULL;
    out->len = 0;
    if (!node || j->nodes[node].type == DP_JSON_NULL) return DP_OK;
    if (j->nodes[node].type != DP_JSON_STRING)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "field \"%s\" is not a string", what);
    const char *raw = dp_json_raw(j, node);
    size_t len = j->nodes[node].len;
    out->null = 0;
    if (!memchr(raw, '\\', len)) {
        out->p = raw;
        out->len = len;
        return DP_OK;
    }
    /* decode into the scratch buffer; remember the offset, not the pointer,
     * since the buffer may move while later fields are decoded */
    dp_buf_t tmp;
    dp_buf_init(&tmp, len + 1);
    dp_err_t err = dp_json_str(j, node, &tmp);
    size_t off = row->scratch.len;
    if (!err) err = dp_buf_append(&row->scratch, tmp.data, tmp.len);
    out->p = (const char *)(uintptr_t)off;
    out->len = tmp.len;
    out->null = 2; /* offset into scratch, fixed up at the end */
    dp_buf_fini(&tmp);
    if (err) return dp_seterr(errstr, n, DP_ERR_INVALID, "field \"%s\" too large", what);
    return DP_OK;
}

static dp_err_t get_int(const dp_json_t *j, uint32_t node, int64_t *v, int *isnull,
                        const char *what, char *errstr, size_t n) {
    *isnull = 1;
    *v = 0;
    if (!node || j->nodes[node].type == DP_JSON_NULL) return DP_OK;
    if (dp_json_int64(j, node, v))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "field \"%s\" is not an integer", what);
    *isnull = 0;
    return DP_OK;
}

static void span_json(const dp_json_t *j, uint32_t node, arc_span_t *out) {
    out->null = !node || j->nodes[node].type == DP_JSON_NULL;
    out->p = out->null ? NULL : dp_json_raw(j, node);
    out->len = out->null ? 0 : j->nodes[node].len;
}

dp_err_t arc_row_parse(arc_row_t *row, dp_json_t *j, const char *value, size_t len, char *errstr,
                       size_t n) {
    char jerr[200];
    dp_buf_reset(&row->scratch);
    if (dp_json_parse(j, value, len, 1u << 22, jerr, sizeof jerr))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "not JSON: %s", jerr);
    uint32_t payload = 0;
    if (j->nodes[0].type == DP_JSON_OBJECT) {
        uint32_t p = dp_json_get(j, 0, "payload");
        payload = p && dp_json_get(j, 0, "schema") ? p : 0;
        if (!payload) payload = 0; /* the value is the payload itself */
    }
    if (j->nodes[payload].type != DP_JSON_OBJECT)
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "not a Debezium envelope: payload is not an object");
    uint32_t op = dp_json_get(j, payload, "op"), source = dp_json_get(j, payload, "source");
    if (!op || !source || j->nodes[source].type != DP_JSON_OBJECT)
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "not a Debezium envelope: no \"op\" or \"source\"");
    uint32_t before = dp_json_get(j, payload, "before"), after = dp_json_get(j, payload, "after");
    if ((before && j->nodes[before].type != DP_JSON_OBJECT &&
         j->nodes[before].type != DP_JSON_NULL) ||
        (after && j->nodes[after].type != DP_JSON_OBJECT && j->nodes[after].type != DP_JSON_NULL))
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "not a Debezium envelope: \"before\"/\"after\" not objects");
    dp_err_t err;
    if ((err = span_str(row, j, op, &row->op, "op", errstr, n)) ||
        (err = span_str(row, j, dp_json_get(j, source, "table"), &row->table, "source.table",
                        errstr, n)) ||
        (err = span_str(row, j, dp_json_get(j, source, "version"), &row->version, "source.version",
                        errstr, n)) ||
        (err = span_str(row, j, dp_json_get(j, source, "db"), &row->db, "source.db", errstr, n)) ||
        (err = span_str(row, j, dp_json_get(j, source, "schema"), &row->schema, "source.schema",
                        errstr, n)) ||
        (err = get_int(j, dp_json_get(j, source, "txId"), &row->txid, &row->txid_null,
                       "source.txId", errstr, n)) ||
        (err = get_int(j, dp_json_get(j, source, "lsn"), &row->lsn, &row->lsn_null, "source.lsn",
                       errstr, n)) ||
        (err = get_int(j, dp_json_get(j, source, "ts_ms"), &row->event_ts_ms, &row->ts_null,
                       "source.ts_ms", errstr, n)))
        return err;
    if (row->op.null || row->op.len != 1 || !strchr("curdtm", row->op.p ? row->op.p[0] : 0))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "not a Debezium envelope: unknown op");
    span_json(j, before, &row->before);
    span_json(j, after, &row->after);
    /* fix up spans that were decoded into scratch */
    arc_span_t *spans[] = {&row->op, &row->table, &row->version, &row->db, &row->schema};
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        if (spans[i]->null != 2) continue;
        spans[i]->p = (const char *)row->scratch.data + (uintptr_t)spans[i]->p;
        spans[i]->null = 0;
    }
    return DP_OK;
}

/* ---- the same row from an Avro record's fields ---- */

const char *const arc_row_avro_want[ARC_ROW_AVRO_NWANT] = {
    "op",        "before",        "after",       "source.table", "source.version",
    "source.db", "source.schema", "source.txId", "source.lsn",   "source.ts_ms"};

static dp_err_t got_str(const dp_avro_got_t *g, arc_span_t *out, const char *what, char *errstr,
                        size_t n) {
    out->null = !g->present || g->null;
    out->p = out->null ? NULL : g->s;
    out->len = out->null ? 0 : g->n;
    if (!out->null && g->kind != DP_AVRO_GOT_STRING)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "field \"%s\" is not a string", what);
    return DP_OK;
}

static dp_err_t got_int(const dp_avro_got_t *g, int64_t *v, int *isnull, const char *what,
                        char *errstr, size_t n) {
    *isnull = !g->present || g->null;
    *v = *isnull ? 0 : g->i;
    if (!*isnull && g->kind != DP_AVRO_GOT_INT)
        return dp_seterr(errstr, n, DP_ERR_INVALID, "field \"%s\" is not an integer", what);
    return DP_OK;
}

static dp_err_t got_json(const dp_avro_got_t *g, const dp_buf_t *json, arc_span_t *out,
                         char *errstr, size_t n) {
    out->null = !g->present || g->null;
    out->p = out->null ? NULL : (const char *)json->data + g->off;
    out->len = out->null ? 0 : g->n;
    if (!out->null && (g->kind != DP_AVRO_GOT_JSON || out->len == 0 || out->p[0] != '{'))
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "not a Debezium envelope: \"before\"/\"after\" not objects");
    return DP_OK;
}

dp_err_t arc_row_from_avro(arc_row_t *row, const dp_avro_got_t *g, const dp_buf_t *json,
                           char *errstr, size_t n) {
    dp_buf_reset(&row->scratch);
    int source = 0;
    for (size_t i = 3; i < ARC_ROW_AVRO_NWANT; i++) source |= g[i].present;
    if (!g[0].present || !source)
        return dp_seterr(errstr, n, DP_ERR_INVALID,
                         "not a Debezium envelope: no \"op\" or \"source\"");
    dp_err_t err;
    if ((err = got_json(&g[1], json, &row->before, errstr, n)) ||
        (err = got_json(&g[2], json, &row->after, errstr, n)) ||
        (err = got_str(&g[0], &row->op, "op", errstr, n)) ||
        (err = got_str(&g[3], &row->table, "source.table", errstr, n)) ||
        (err = got_str(&g[4], &row->version, "source.version", errstr, n)) ||
        (err = got_str(&g[5], &row->db, "source.db", errstr, n)) ||
        (err = got_str(&g[6], &row->schema, "source.schema", errstr, n)) ||
        (err = got_int(&g[7], &row->txid, &row->txid_null, "source.txId", errstr, n)) ||
        (err = got_int(&g[8], &row->lsn, &row->lsn_null, "source.lsn", errstr, n)) ||
        (err = got_int(&g[9], &row->event_ts_ms, &row->ts_null, "source.ts_ms", errstr, n)))
        return err;
    if (row->op.null || row->op.len != 1 || !strchr("curdtm", row->op.p[0]))
        return dp_seterr(errstr, n, DP_ERR_INVALID, "not a Debezium envelope: unknown op");
    return DP_OK;
}

/* payload_of: the envelope payload node (the schema wrapper is optional) */
static uint32_t payload_of(const dp_json_t *j) {
    uint32_t p = dp_json_get(j, 0, "payload");
    return p && dp_json_get(j, 0, "schema") ? p : 0;
}

dp_err_t arc_row_field_ms(const dp_json_t *j, const char *path, int64_t *ms) {
    uint32_t node = payload_of(j);
    char part[256];
    for (const char *p = path; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l >= sizeof part) return DP_ERR_INVALID;
        memcpy(part, p, l);
        part[l] = 0;
        node = dp_json_get(j, node, part);
        if (!node) return DP_ERR_INVALID;
        p += l + (dot ? 1 : 0);
    }
    if (j->nodes[node].type == DP_JSON_NUMBER) return dp_json_int64(j, node, ms);
    if (j->nodes[node].type != DP_JSON_STRING || j->nodes[node].len >= 64) return DP_ERR_INVALID;
    char text[64];
    size_t l = j->nodes[node].len;
    memcpy(text, dp_json_raw(j, node), l);
    text[l] = 0;
    if (l && text[l - 1] == 'Z') text[--l] = 0; /* UTC designator */
    int64_t us;
    if (dbz_parse_timestamp(text, l, &us)) return DP_ERR_INVALID;
    *ms = (us - ((us % 1000) + 1000) % 1000) / 1000;
    return DP_OK;
}

/* ---- path.format ---- */

dp_err_t arc_format_path(const char *format, int64_t ts_ms, long long duration_ms, const char *tz,
                         char *out, size_t outsize) {
    /* bucket in local time, as Confluent's TimeBasedPartitioner does */
    int64_t offset_ms = 0;
    if (tz && strcmp(tz, "UTC") != 0) {
        time_t t = (time_t)(ts_ms / 1000);
        struct tm lt;
        const char *cur = getenv("TZ");
        if (cur && strcmp(cur, tz) == 0) {
            /* the archive sets TZ once, before its threads start */
            localtime_r(&t, &lt);
        } else {
            /* single-threaded use (tests, config checks): switch TZ for it */
            char *old = cur ? strdup(cur) : NULL;
            setenv("TZ", tz, 1);
            tzset();
            localtime_r(&t, &lt);
            if (old) {
                setenv("TZ", old, 1);
                free(old);
            } else
                unsetenv("TZ");
            tzset();
        }
        offset_ms = (int64_t)lt.tm_gmtoff * 1000;
    }
    int64_t local = ts_ms + offset_ms;
    int64_t b = local - ((local % duration_ms) + duration_ms) % duration_ms;
    time_t secs = (time_t)((b - ((b % 1000) + 1000) % 1000) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t o = 0;
    const char *p = format;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(out + o, outsize - o, __VA_ARGS__);                                      \
        if (w_ < 0 || (size_t)w_ >= outsize - o) return DP_ERR_INVALID;                            \
        o += (size_t)w_;                                                                           \
    } while (0)
    while (*p) {
        if (*p == '\'') {
            const char *e = strchr(p + 1, '\'');
            if (!e) return DP_ERR_INVALID;
            PUT("%.*s", (int)(e - p - 1), p + 1);
            p = e + 1;
            continue;
        }
        size_t run = 1;
        while (p[run] == p[0]) run++;
        switch (p[0]) {
        case 'Y':
        case 'y': PUT("%0*d", (int)run, tm.tm_year + 1900); break;
        case 'M': PUT("%0*d", (int)run, tm.tm_mon + 1); break;
        case 'd': PUT("%0*d", (int)run, tm.tm_mday); break;
        case 'H': PUT("%0*d", (int)run, tm.tm_hour); break;
        case 'm': PUT("%0*d", (int)run, tm.tm_min); break;
        case 's': PUT("%0*d", (int)run, tm.tm_sec); break;
        default:
            if ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) return DP_ERR_INVALID;
            PUT("%.*s", (int)run, p);
        }
        p += run;
    }
#undef PUT
    return DP_OK;
}
