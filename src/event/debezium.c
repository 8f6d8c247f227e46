/* debezium.c - Debezium envelope, schemas and PostgreSQL type mapping. */
#include "event/debezium.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
    OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700,
    OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700, OID_UUID = 2950,
    OID_JSONB = 3802
};

#define UNAVAILABLE "__debezium_unavailable_value"

/* time precision of a time/timestamp typmod; -1 means the default, 6 */
static int time_precision(int32_t typmod) { return typmod < 0 ? 6 : typmod; }

static void pick_conv(dbz_column_t *c) {
    c->scale = 0;
    switch (c->type_oid) {
    case OID_BOOL: c->conv = DBZ_CONV_BOOL; break;
    case OID_INT2: c->conv = DBZ_CONV_INT16; break;
    case OID_INT4: c->conv = DBZ_CONV_INT32; break;
    case OID_INT8: case OID_OID: c->conv = DBZ_CONV_INT64; break;
    case OID_FLOAT4: c->conv = DBZ_CONV_FLOAT32; break;
    case OID_FLOAT8: c->conv = DBZ_CONV_FLOAT64; break;
    case OID_NUMERIC:
        if (c->typmod >= 4) {
            c->conv = DBZ_CONV_DECIMAL;
            c->scale = (c->typmod - 4) & 0xffff;
        } else {
            c->conv = DBZ_CONV_VSDECIMAL;
        }
        break;
    case OID_BYTEA: c->conv = DBZ_CONV_BYTES; break;
    case OID_DATE: c->conv = DBZ_CONV_DATE; break;
    case OID_TIME: c->conv = time_precision(c->typmod) <= 3 ? DBZ_CONV_TIME_MS : DBZ_CONV_TIME_US; break;
    case OID_TIMESTAMP: c->conv = time_precision(c->typmod) <= 3 ? DBZ_CONV_TS_MS : DBZ_CONV_TS_US; break;
    case OID_TIMESTAMPTZ: c->conv = DBZ_CONV_TSTZ; break;
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_CHAR: case OID_NAME:
    case OID_UUID: case OID_JSON: case OID_JSONB:
        c->conv = DBZ_CONV_STRING;
        break;
    default:
        dp_warn("event", "column \"%s\" has type oid %u that datapipe does not map yet; "
                "its values are sent as strings", c->name, c->type_oid);
        c->conv = DBZ_CONV_STRING;
    }
}

/* put_field_schema: the JsonConverter schema of one column. */
static void put_field_schema(dp_buf_t *b, const dbz_column_t *c) {
    const char *type = "string", *name = NULL;
    switch (c->conv) {
    case DBZ_CONV_STRING:
        if (c->type_oid == OID_UUID) name = "io.debezium.data.Uuid";
        if (c->type_oid == OID_JSON || c->type_oid == OID_JSONB) name = "io.debezium.data.Json";
        break;
    case DBZ_CONV_BOOL: type = "boolean"; break;
    case DBZ_CONV_INT16: type = "int16"; break;
    case DBZ_CONV_INT32: type = "int32"; break;
    case DBZ_CONV_INT64: type = "int64"; break;
    case DBZ_CONV_FLOAT32: type = "float"; break;
    case DBZ_CONV_FLOAT64: type = "double"; break;
    case DBZ_CONV_DECIMAL: type = "bytes"; name = "org.apache.kafka.connect.data.Decimal"; break;
    case DBZ_CONV_VSDECIMAL: type = "struct"; name = "io.debezium.data.VariableScaleDecimal"; break;
    case DBZ_CONV_BYTES: type = "bytes"; break;
    case DBZ_CONV_DATE: type = "int32"; name = "io.debezium.time.Date"; break;
    case DBZ_CONV_TIME_MS: type = "int32"; name = "io.debezium.time.Time"; break;
    case DBZ_CONV_TIME_US: type = "int64"; name = "io.debezium.time.MicroTime"; break;
    case DBZ_CONV_TS_MS: type = "int64"; name = "io.debezium.time.Timestamp"; break;
    case DBZ_CONV_TS_US: type = "int64"; name = "io.debezium.time.MicroTimestamp"; break;
    case DBZ_CONV_TSTZ: name = "io.debezium.time.ZonedTimestamp"; break;
    }
    dp_buf_printf(b, "{\"type\":\"%s\",", type);
    if (c->conv == DBZ_CONV_VSDECIMAL)
        dp_buf_puts(b, "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
                       "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],");
    dp_buf_printf(b, "\"optional\":%s", c->optional ? "true" : "false");
    if (name) dp_buf_printf(b, ",\"name\":\"%s\",\"version\":1", name);
    if (c->conv == DBZ_CONV_VSDECIMAL) dp_buf_puts(b, ",\"doc\":\"Variable scaled decimal\"");
    if (c->conv == DBZ_CONV_DECIMAL)
        dp_buf_printf(b, ",\"parameters\":{\"scale\":\"%d\",\"connect.decimal.precision\":\"%d\"}",
                      c->scale, ((c->typmod - 4) >> 16) & 0xffff);
    dp_buf_puts(b, ",\"field\":");
    dp_json_put_str(b, c->name, strlen(c->name));
    dp_buf_putc(b, '}');
}

/* put_struct_schema: a struct of the columns (all, or only key ones). */
static void put_struct_schema(dp_buf_t *b, const dbz_table_t *t, const dbz_options_t *opt,
                              int keys_only, int optional, const char *suffix,
                              const char *field) {
    dp_buf_puts(b, "{\"type\":\"struct\",\"fields\":[");
    int first = 1;
    for (uint16_t i = 0; i < t->ncols; i++) {
        if (keys_only && !t->cols[i].in_key) continue;
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        dbz_column_t kc = t->cols[i];
        if (keys_only) kc.optional = 0;
        put_field_schema(b, &kc);
    }
    dp_buf_printf(b, "],\"optional\":%s,\"name\":", optional ? "true" : "false");
    dp_buf_t name;
    dp_buf_init(&name, 4096);
    dp_buf_printf(&name, "%s.%s.%s.%s", opt->topic_prefix, t->schema, t->table, suffix);
    dp_json_put_str(b, (const char *)name.data, name.len);
    dp_buf_fini(&name);
    if (field) dp_buf_printf(b, ",\"field\":\"%s\"", field);
    dp_buf_putc(b, '}');
}

static const char SOURCE_SCHEMA[] =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
    "\"parameters\":{\"allowed\":\"true,first,first_in_data_collection,last_in_data_collection,"
    "last,false,incremental\"},\"default\":\"false\",\"field\":\"snapshot\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}],"
    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"},"
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
    "\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"}]";

dp_err_t dbz_table_init(dbz_table_t *t, const pgo_msg_t *rel, const dbz_catalog_col_t *cat,
                        size_t ncat, const dbz_options_t *opt, char *errstr, size_t errstr_size) {
    memset(t, 0, sizeof *t);
    if (rel->kind != PGO_RELATION)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "not a relation message");
    t->relid = rel->u.relation.relid;
    const pgo_str_t *ns = &rel->u.relation.nspname, *rn = &rel->u.relation.relname;
    t->schema = strndup(ns->len ? ns->p : "pg_catalog", ns->len ? ns->len : 10);
    t->table = strndup(rn->p, rn->len);
    if (!t->schema || !t->table) abort();
    t->replident = rel->u.relation.replident;
    t->ncols = rel->u.relation.ncols;
    t->cols = dp_xcalloc(t->ncols ? t->ncols : 1, sizeof *t->cols);
    int have_pk = 0;
    for (size_t k = 0; k < ncat; k++) have_pk |= cat[k].in_pk;
    for (uint16_t i = 0; i < t->ncols; i++) {
        const pgo_column_t *pc = &rel->u.relation.cols[i];
        dbz_column_t *c = &t->cols[i];
        c->name = strndup(pc->name.p, pc->name.len);
        if (!c->name) abort();
        c->type_oid = pc->type_oid;
        c->typmod = pc->typmod;
        c->optional = 1;
        c->in_key = (pc->flags & 1) && t->replident != 'f';
        for (size_t k = 0; k < ncat; k++) {
            if (strcmp(cat[k].name, c->name) != 0) continue;
            c->optional = !cat[k].not_null;
            if (have_pk) c->in_key = cat[k].in_pk;
        }
        if (!cat && t->replident == 'f') c->in_key = 0;
        t->nkeys += c->in_key;
        pick_conv(c);
    }
    dp_buf_init(&t->key_schema, 1 << 20);
    dp_buf_init(&t->value_schema, 4 << 20);
    put_struct_schema(&t->key_schema, t, opt, 1, 0, "Key", NULL);
    dp_buf_puts(&t->value_schema, "{\"type\":\"struct\",\"fields\":[");
    put_struct_schema(&t->value_schema, t, opt, 0, 1, "Value", "before");
    dp_buf_putc(&t->value_schema, ',');
    put_struct_schema(&t->value_schema, t, opt, 0, 1, "Value", "after");
    dp_buf_putc(&t->value_schema, ',');
    dp_buf_puts(&t->value_schema, SOURCE_SCHEMA);
    dp_buf_puts(&t->value_schema, ",\"optional\":false,\"name\":");
    dp_buf_t name;
    dp_buf_init(&name, 4096);
    dp_buf_printf(&name, "%s.%s.%s.Envelope", opt->topic_prefix, t->schema, t->table);
    dp_json_put_str(&t->value_schema, (const char *)name.data, name.len);
    dp_buf_fini(&name);
    dp_buf_puts(&t->value_schema, ",\"version\":2}");
    if (t->value_schema.overflow || t->key_schema.overflow)
        return dp_seterr(errstr, errstr_size, DP_ERR_NOMEM, "schema of \"%s\".\"%s\" too large",
                         t->schema, t->table);
    return DP_OK;
}

void dbz_table_fini(dbz_table_t *t) {
    if (!t) return;
    for (uint16_t i = 0; i < t->ncols; i++) free(t->cols[i].name);
    free(t->cols);
    free(t->schema);
    free(t->table);
    dp_buf_fini(&t->key_schema);
    dp_buf_fini(&t->value_schema);
    memset(t, 0, sizeof *t);
}

/* ---- value conversions ---- */

dp_err_t dbz_decimal_unscaled(const char *s, size_t n, int scale, uint8_t *out, size_t cap,
                              size_t *outlen) {
    /* little-endian magnitude, built digit by digit */
    uint8_t mag[512];
    size_t ml = 0;
    int neg = 0, seen_dot = 0, frac = 0, digits = 0;
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    for (;; i++) {
        int d;
        if (i < n && s[i] == '.' && !seen_dot) { seen_dot = 1; continue; }
        if (i < n) {
            if (s[i] < '0' || s[i] > '9') return DP_ERR_INVALID;
            d = s[i] - '0';
            if (seen_dot) {
                if (frac >= scale) {
                    if (d != 0) return DP_ERR_INVALID; /* would lose digits */
                    continue;
                }
                frac++;
            }
            digits++;
        } else if (frac < scale) {
            d = 0;
            frac++;
        } else {
            break;
        }
        unsigned carry = (unsigned)d;
        for (size_t k = 0; k < ml; k++) {
            unsigned v = mag[k] * 10u + carry;
            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry) {
            if (ml == sizeof mag) return DP_ERR_INVALID;
            mag[ml++] = (uint8_t)carry;
        }
    }
    if (!digits) return DP_ERR_INVALID;
    while (ml > 0 && mag[ml - 1] == 0) ml--;
    /* big-endian with one spare byte for the sign */
    uint8_t be[sizeof mag + 1];
    size_t bl = ml + 1;
    be[0] = 0;
    for (size_t k = 0; k < ml; k++) be[bl - 1 - k] = mag[k];
    if (neg && ml) {
        unsigned c = 1;
        for (size_t k = bl; k-- > 0;) {
            unsigned v = (uint8_t)~be[k] + c;
            be[k] = (uint8_t)v;
            c = v >> 8;
        }
    }
    /* strip redundant sign bytes, as BigInteger.toByteArray() is minimal */
    size_t off = 0;
    while (bl - off > 1 && ((be[off] == 0 && !(be[off + 1] & 0x80)) ||
                            (be[off] == 0xff && (be[off + 1] & 0x80))))
        off++;
    if (bl - off > cap) return DP_ERR_INVALID;
    memcpy(out, be + off, bl - off);
    *outlen = bl - off;
    return DP_OK;
}

int64_t dbz_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* num: parse exactly w digits at s[*i] */
static int num(const char *s, size_t n, size_t *i, int w, int *out) {
    int v = 0;
    for (int k = 0; k < w; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

/* parse_time: "HH:MM:SS[.ffffff]" from s[*i] -> µs of day */
static int parse_time(const char *s, size_t n, size_t *i, int64_t *us) {
    int hh, mi, ss;
    if (num(s, n, i, 2, &hh) || *i >= n || s[(*i)++] != ':' || num(s, n, i, 2, &mi) ||
        *i >= n || s[(*i)++] != ':' || num(s, n, i, 2, &ss))
        return -1;
    int64_t frac = 0;
    if (*i < n && s[*i] == '.') {
        (*i)++;
        int k = 0;
        while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
            if (k < 6) frac = frac * 10 + (s[*i] - '0');
            k++;
            (*i)++;
        }
        for (; k < 6; k++) frac *= 10;
    }
    *us = ((int64_t)hh * 3600 + mi * 60 + ss) * 1000000 + frac;
    return 0;
}

dp_err_t dbz_parse_timestamp(const char *s, size_t n, int64_t *us) {
    size_t i = 0;
    int y, mo, d;
    int neg_year = 0;
    if (num(s, n, &i, 4, &y)) return DP_ERR_INVALID;
    /* PostgreSQL's years have at most 6 digits (294276 AD) */
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (y > 99999) return DP_ERR_INVALID;
        y = y * 10 + (s[i++] - '0');
    }
    if (i >= n || s[i++] != '-' || num(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
        num(s, n, &i, 2, &d))
        return DP_ERR_INVALID;
    int64_t tod = 0;
    if (i < n && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (parse_time(s, n, &i, &tod)) return DP_ERR_INVALID;
    }
    int64_t off_s = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0, os = 0;
        if (num(s, n, &i, 2, &oh)) return DP_ERR_INVALID;
        if (i < n && s[i] == ':') { i++; if (num(s, n, &i, 2, &om)) return DP_ERR_INVALID; }
        if (i < n && s[i] == ':') { i++; if (num(s, n, &i, 2, &os)) return DP_ERR_INVALID; }
        off_s = sign * (oh * 3600 + om * 60 + os);
    }
    if (n - i == 3 && memcmp(s + i, " BC", 3) == 0) { neg_year = 1; i += 3; }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31) return DP_ERR_INVALID;
    int64_t yy = neg_year ? 1 - (int64_t)y : y;
    int64_t days = dbz_days_from_civil(yy, (unsigned)mo, (unsigned)d);
    /* µs since 1970 must fit in int64: PostgreSQL's last ~30 years do not */
    if (days > 106751990 || days < -106751990) return DP_ERR_INVALID;
    *us = days * 86400000000LL + tod - off_s * 1000000;
    return DP_OK;
}

/* put_iso_utc: µs since epoch as ISO-8601 with trailing zeros of the
 * fraction dropped, 'Z' suffix (java.time ISO_OFFSET_DATE_TIME). */
static void put_iso_utc(dp_buf_t *b, int64_t us) {
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) { rem += 86400000000LL; days--; }
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    dp_buf_printf(b, "\"%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d, (int)(secs / 3600),
                  (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06lld", (long long)frac);
        int l = 6;
        while (l > 0 && f[l - 1] == '0') l--;
        f[l] = 0;
        dp_buf_printf(b, ".%s", f);
    }
    dp_buf_puts(b, "Z\"");
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* put_value: one column value as Connect JSON. Falls back to the text as a
 * JSON string (with a warning) when the text cannot be converted. */
static void put_value(dp_buf_t *b, const dbz_column_t *c, const pgo_value_t *v) {
    if (v->kind == PGO_VAL_NULL) { dp_buf_puts(b, "null"); return; }
    if (v->kind == PGO_VAL_UNCHANGED) {
        if (c->conv == DBZ_CONV_BYTES)
            dp_json_put_base64(b, (const uint8_t *)UNAVAILABLE, sizeof UNAVAILABLE - 1);
        else
            dp_json_put_str(b, UNAVAILABLE, sizeof UNAVAILABLE - 1);
        return;
    }
    const char *s = v->data;
    size_t n = v->len;
    switch (c->conv) {
    case DBZ_CONV_STRING: dp_json_put_str(b, s, n); return;
    case DBZ_CONV_BOOL: dp_buf_puts(b, n && s[0] == 't' ? "true" : "false"); return;
    case DBZ_CONV_INT16: case DBZ_CONV_INT32: case DBZ_CONV_INT64:
    case DBZ_CONV_FLOAT32: case DBZ_CONV_FLOAT64: {
        /* PostgreSQL's text of a number is valid JSON except NaN/Infinity */
        if (n && (s[0] == 'N' || s[0] == 'I' || (s[0] == '-' && n > 1 && s[1] == 'I'))) {
            dp_json_put_str(b, s, n);
            return;
        }
        dp_buf_append(b, s, n);
        return;
    }
    case DBZ_CONV_DECIMAL: {
        uint8_t out[520];
        size_t ol;
        if (dbz_decimal_unscaled(s, n, c->scale, out, sizeof out, &ol) == DP_OK) {
            dp_json_put_base64(b, out, ol);
            return;
        }
        break;
    }
    case DBZ_CONV_VSDECIMAL: {
        const char *dot = memchr(s, '.', n);
        int scale = dot ? (int)(n - (size_t)(dot - s) - 1) : 0;
        uint8_t out[520];
        size_t ol;
        if (dbz_decimal_unscaled(s, n, scale, out, sizeof out, &ol) == DP_OK) {
            dp_buf_printf(b, "{\"scale\":%d,\"value\":", scale);
            dp_json_put_base64(b, out, ol);
            dp_buf_putc(b, '}');
            return;
        }
        break;
    }
    case DBZ_CONV_BYTES: {
        if (n >= 2 && s[0] == '\\' && s[1] == 'x' && n % 2 == 0) {
            size_t bl = (n - 2) / 2;
            uint8_t stack[256] = {0};
            uint8_t *raw = bl <= sizeof stack ? stack : dp_xmalloc(bl);
            size_t k;
            for (k = 0; k < bl; k++) {
                int hi = hexv(s[2 + 2 * k]), lo = hexv(s[3 + 2 * k]);
                if (hi < 0 || lo < 0) break;
                raw[k] = (uint8_t)(hi << 4 | lo);
            }
            if (k == bl) dp_json_put_base64(b, raw, bl);
            if (raw != stack) free(raw);
            if (k == bl) return;
        }
        break;
    }
    case DBZ_CONV_DATE: {
        int64_t us;
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            dp_buf_printf(b, "%lld", (long long)(us / 86400000000LL));
            return;
        }
        break;
    }
    case DBZ_CONV_TIME_MS: case DBZ_CONV_TIME_US: {
        size_t i = 0;
        int64_t us;
        if (parse_time(s, n, &i, &us) == 0 && i == n) {
            dp_buf_printf(b, "%lld", (long long)(c->conv == DBZ_CONV_TIME_MS ? us / 1000 : us));
            return;
        }
        break;
    }
    case DBZ_CONV_TS_MS: case DBZ_CONV_TS_US: {
        int64_t us;
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            int64_t t = c->conv == DBZ_CONV_TS_MS ? (us - ((us % 1000) + 1000) % 1000) / 1000 : us;
            dp_buf_printf(b, "%lld", (long long)t);
            return;
        }
        break;
    }
    case DBZ_CONV_TSTZ: {
        int64_t us;
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            put_iso_utc(b, us);
            return;
        }
        break;
    }
    }
    dp_warn("event", "cannot convert value of column \"%s\" (type oid %u); sent as a string",
            c->name, c->type_oid);
    dp_json_put_str(b, s, n);
}

static void put_row(dp_buf_t *b, const dbz_table_t *t, const pgo_tuple_t *row, int keys_only) {
    dp_buf_putc(b, '{');
    int first = 1;
    for (uint16_t i = 0; i < t->ncols; i++) {
        if (keys_only && !t->cols[i].in_key) continue;
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        dp_json_put_str(b, t->cols[i].name, strlen(t->cols[i].name));
        dp_buf_putc(b, ':');
        static const pgo_value_t null_value = {PGO_VAL_NULL, NULL, 0};
        put_value(b, &t->cols[i], i < row->ncols ? &row->cols[i] : &null_value);
    }
    dp_buf_putc(b, '}');
}

dp_err_t dbz_encode_key(const dbz_table_t *t, const dbz_options_t *opt, const pgo_tuple_t *row,
                        dp_buf_t *out, int *has_key) {
    dp_buf_reset(out);
    *has_key = t->nkeys > 0;
    if (!*has_key) return DP_OK;
    if (opt->key_schemas_enable) {
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, t->key_schema.data, t->key_schema.len);
        dp_buf_puts(out, ",\"payload\":");
    }
    put_row(out, t, row, 1);
    if (opt->key_schemas_enable) dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}

dp_err_t dbz_encode_value(const dbz_table_t *t, const dbz_options_t *opt, char op,
                          const pgo_tuple_t *before, const pgo_tuple_t *after,
                          const dbz_source_t *src, int64_t now_us, dp_buf_t *out) {
    dp_buf_reset(out);
    if (opt->schemas_enable) {
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, t->value_schema.data, t->value_schema.len);
        dp_buf_puts(out, ",\"payload\":");
    }
    dp_buf_puts(out, "{\"before\":");
    if (before) put_row(out, t, before, 0); else dp_buf_puts(out, "null");
    dp_buf_puts(out, ",\"after\":");
    if (after) put_row(out, t, after, 0); else dp_buf_puts(out, "null");
    dp_buf_puts(out, ",\"source\":{\"version\":\"" DBZ_COMPAT_VERSION "\",\"connector\":\"postgresql\",\"name\":");
    dp_json_put_str(out, opt->topic_prefix, strlen(opt->topic_prefix));
    int64_t cts = src->commit_ts_us;
    dp_buf_printf(out, ",\"ts_ms\":%lld,\"snapshot\":\"%s\",\"db\":", (long long)(cts / 1000),
                  src->snapshot ? src->snapshot : "false");
    dp_json_put_str(out, opt->dbname, strlen(opt->dbname));
    dp_buf_printf(out, ",\"sequence\":\"[\\\"%llu\\\",\\\"%llu\\\"]\",\"ts_us\":%lld,\"ts_ns\":%lld,\"schema\":",
                  (unsigned long long)src->last_commit_lsn, (unsigned long long)src->lsn,
                  (long long)cts, (long long)cts * 1000);
    dp_json_put_str(out, t->schema, strlen(t->schema));
    dp_buf_puts(out, ",\"table\":");
    dp_json_put_str(out, t->table, strlen(t->table));
    dp_buf_printf(out, ",\"txId\":%u,\"lsn\":%llu,\"xmin\":null},\"transaction\":null,\"op\":\"%c\","
                       "\"ts_ms\":%lld,\"ts_us\":%lld,\"ts_ns\":%lld}",
                  src->xid, (unsigned long long)src->lsn, op, (long long)(now_us / 1000),
                  (long long)now_us, (long long)now_us * 1000);
    if (opt->schemas_enable) dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}
