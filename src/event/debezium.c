/* debezium.c - Debezium envelope, schemas and PostgreSQL type mapping.
 *
 * The reference is real Debezium (DBZ_COMPAT_VERSION) with Kafka's
 * JsonConverter; tests/integration/test_0003_debezium_parity.py compares
 * the two field by field. Where the output looks odd, it is because
 * Debezium does it so (for example column defaults written in place of
 * nulls, which JsonConverter does with replace.null.with.default). */
#include "event/debezium.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"

enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_CHAR = 18,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIME = 1083,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
    OID_JSONB = 3802,
    OID_TIMETZ = 1266,
    OID_INTERVAL = 1186,
    OID_MONEY = 790,
    /* arrays */
    OID_BOOL_ARR = 1000,
    OID_INT2_ARR = 1005,
    OID_INT4_ARR = 1007,
    OID_INT8_ARR = 1016,
    OID_TEXT_ARR = 1009,
    OID_BPCHAR_ARR = 1014,
    OID_VARCHAR_ARR = 1015,
    OID_CHAR_ARR = 1002,
    OID_FLOAT4_ARR = 1021,
    OID_FLOAT8_ARR = 1022,
    OID_OID_ARR = 1028,
    OID_DATE_ARR = 1182,
    OID_UUID_ARR = 2951,
    OID_JSON_ARR = 199,
    OID_JSONB_ARR = 3807,
    OID_NUMERIC_ARR = 1231,
    OID_TIMESTAMP_ARR = 1115,
    OID_TIMESTAMPTZ_ARR = 1185,
    OID_TIME_ARR = 1183,
    OID_TIMETZ_ARR = 1270,
    OID_BYTEA_ARR = 1001,
    OID_INTERVAL_ARR = 1187,
    OID_MONEY_ARR = 791
};

#define UNAVAILABLE "__debezium_unavailable_value"

/* time precision of a time/timestamp typmod; -1 means the default, 6 */
static int time_precision(int32_t typmod) { return typmod < 0 ? 6 : typmod; }

/* array_elem: the element type of the array types Debezium maps to a
 * Connect array of a type we convert (0 for others: string fallback) */
static uint32_t array_elem(uint32_t oid) {
    switch (oid) {
    case OID_BOOL_ARR: return OID_BOOL;
    case OID_INT2_ARR: return OID_INT2;
    case OID_INT4_ARR: return OID_INT4;
    case OID_INT8_ARR: return OID_INT8;
    case OID_OID_ARR: return OID_OID;
    case OID_TEXT_ARR: return OID_TEXT;
    case OID_BPCHAR_ARR: return OID_BPCHAR;
    case OID_VARCHAR_ARR: return OID_VARCHAR;
    case OID_CHAR_ARR: return OID_CHAR;
    case OID_FLOAT4_ARR: return OID_FLOAT4;
    case OID_FLOAT8_ARR: return OID_FLOAT8;
    case OID_DATE_ARR: return OID_DATE;
    case OID_UUID_ARR: return OID_UUID;
    case OID_JSON_ARR: return OID_JSON;
    case OID_JSONB_ARR: return OID_JSONB;
    case OID_NUMERIC_ARR: return OID_NUMERIC;
    case OID_TIMESTAMP_ARR: return OID_TIMESTAMP;
    case OID_TIMESTAMPTZ_ARR: return OID_TIMESTAMPTZ;
    case OID_TIME_ARR: return OID_TIME;
    case OID_TIMETZ_ARR: return OID_TIMETZ;
    case OID_BYTEA_ARR: return OID_BYTEA;
    default: return 0;
    }
}

/* scalar_conv: the converter of a scalar type under the handling modes of
 * opt; -1 when unmapped */
static int scalar_conv(uint32_t oid, int32_t typmod, int *scale, const dbz_options_t *opt) {
    *scale = 0;
    switch (oid) {
    case OID_NUMERIC:
    case OID_MONEY:
        if (opt->decimal_mode == DBZ_DECIMAL_PRECISE) break;
        if (oid == OID_MONEY)
            *scale = 2;
        else if (typmod >= 4)
            *scale = (typmod - 4) & 0xffff;
        return opt->decimal_mode == DBZ_DECIMAL_STRING ? DBZ_CONV_DECIMAL_STRING
                                                       : DBZ_CONV_DECIMAL_DOUBLE;
    case OID_BYTEA:
        switch (opt->binary_mode) {
        case DBZ_BINARY_BYTES: break;
        case DBZ_BINARY_BASE64: return DBZ_CONV_BYTES_BASE64;
        case DBZ_BINARY_BASE64_URL_SAFE: return DBZ_CONV_BYTES_BASE64URL;
        case DBZ_BINARY_HEX: return DBZ_CONV_BYTES_HEX;
        }
        break;
    case OID_DATE:
        if (opt->time_mode == DBZ_TIME_CONNECT) return DBZ_CONV_DATE_CONNECT;
        break;
    case OID_TIME:
        if (opt->time_mode == DBZ_TIME_CONNECT) return DBZ_CONV_TIME_CONNECT;
        if (opt->time_mode == DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS) return DBZ_CONV_TIME_US;
        break;
    case OID_TIMESTAMP:
        if (opt->time_mode == DBZ_TIME_CONNECT) return DBZ_CONV_TS_CONNECT;
        break;
    default: break;
    }
    switch (oid) {
    case OID_BOOL: return DBZ_CONV_BOOL;
    case OID_INT2: return DBZ_CONV_INT16;
    case OID_INT4: return DBZ_CONV_INT32;
    case OID_INT8:
    case OID_OID: return DBZ_CONV_INT64;
    case OID_FLOAT4: return DBZ_CONV_FLOAT32;
    case OID_FLOAT8: return DBZ_CONV_FLOAT64;
    case OID_NUMERIC:
        if (typmod >= 4) {
            *scale = (typmod - 4) & 0xffff;
            return DBZ_CONV_DECIMAL;
        }
        return DBZ_CONV_VSDECIMAL;
    case OID_MONEY: *scale = 2; return DBZ_CONV_MONEY; /* money.fraction.digits */
    case OID_BYTEA: return DBZ_CONV_BYTES;
    case OID_DATE: return DBZ_CONV_DATE;
    case OID_TIME: return time_precision(typmod) <= 3 ? DBZ_CONV_TIME_MS : DBZ_CONV_TIME_US;
    case OID_TIMETZ: return DBZ_CONV_TIMETZ;
    case OID_TIMESTAMP: return time_precision(typmod) <= 3 ? DBZ_CONV_TS_MS : DBZ_CONV_TS_US;
    case OID_TIMESTAMPTZ: return DBZ_CONV_TSTZ;
    case OID_INTERVAL: return DBZ_CONV_INTERVAL;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_CHAR:
    case OID_NAME:
    case OID_UUID:
    case OID_JSON:
    case OID_JSONB: return DBZ_CONV_STRING;
    default: return -1;
    }
}

static void pick_conv(dbz_column_t *c, const dbz_options_t *opt) {
    c->scale = 0;
    if (c->enum_labels && c->elem_oid) { /* an array of an enum */
        c->conv = DBZ_CONV_ARRAY;
        c->elem_conv = DBZ_CONV_ENUM;
        return;
    }
    if (c->enum_labels) {
        c->conv = DBZ_CONV_ENUM;
        return;
    }
    int k = scalar_conv(c->type_oid, c->typmod, &c->scale, opt);
    if (k >= 0) {
        c->conv = (dbz_conv_t)k;
        return;
    }
    if (c->type_oid == OID_INTERVAL_ARR || c->type_oid == OID_MONEY_ARR) {
        c->omit = 1; /* Debezium has no schema for these: the column is left out */
        return;
    }
    uint32_t el = array_elem(c->type_oid);
    /* an array's typmod is its elements'; the scale is the elements' */
    if (el && (k = scalar_conv(el, c->typmod, &c->scale, opt)) >= 0) {
        c->conv = DBZ_CONV_ARRAY;
        c->elem_oid = el;
        /* time[] is always MicroTime; with time.precision.mode=connect its
         * elements convert to java.util.Date, which that schema refuses */
        c->elem_conv = el == OID_TIME ? DBZ_CONV_TIME_US : (dbz_conv_t)k;
        c->elem_unfit = el == OID_TIME && opt->time_mode == DBZ_TIME_CONNECT;
        return;
    }
    dp_warn("event",
            "column \"%s\" has type oid %u that datapipe does not map yet; "
            "its values are sent as strings",
            c->name, c->type_oid);
    c->conv = DBZ_CONV_STRING;
}

/* conv_type: the Connect type of a converter and its semantic name */
static const char *conv_type(dbz_conv_t conv, uint32_t oid, const char **name) {
    const char *type = "string";
    *name = NULL;
    switch (conv) {
    case DBZ_CONV_STRING:
        if (oid == OID_UUID) *name = "io.debezium.data.Uuid";
        if (oid == OID_JSON || oid == OID_JSONB) *name = "io.debezium.data.Json";
        break;
    case DBZ_CONV_ENUM: *name = "io.debezium.data.Enum"; break;
    case DBZ_CONV_BOOL: type = "boolean"; break;
    case DBZ_CONV_INT16: type = "int16"; break;
    case DBZ_CONV_INT32: type = "int32"; break;
    case DBZ_CONV_INT64: type = "int64"; break;
    case DBZ_CONV_FLOAT32: type = "float"; break;
    case DBZ_CONV_FLOAT64: type = "double"; break;
    case DBZ_CONV_DECIMAL:
    case DBZ_CONV_MONEY:
        type = "bytes";
        *name = "org.apache.kafka.connect.data.Decimal";
        break;
    case DBZ_CONV_VSDECIMAL:
        type = "struct";
        *name = "io.debezium.data.VariableScaleDecimal";
        break;
    case DBZ_CONV_BYTES: type = "bytes"; break;
    case DBZ_CONV_DATE:
        type = "int32";
        *name = "io.debezium.time.Date";
        break;
    case DBZ_CONV_TIME_MS:
        type = "int32";
        *name = "io.debezium.time.Time";
        break;
    case DBZ_CONV_TIME_US:
        type = "int64";
        *name = "io.debezium.time.MicroTime";
        break;
    case DBZ_CONV_TS_MS:
        type = "int64";
        *name = "io.debezium.time.Timestamp";
        break;
    case DBZ_CONV_TS_US:
        type = "int64";
        *name = "io.debezium.time.MicroTimestamp";
        break;
    case DBZ_CONV_TSTZ: *name = "io.debezium.time.ZonedTimestamp"; break;
    case DBZ_CONV_TIMETZ: *name = "io.debezium.time.ZonedTime"; break;
    case DBZ_CONV_INTERVAL:
        type = "int64";
        *name = "io.debezium.time.MicroDuration";
        break;
    case DBZ_CONV_ARRAY: type = "array"; break;
    case DBZ_CONV_DECIMAL_STRING:
    case DBZ_CONV_BYTES_BASE64:
    case DBZ_CONV_BYTES_BASE64URL:
    case DBZ_CONV_BYTES_HEX: break;
    case DBZ_CONV_DECIMAL_DOUBLE: type = "double"; break;
    case DBZ_CONV_DATE_CONNECT:
        type = "int32";
        *name = "org.apache.kafka.connect.data.Date";
        break;
    case DBZ_CONV_TIME_CONNECT:
        type = "int32";
        *name = "org.apache.kafka.connect.data.Time";
        break;
    case DBZ_CONV_TS_CONNECT:
        type = "int64";
        *name = "org.apache.kafka.connect.data.Timestamp";
        break;
    }
    return type;
}

/* put_type_schema: the JsonConverter schema of a value of conv, keys in
 * JsonConverter's order: type, fields/items, optional, name, version, doc,
 * parameters, default (the caller adds field). */
static void put_type_schema(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, uint32_t oid,
                            int optional, const char *default_json) {
    const char *name;
    const char *type = conv_type(conv, oid, &name);
    dp_buf_printf(b, "{\"type\":\"%s\",", type);
    if (conv == DBZ_CONV_VSDECIMAL)
        dp_buf_puts(b,
                    "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
                    "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],");
    if (conv == DBZ_CONV_ARRAY) {
        dp_buf_puts(b, "\"items\":");
        /* Debezium's enum array items are not optional */
        put_type_schema(b, c, c->elem_conv, c->elem_oid, c->elem_conv != DBZ_CONV_ENUM, NULL);
        dp_buf_puts(b, "},");
    }
    dp_buf_printf(b, "\"optional\":%s", optional ? "true" : "false");
    if (name) dp_buf_printf(b, ",\"name\":\"%s\",\"version\":1", name);
    if (conv == DBZ_CONV_VSDECIMAL) dp_buf_puts(b, ",\"doc\":\"Variable scaled decimal\"");
    if (conv == DBZ_CONV_DECIMAL)
        dp_buf_printf(b, ",\"parameters\":{\"scale\":\"%d\",\"connect.decimal.precision\":\"%d\"}",
                      c->scale, ((c->typmod - 4) >> 16) & 0xffff);
    if (conv == DBZ_CONV_MONEY) dp_buf_printf(b, ",\"parameters\":{\"scale\":\"%d\"}", c->scale);
    if (conv == DBZ_CONV_ENUM) {
        dp_buf_puts(b, ",\"parameters\":{\"allowed\":");
        dp_json_put_str(b, c->enum_labels, strlen(c->enum_labels));
        dp_buf_putc(b, '}');
    }
    if (default_json) dp_buf_printf(b, ",\"default\":%s", default_json);
}

/* put_field_schema: the schema of one column as a struct field */
static void put_field_schema(dp_buf_t *b, const dbz_column_t *c) {
    put_type_schema(b, c, c->conv, c->type_oid, c->optional, c->default_json);
    dp_buf_puts(b, ",\"field\":");
    dp_json_put_str(b, c->name, strlen(c->name));
    dp_buf_putc(b, '}');
}

/* put_struct_schema: a struct of the columns (all, or only key ones). */
static void put_struct_schema(dp_buf_t *b, const dbz_table_t *t, const dbz_options_t *opt,
                              int keys_only, int optional, const char *suffix, const char *field) {
    dp_buf_puts(b, "{\"type\":\"struct\",\"fields\":[");
    int first = 1;
    for (uint16_t i = 0; i < t->ncols; i++) {
        if ((keys_only && !t->cols[i].in_key) || t->cols[i].omit) continue;
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
        if (i < n && s[i] == '.' && !seen_dot) {
            seen_dot = 1;
            continue;
        }
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
    while (bl - off > 1 &&
           ((be[off] == 0 && !(be[off + 1] & 0x80)) || (be[off] == 0xff && (be[off + 1] & 0x80))))
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
    if (num(s, n, i, 2, &hh) || *i >= n || s[(*i)++] != ':' || num(s, n, i, 2, &mi) || *i >= n ||
        s[(*i)++] != ':' || num(s, n, i, 2, &ss))
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
    if (n - i == 3 && memcmp(s + i, " BC", 3) == 0) {
        /* a date alone, before Christ: handled below */
    } else if (i < n && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (parse_time(s, n, &i, &tod)) return DP_ERR_INVALID;
    }
    int64_t off_s = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0, os = 0;
        if (num(s, n, &i, 2, &oh)) return DP_ERR_INVALID;
        if (i < n && s[i] == ':') {
            i++;
            if (num(s, n, &i, 2, &om)) return DP_ERR_INVALID;
        }
        if (i < n && s[i] == ':') {
            i++;
            if (num(s, n, &i, 2, &os)) return DP_ERR_INVALID;
        }
        off_s = sign * (oh * 3600 + om * 60 + os);
    }
    if (n - i == 3 && memcmp(s + i, " BC", 3) == 0) {
        neg_year = 1;
        i += 3;
    }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31) return DP_ERR_INVALID;
    int64_t yy = neg_year ? 1 - (int64_t)y : y;
    int64_t days = dbz_days_from_civil(yy, (unsigned)mo, (unsigned)d);
    /* µs since 1970 must fit in int64: PostgreSQL's last ~30 years do not */
    if (days > 106751990 || days < -106751990) return DP_ERR_INVALID;
    *us = days * 86400000000LL + tod - off_s * 1000000;
    return DP_OK;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* put_iso_utc: µs since epoch as ISO-8601 in UTC with a 'Z'. width > 0:
 * exactly that many fraction digits (Debezium's ZonedTimestamp formats a
 * column of precision p with p digits); width <= 0: java.time's
 * ISO_OFFSET_DATE_TIME, trailing zeros of the fraction dropped. */
static void put_iso_utc(dp_buf_t *b, int64_t us, int width) {
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
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
    /* java.time's years: at least 4 digits, '-' before, '+' past 9999 */
    dp_buf_printf(b, "\"%s%04lld-%02u-%02uT%02d:%02d:%02d",
                  y < 0          ? "-"
                      : y > 9999 ? "+"
                                 : "",
                  (long long)(y < 0 ? -y : y), m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
                  (int)(secs % 60));
    char f[16];
    snprintf(f, sizeof f, "%06lld000", (long long)frac);
    if (width > 0) {
        if (width > 9) width = 9;
        f[width] = 0;
        dp_buf_printf(b, ".%s", f);
    } else if (frac) {
        int l = 6;
        while (l > 0 && f[l - 1] == '0') l--;
        f[l] = 0;
        dp_buf_printf(b, ".%s", f);
    }
    dp_buf_puts(b, "Z\"");
}

/* put_timetz: PostgreSQL's "HH:MM:SS[.f]+HH[:MM[:SS]]" as Debezium's
 * ZonedTime: the same instant in UTC, java.time's ISO_OFFSET_TIME. */
static int put_timetz(dp_buf_t *b, const char *s, size_t n) {
    size_t i = 0;
    int64_t tod;
    if (parse_time(s, n, &i, &tod) || i >= n || (s[i] != '+' && s[i] != '-')) return -1;
    int sign = s[i++] == '-' ? -1 : 1, oh, om = 0, os = 0;
    if (num(s, n, &i, 2, &oh)) return -1;
    if (i < n && s[i] == ':') {
        i++;
        if (num(s, n, &i, 2, &om)) return -1;
    }
    if (i < n && s[i] == ':') {
        i++;
        if (num(s, n, &i, 2, &os)) return -1;
    }
    if (i != n) return -1;
    const int64_t day = 86400000000LL;
    int64_t utc = (tod - (int64_t)sign * (oh * 3600 + om * 60 + os) * 1000000) % day;
    if (utc < 0) utc += day;
    int64_t secs = utc / 1000000, frac = utc % 1000000;
    dp_buf_printf(b, "\"%02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60),
                  (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06lld", (long long)frac);
        int l = 6;
        while (l > 0 && f[l - 1] == '0') l--;
        f[l] = 0;
        dp_buf_printf(b, ".%s", f);
    }
    dp_buf_puts(b, "Z\"");
    return 0;
}

/* parse_int: a whole token [-]digits as an int (Java's Integer.parseInt) */
static int parse_int(const char *s, size_t n, int *out) {
    size_t i = 0;
    int neg = 0;
    long long v = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 2147483648LL) return -1;
    }
    if (neg) v = -v;
    if (v > 2147483647LL) return -1;
    *out = (int)v;
    return 0;
}

/* floor_half: Java's Math.round, floor(x + 0.5), without libm */
static long long floor_half(double x) {
    double y = x + 0.5;
    long long f = (long long)y;
    if ((double)f > y) f--;
    return f;
}

/* parse_seconds: "SS[.ffffff]" with optional sign -> whole and µs parts */
static int parse_seconds(const char *s, size_t n, double *out) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (*end || !(v > -2147483648.0 && v < 2147483647.0)) return -1;
    /* pgjdbc's PGInterval keeps whole seconds and rounded microseconds */
    int whole = (int)v;
    int micros = (int)floor_half((v - whole) * 1000000.0);
    *out = whole + (double)micros / 1000000.0;
    return 0;
}

dp_err_t dbz_interval_micros(const char *s, size_t n, int64_t *us) {
    int years = 0, months = 0, days = 0, hours = 0, minutes = 0;
    double seconds = 0;
    const char *val = NULL;
    size_t vlen = 0;
    size_t i = 0;
    for (int tok = 1;; tok++) {
        while (i < n && (s[i] == ' ' || s[i] == '+' || s[i] == '@')) i++;
        if (i >= n) break;
        size_t st = i;
        while (i < n && s[i] != ' ' && s[i] != '+' && s[i] != '@') i++;
        const char *t = s + st;
        size_t tl = i - st;
        if (tok & 1) {
            const char *colon = memchr(t, ':', tl);
            if (!colon) {
                val = t;
                vlen = tl;
                continue;
            }
            size_t off = t[0] == '-' ? 1 : 0, eh = (size_t)(colon - t);
            if (eh + 3 > tl || parse_int(t + off, eh - off, &hours) ||
                parse_int(t + eh + 1, 2, &minutes))
                return DP_ERR_INVALID;
            const char *c2 = memchr(t + eh + 1, ':', tl - eh - 1);
            if (c2 && parse_seconds(c2 + 1, tl - (size_t)(c2 + 1 - t), &seconds))
                return DP_ERR_INVALID;
            if (off) {
                hours = -hours;
                minutes = -minutes;
                seconds = -seconds;
            }
            val = NULL;
        } else {
            if (!val) return DP_ERR_INVALID;
            int v = 0;
            if (tl >= 3 && memcmp(t, "sec", 3) == 0) {
                if (parse_seconds(val, vlen, &seconds)) return DP_ERR_INVALID;
                continue;
            }
            if (parse_int(val, vlen, &v)) return DP_ERR_INVALID;
            if (tl >= 4 && memcmp(t, "year", 4) == 0)
                years = v;
            else if (tl >= 3 && memcmp(t, "mon", 3) == 0)
                months = v;
            else if (tl >= 3 && memcmp(t, "day", 3) == 0)
                days = v;
            else if (tl >= 4 && memcmp(t, "hour", 4) == 0)
                hours = v;
            else if (tl >= 3 && memcmp(t, "min", 3) == 0)
                minutes = v;
            else
                return DP_ERR_INVALID;
        }
    }
    /* io.debezium.time.MicroDuration.durationMicros, in the same doubles */
    const double days_per_month = 365.25 / 12.0;
    /* Java's int arithmetic wraps */
    int32_t total_months = (int32_t)(uint32_t)((uint32_t)years * 12u + (uint32_t)months);
    double ndays = (double)total_months * days_per_month + days;
    double nsecs = (((ndays * 24 + hours) * 60) + minutes) * 60 + seconds;
    double r = nsecs * 1e6;
    /* Java's (long) saturates, NaN is 0 */
    if (r != r)
        *us = 0;
    else if (r >= 9223372036854775807.0)
        *us = INT64_MAX;
    else if (r <= -9223372036854775808.0)
        *us = INT64_MIN;
    else
        *us = (int64_t)r;
    return DP_OK;
}

/* money_unscaled: "$1,234.56" / "-$1.00" (lc_monetary's format) -> the
 * digits without symbol and separators, for the scale-2 Decimal */
static int money_digits(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0, i = 0;
    if (i < n && s[i] == '-') {
        out[o++] = '-';
        i++;
    }
    for (; i < n; i++) {
        if ((s[i] >= '0' && s[i] <= '9') || s[i] == '.') {
            if (o + 1 >= cap) return -1;
            out[o++] = s[i];
        } else if (s[i] == ',' || o == 0 || (o == 1 && out[0] == '-')) {
            continue; /* currency symbol before the digits, group separators */
        } else {
            return -1;
        }
    }
    out[o] = 0;
    return o ? 0 : -1;
}

/* put_java_float: PostgreSQL's text of a float4/float8 (shortest digits,
 * "1e+10", "1.5", "-0") in the layout of Java's Double.toString /
 * Float.toString that JsonConverter writes: plain with at least one
 * fraction digit for 1e-3 <= |x| < 1e7, else "d.dddE[-]n". -1 when the
 * text is not a finite number. */
static int put_java_float(dp_buf_t *b, const char *s, size_t n) {
    char dg[64];
    int nd = 0, neg = 0, seen_dot = 0, point = 0, any = 0;
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); i++) {
        if (s[i] == '.') {
            if (seen_dot) return -1;
            seen_dot = 1;
            continue;
        }
        any = 1;
        if (nd == 0 && s[i] == '0') { /* leading zero */
            if (seen_dot) point--;
            continue;
        }
        if (nd >= (int)sizeof dg - 1) return -1;
        dg[nd++] = s[i];
        if (!seen_dot) point++;
    }
    if (!any) return -1;
    long exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        if (i == n) return -1;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || exp10 > 100000) return -1;
            exp10 = exp10 * 10 + (s[i] - '0');
        }
        if (eneg) exp10 = -exp10;
    }
    if (i != n) return -1;
    while (nd > 1 && dg[nd - 1] == '0') nd--;
    if (nd == 0) { /* zero */
        dp_buf_puts(b, neg ? "-0.0" : "0.0");
        return 0;
    }
    dg[nd] = 0;
    long x = point + exp10 - 1; /* value = d1.d2... x 10^x */
    if (neg) dp_buf_putc(b, '-');
    if (x >= -3 && x < 7) {
        if (x >= 0) {
            for (long k = 0; k <= x; k++) dp_buf_putc(b, k < nd ? dg[k] : '0');
            dp_buf_putc(b, '.');
            if (x + 1 < nd)
                dp_buf_append(b, dg + x + 1, (size_t)(nd - x - 1));
            else
                dp_buf_putc(b, '0');
        } else {
            dp_buf_puts(b, "0.");
            for (long k = 0; k < -x - 1; k++) dp_buf_putc(b, '0');
            dp_buf_append(b, dg, (size_t)nd);
        }
    } else {
        dp_buf_putc(b, dg[0]);
        dp_buf_putc(b, '.');
        if (nd > 1)
            dp_buf_append(b, dg + 1, (size_t)(nd - 1));
        else
            dp_buf_putc(b, '0');
        dp_buf_printf(b, "E%ld", x);
    }
    return 0;
}

/* put_binary: raw bytes as binary.handling.mode writes them: base64 (the
 * bytes mode's JSON form too), base64 with the URL alphabet (padded, as
 * java.util.Base64.getUrlEncoder), or lowercase hex */
static void put_binary(dp_buf_t *b, dbz_conv_t conv, const uint8_t *p, size_t n) {
    if (conv == DBZ_CONV_BYTES_HEX) {
        static const char hex[] = "0123456789abcdef";
        dp_buf_putc(b, '"');
        for (size_t i = 0; i < n; i++) {
            dp_buf_putc(b, hex[p[i] >> 4]);
            dp_buf_putc(b, hex[p[i] & 15]);
        }
        dp_buf_putc(b, '"');
        return;
    }
    size_t mark = b->len;
    dp_json_put_base64(b, p, n);
    if (conv != DBZ_CONV_BYTES_BASE64URL || b->overflow) return;
    for (size_t i = mark; i < b->len; i++) {
        if (b->data[i] == '+')
            b->data[i] = '-';
        else if (b->data[i] == '/')
            b->data[i] = '_';
    }
}

/* plain_decimal: the decimal text s[0..n) ("-12.50", no exponent) as
 * java.math.BigDecimal's toPlainString writes it, its fraction widened to
 * scale digits (BigDecimal.setScale); written to out (cap bytes, with the
 * NUL). -1 for text that is not such a number, or that has more fraction
 * digits than scale when narrow is set (setScale would have to round). */
static int plain_decimal(const char *s, size_t n, int scale, int narrow, char *out, size_t cap) {
    size_t i = 0, o = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    size_t ib = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    size_t ie = i, fb = i, fe = i;
    if (i < n && s[i] == '.') {
        fb = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        fe = i;
    }
    if (i != n || (ie == ib && fe == fb)) return -1;
    if (narrow && fe - fb > (size_t)scale) return -1;
    while (ib < ie && s[ib] == '0') ib++; /* leading zeros */
    int zero = ib == ie;
    for (size_t k = fb; k < fe; k++) zero &= s[k] == '0';
    size_t frac = fe - fb > (size_t)scale ? fe - fb : (size_t)scale;
    if (2 + (ie - ib) + 1 + frac + 1 > cap) return -1;
    if (neg && !zero) out[o++] = '-'; /* BigDecimal has no negative zero */
    if (ib == ie) out[o++] = '0';
    memcpy(out + o, s + ib, ie - ib);
    o += ie - ib;
    if (frac) {
        out[o++] = '.';
        memcpy(out + o, s + fb, fe - fb);
        o += fe - fb;
        for (size_t k = fe - fb; k < frac; k++) out[o++] = '0';
    }
    out[o] = 0;
    return 0;
}

/* put_double: d as JsonConverter writes a float64: Java's
 * Double.toString (shortest digits that read back as d), NaN and the
 * infinities as Jackson's strings */
static void put_double(dp_buf_t *b, double d) {
    if (d != d) {
        dp_buf_puts(b, "\"NaN\"");
        return;
    }
    if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
        dp_buf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    put_java_float(b, tmp, strlen(tmp));
}

/* put_decimal_text: a numeric or money value under decimal.handling.mode
 * string (BigDecimal.toPlainString: a numeric(p,s) at scale s, money as
 * PostgreSQL's digits without symbol and separators) or double
 * (BigDecimal.doubleValue, correctly rounded like strtod) */
static int put_decimal_text(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s,
                            size_t n) {
    char money[128];
    int scale = c->scale, narrow = 0;
    if (c->type_oid == OID_MONEY) {
        if (money_digits(s, n, money, sizeof money)) return -1;
        s = money;
        n = strlen(money);
        scale = 0; /* BigDecimal of the digits as they are */
    } else if (c->typmod >= 4) {
        narrow = 1; /* numeric(p,s): setScale(s) without rounding */
    }
    char stack[256];
    size_t cap = n + (size_t)scale + 4;
    char *t = cap <= sizeof stack ? stack : dp_xmalloc(cap);
    int r = plain_decimal(s, n, scale, narrow, t, cap);
    if (r == 0) {
        if (conv == DBZ_CONV_DECIMAL_STRING)
            dp_json_put_str(b, t, strlen(t));
        else
            put_double(b, strtod(t, NULL));
    }
    if (t != stack) free(t);
    return r;
}

/* put_conv: text s[0..n) of a column converted by conv as Connect JSON;
 * -1 (and nothing written) when the text does not convert. */
static int put_conv(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s, size_t n);

/* infinity: 1 for "infinity", -1 for "-infinity", else 0 */
static int infinity(const char *s, size_t n) {
    if (n == 8 && memcmp(s, "infinity", 8) == 0) return 1;
    if (n == 9 && memcmp(s, "-infinity", 9) == 0) return -1;
    return 0;
}

/* special_numeric: NaN or an infinity in a numeric column */
static int special_numeric(const dbz_column_t *c, const char *s, size_t n) {
    return (c->conv == DBZ_CONV_DECIMAL || c->conv == DBZ_CONV_VSDECIMAL ||
            ((c->conv == DBZ_CONV_DECIMAL_STRING || c->conv == DBZ_CONV_DECIMAL_DOUBLE) &&
             c->type_oid != OID_MONEY)) &&
        ((n == 3 && memcmp(s, "NaN", 3) == 0) || (n == 8 && memcmp(s, "Infinity", 8) == 0) ||
         (n == 9 && memcmp(s, "-Infinity", 9) == 0));
}

/* only_nulls: whether the JSON array of numbers or nulls written at
 * b->data[from..len) has no element but null */
static int only_nulls(const dp_buf_t *b, size_t from) {
    for (size_t k = from + 1; k + 1 < b->len; k++) {
        if (b->data[k] == ',') continue;
        if (b->len - k < 4 || memcmp(b->data + k, "null", 4) != 0) return 0;
        k += 3;
    }
    return 1;
}

/* put_array: PostgreSQL's one-dimensional array text "{a,"b c",NULL}" as
 * a JSON array of the element converter's values */
static int put_array(dp_buf_t *b, const dbz_column_t *c, const char *s, size_t n) {
    if (n < 2 || s[0] != '{' || s[n - 1] != '}') return -1;
    dbz_column_t el = *c; /* scale and typmod are the elements' */
    el.conv = c->elem_conv;
    el.type_oid = c->elem_oid;
    el.elem_conv = DBZ_CONV_ARRAY; /* marks an element, for put_conv */
    el.default_json = NULL;
    dp_buf_putc(b, '[');
    size_t i = 1, end = n - 1;
    int first = 1;
    char stack[256];
    while (i < end) {
        if (!first) {
            if (s[i] != ',') return -1;
            i++;
        }
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        while (i < end && s[i] == ' ') i++;
        if (i < end && s[i] == '{') return -1; /* multi-dimensional */
        if (i < end && s[i] == '"') {
            /* quoted: backslash escapes */
            size_t cap = 0, len = 0;
            for (size_t k = i + 1; k < end && s[k] != '"'; k++, cap++)
                if (s[k] == '\\') k++;
            char *v = cap < sizeof stack ? stack : dp_xmalloc(cap + 1);
            i++;
            while (i < end && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < end) i++;
                v[len++] = s[i++];
            }
            if (i >= end) {
                if (v != stack) free(v);
                return -1;
            }
            i++; /* closing quote */
            int r = special_numeric(&el, v, len) ? 1 : put_conv(b, &el, el.conv, v, len);
            if (v != stack) free(v);
            if (r) return r;
        } else {
            size_t st = i;
            while (i < end && s[i] != ',') i++;
            size_t l = i - st;
            while (l && s[st + l - 1] == ' ') l--;
            if (l == 4 && strncasecmp(s + st, "NULL", 4) == 0)
                dp_buf_puts(b, "null");
            else if (special_numeric(&el, s + st, l))
                return 1;
            else if (put_conv(b, &el, el.conv, s + st, l))
                return -1;
        }
    }
    dp_buf_putc(b, ']');
    return 0;
}

/* put_special: NaN or an infinity (s) of a numeric column */
static void put_special(dp_buf_t *b, dbz_conv_t conv, const char *s) {
    int which = s[0] == 'N' ? 0 : s[0] == 'I' ? 1 : 2;
    if (conv == DBZ_CONV_DECIMAL_STRING) { /* SpecialValueDecimal's enum names */
        static const char *const names[] = {"\"NAN\"", "\"POSITIVE_INFINITY\"",
                                            "\"NEGATIVE_INFINITY\""};
        dp_buf_puts(b, names[which]);
    } else if (conv == DBZ_CONV_DECIMAL_DOUBLE) { /* Jackson's strings for these doubles */
        static const char *const names[] = {"\"NaN\"", "\"Infinity\"", "\"-Infinity\""};
        dp_buf_puts(b, names[which]);
    } else {
        dp_buf_puts(b, "null"); /* no Decimal for these: Debezium writes null */
    }
}

/* put_number: integers and floating point numbers; 0, or -1 when s is not such a value */
static int put_number(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s,
                      size_t n) {
    (void)c;
    switch (conv) {
    case DBZ_CONV_INT16:
    case DBZ_CONV_INT32:
    case DBZ_CONV_INT64:
    case DBZ_CONV_FLOAT32:
    case DBZ_CONV_FLOAT64: {
        /* PostgreSQL's text of a number is valid JSON except NaN/Infinity,
         * which JsonConverter writes as strings */
        if (n && (s[0] == 'N' || s[0] == 'I' || (s[0] == '-' && n > 1 && s[1] == 'I'))) {
            dp_json_put_str(b, s, n);
            return 0;
        }
        if (!n) return -1;
        /* Java 17's FloatingDecimal is not always shortest (JDK-4511638); its
         * best-known cases are the smallest subnormals */
        if (conv == DBZ_CONV_FLOAT32 && n == 5 && memcmp(s, "1e-45", 5) == 0) s = "1.4e-45", n = 7;
        if (conv == DBZ_CONV_FLOAT64 && n == 6 && memcmp(s, "5e-324", 6) == 0)
            s = "4.9e-324", n = 8;
        if (conv == DBZ_CONV_FLOAT32 || conv == DBZ_CONV_FLOAT64) return put_java_float(b, s, n);
        dp_buf_append(b, s, n);
        return 0;
    }
    default: break;
    }
    return -1;
}

/* put_decimal: numeric and money in each decimal.handling.mode; 0, or -1 when s is not such a value */
static int put_decimal(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s,
                       size_t n) {
    (void)c;
    switch (conv) {
    case DBZ_CONV_DECIMAL: {
        uint8_t out[520];
        size_t ol;
        if (dbz_decimal_unscaled(s, n, c->scale, out, sizeof out, &ol) == DP_OK) {
            dp_json_put_base64(b, out, ol);
            return 0;
        }
        break;
    }
    case DBZ_CONV_MONEY: {
        char digits[128];
        uint8_t out[520];
        size_t ol;
        if (money_digits(s, n, digits, sizeof digits) == 0 &&
            dbz_decimal_unscaled(digits, strlen(digits), c->scale, out, sizeof out, &ol) == DP_OK) {
            dp_json_put_base64(b, out, ol);
            return 0;
        }
        break;
    }
    case DBZ_CONV_DECIMAL_STRING:
    case DBZ_CONV_DECIMAL_DOUBLE:
        if (put_decimal_text(b, c, conv, s, n) == 0) return 0;
        break;
    case DBZ_CONV_VSDECIMAL: {
        /* the scale without the fraction's trailing zeros, as Debezium's */
        const char *dot = memchr(s, '.', n);
        int scale = dot ? (int)(n - (size_t)(dot - s) - 1) : 0;
        while (scale > 0 && dot[scale] == '0') scale--;
        uint8_t out[520];
        size_t ol;
        if (dbz_decimal_unscaled(s, n, scale, out, sizeof out, &ol) == DP_OK) {
            dp_buf_printf(b, "{\"scale\":%d,\"value\":", scale);
            dp_json_put_base64(b, out, ol);
            dp_buf_putc(b, '}');
            return 0;
        }
        break;
    }
    default: break;
    }
    return -1;
}

/* put_bytes: bytea in each binary.handling.mode; 0, or -1 when s is not such a value */
static int put_bytes(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s, size_t n) {
    (void)c;
    switch (conv) {
    case DBZ_CONV_BYTES:
    case DBZ_CONV_BYTES_BASE64:
    case DBZ_CONV_BYTES_BASE64URL:
    case DBZ_CONV_BYTES_HEX: {
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
            if (k == bl) put_binary(b, conv, raw, bl);
            if (raw != stack) free(raw);
            if (k == bl) return 0;
        }
        break;
    }
    default: break;
    }
    return -1;
}

/* put_temporal: dates, times, timestamps and intervals; 0, or -1 when s is not such a value */
static int put_temporal(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s,
                        size_t n) {
    (void)c;
    switch (conv) {
    case DBZ_CONV_DATE:
    case DBZ_CONV_DATE_CONNECT: {
        int64_t us;
        int inf = infinity(s, n);
        if (inf) { /* Debezium's POSITIVE/NEGATIVE_INFINITY_LOCAL_DATE */
            dp_buf_puts(b, inf > 0 ? "-2147472692" : "-2147472691");
            return 0;
        }
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            dp_buf_put_i64(b, us / 86400000000LL);
            return 0;
        }
        break;
    }
    case DBZ_CONV_TIME_MS:
    case DBZ_CONV_TIME_US:
    case DBZ_CONV_TIME_CONNECT: {
        size_t i = 0;
        int64_t us;
        if (parse_time(s, n, &i, &us) == 0 && i == n) {
            /* time[] elements go through java.sql.Time: milliseconds */
            if (c->elem_conv == DBZ_CONV_ARRAY && c->conv != DBZ_CONV_ARRAY) us = us / 1000 * 1000;
            dp_buf_put_i64(b, conv == DBZ_CONV_TIME_US ? us : us / 1000);
            return 0;
        }
        break;
    }
    case DBZ_CONV_TS_MS:
    case DBZ_CONV_TS_US:
    case DBZ_CONV_TS_CONNECT: {
        int64_t us;
        int inf = infinity(s, n);
        if (inf) { /* pgjdbc's DATE_POSITIVE/NEGATIVE_INFINITY taken as µs */
            int64_t v = inf > 0 ? 9223372036825200000LL : -9223372036832400000LL;
            dp_buf_put_i64(b, conv == DBZ_CONV_TS_US ? v : v / 1000);
            return 0;
        }
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            int64_t t = conv != DBZ_CONV_TS_US ? (us - ((us % 1000) + 1000) % 1000) / 1000 : us;
            dp_buf_put_i64(b, t);
            return 0;
        }
        break;
    }
    case DBZ_CONV_TSTZ: {
        int64_t us;
        if (infinity(s, n)) { /* as the text, as Debezium */
            dp_json_put_str(b, s, n);
            return 0;
        }
        if (dbz_parse_timestamp(s, n, &us) == DP_OK) {
            put_iso_utc(b, us, time_precision(c->typmod));
            return 0;
        }
        break;
    }
    case DBZ_CONV_TIMETZ:
        if (put_timetz(b, s, n) == 0) return 0;
        break;
    case DBZ_CONV_INTERVAL: {
        int64_t us;
        if (dbz_interval_micros(s, n, &us) == DP_OK) {
            dp_buf_put_i64(b, us);
            return 0;
        }
        break;
    }
    default: break;
    }
    return -1;
}

static int put_conv(dp_buf_t *b, const dbz_column_t *c, dbz_conv_t conv, const char *s, size_t n) {
    size_t mark = b->len;
    if (conv == c->conv && special_numeric(c, s, n)) {
        put_special(b, conv, s);
        return 0;
    }
    int r = -1;
    switch (conv) {
    case DBZ_CONV_STRING:
    case DBZ_CONV_ENUM: dp_json_put_str(b, s, n); return 0;
    case DBZ_CONV_BOOL: dp_buf_puts(b, n && s[0] == 't' ? "true" : "false"); return 0;
    case DBZ_CONV_INT16:
    case DBZ_CONV_INT32:
    case DBZ_CONV_INT64:
    case DBZ_CONV_FLOAT32:
    case DBZ_CONV_FLOAT64: r = put_number(b, c, conv, s, n); break;
    case DBZ_CONV_DECIMAL:
    case DBZ_CONV_MONEY:
    case DBZ_CONV_DECIMAL_STRING:
    case DBZ_CONV_DECIMAL_DOUBLE:
    case DBZ_CONV_VSDECIMAL: r = put_decimal(b, c, conv, s, n); break;
    case DBZ_CONV_BYTES:
    case DBZ_CONV_BYTES_BASE64:
    case DBZ_CONV_BYTES_BASE64URL:
    case DBZ_CONV_BYTES_HEX: r = put_bytes(b, c, conv, s, n); break;
    case DBZ_CONV_DATE:
    case DBZ_CONV_DATE_CONNECT:
    case DBZ_CONV_TIME_MS:
    case DBZ_CONV_TIME_US:
    case DBZ_CONV_TIME_CONNECT:
    case DBZ_CONV_TS_MS:
    case DBZ_CONV_TS_US:
    case DBZ_CONV_TS_CONNECT:
    case DBZ_CONV_TSTZ:
    case DBZ_CONV_TIMETZ:
    case DBZ_CONV_INTERVAL: r = put_temporal(b, c, conv, s, n); break;
    case DBZ_CONV_ARRAY: {
        r = put_array(b, c, s, n);
        /* a non-null element does not fit the item schema: Debezium's
         * Struct rejects the value and leaves the field null */
        if (r == 0 && c->elem_unfit && !only_nulls(b, mark)) r = 1;
        if (r == 0) return 0;
        if (r > 0) { /* a NaN element: Debezium's array converter gives up, null */
            b->len = mark;
            dp_buf_puts(b, "null");
            return 0;
        }
        break;
    }
    }
    if (r == 0) return 0;
    b->len = mark;
    return -1;
}

/* not_null_fallback: what Debezium's converters deliver for a null in a
 * column that is not optional (JdbcValueConverters' fallbacks) */
static const char *not_null_fallback(dbz_conv_t conv) {
    switch (conv) {
    case DBZ_CONV_BOOL: return "false";
    case DBZ_CONV_INT16:
    case DBZ_CONV_INT32:
    case DBZ_CONV_INT64:
    case DBZ_CONV_DATE:
    case DBZ_CONV_TIME_MS:
    case DBZ_CONV_TIME_US:
    case DBZ_CONV_TS_MS:
    case DBZ_CONV_TS_US:
    case DBZ_CONV_INTERVAL: return "0";
    case DBZ_CONV_FLOAT32:
    case DBZ_CONV_FLOAT64: return "0.0";
    case DBZ_CONV_DECIMAL:
    case DBZ_CONV_MONEY: return "\"AA==\"";
    case DBZ_CONV_VSDECIMAL: return "{\"scale\":0,\"value\":\"AA==\"}";
    case DBZ_CONV_BYTES: return "\"\"";
    case DBZ_CONV_TSTZ: return "\"1970-01-01T00:00:00Z\"";
    case DBZ_CONV_TIMETZ: return "\"00:00:00Z\"";
    case DBZ_CONV_ARRAY: return "[]";
    case DBZ_CONV_STRING:
    case DBZ_CONV_ENUM: return "\"\"";
    case DBZ_CONV_DECIMAL_DOUBLE: return "0.0";
    case DBZ_CONV_DECIMAL_STRING: return "\"0\""; /* widened to the scale by the caller */
    case DBZ_CONV_BYTES_BASE64:
    case DBZ_CONV_BYTES_BASE64URL:
    case DBZ_CONV_BYTES_HEX: return "\"\"";
    case DBZ_CONV_DATE_CONNECT:
    case DBZ_CONV_TIME_CONNECT:
    case DBZ_CONV_TS_CONNECT: return "0";
    }
    return "null";
}

/* put_value: one column value as Connect JSON. A null is written as the
 * column's default when it has one (JsonConverter's
 * replace.null.with.default). Falls back to the text as a JSON string
 * (with a warning) when the text cannot be converted. */
void dbz_put_value(dp_buf_t *b, const dbz_column_t *c, const pgo_value_t *v) {
    if (v->kind == PGO_VAL_NULL) {
        /* a null in a NOT NULL column (the non-key columns of a key-only
         * before image): Debezium's converters give their fallback value */
        if (!c->default_json && !c->optional && c->conv == DBZ_CONV_DECIMAL_STRING) {
            /* BigDecimal.ZERO at the column's scale (money: its 2 digits) */
            dp_buf_puts(b, c->scale ? "\"0." : "\"0");
            for (int k = 0; k < c->scale; k++) dp_buf_putc(b, '0');
            dp_buf_putc(b, '"');
            return;
        }
        dp_buf_puts(b,
                    c->default_json   ? c->default_json
                        : c->optional ? "null"
                                      : not_null_fallback(c->conv));
        return;
    }
    if (v->kind == PGO_VAL_UNCHANGED) {
        /* base64 modes: Debezium's converter takes the placeholder object
         * for an unexpected value, null; hex gives the placeholder text */
        if (c->conv == DBZ_CONV_BYTES_BASE64 || c->conv == DBZ_CONV_BYTES_BASE64URL)
            dp_buf_puts(b, "null");
        else if (c->conv == DBZ_CONV_BYTES)
            dp_json_put_base64(b, (const uint8_t *)UNAVAILABLE, sizeof UNAVAILABLE - 1);
        else
            dp_json_put_str(b, UNAVAILABLE, sizeof UNAVAILABLE - 1);
        return;
    }
    if (put_conv(b, c, c->conv, v->data, v->len) == 0) return;
    dp_warn("event", "cannot convert value of column \"%s\" (type oid %u); sent as a string",
            c->name, c->type_oid);
    dp_json_put_str(b, v->data, v->len);
}

/* ---- column defaults, as Debezium's PostgresDefaultValueConverter ---- */

static int is_ident(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '_' || ch == '.';
}

/* generated: a function call or CURRENT_* (Debezium then uses a
 * placeholder of the type, not the expression) */
static int generated(const char *e) {
    static const char *const now[] = {"current_timestamp", "current_time", "current_date",
                                      "localtime", "localtimestamp"};
    for (size_t i = 0; i < sizeof now / sizeof *now; i++)
        if (strcasecmp(e, now[i]) == 0) return 1;
    const char *p = e;
    if (*p == '(') p++;
    const char *id = p;
    while (is_ident(*p)) p++;
    return p > id && *p == '(' && strchr(p + 1, ')') != NULL;
}

/* default_json: the column default as Debezium's schema carries it, or
 * NULL when Debezium has none (no default, an expression it does not
 * evaluate, a type without a default mapper). */
static char *default_json(const dbz_column_t *c, const char *type_name, const char *expr) {
    if (!expr || !type_name) return NULL;
    static const char *const trimmed[] = {"bool",      "numeric",     "float4",  "float8", "int2",
                                          "int4",      "int8",        "uuid",    "date",   "time",
                                          "timestamp", "timestamptz", "interval"};
    static const struct {
        const char *type, *placeholder;
    } mappers[] = {{"bool", "false"},
                   {"bpchar", ""},
                   {"varchar", ""},
                   {"text", ""},
                   {"numeric", "0.0"},
                   {"float4", "0.0"},
                   {"float8", "0.0"},
                   {"int2", "0"},
                   {"int4", "0"},
                   {"int8", "0"},
                   {"json", "{}"},
                   {"jsonb", "{}"},
                   {"uuid", "00000000-0000-0000-0000-000000000000"},
                   {"date", "1970-01-01"},
                   {"time", "00:00:00"},
                   {"timestamp", "1970-01-01"},
                   {"timestamptz", "1970-01-01 00:00:00+00"},
                   {"interval", "00:00:00"}};
    char buf[1024];
    if (strlen(expr) >= sizeof buf) return NULL; /* not a literal Debezium parses */
    snprintf(buf, sizeof buf, "%s", expr);
    char *e = buf;
    if (c->conv == DBZ_CONV_ENUM) {
        /* '<label>'::<type> */
        size_t tl = strlen(type_name), el = strlen(e);
        if (el < tl + 4 || strcmp(e + el - tl, type_name) || memcmp(e + el - tl - 2, "::", 2) ||
            e[0] != '\'' || e[el - tl - 3] != '\'')
            return NULL;
        dp_buf_t b;
        dp_buf_init(&b, 4096);
        dp_json_put_str(&b, e + 1, el - tl - 4);
        char *r = dp_xstrdup(dp_buf_cstr(&b));
        dp_buf_fini(&b);
        return r;
    }
    const char *placeholder = NULL;
    for (size_t i = 0; i < sizeof mappers / sizeof *mappers; i++)
        if (strcmp(type_name, mappers[i].type) == 0) placeholder = mappers[i].placeholder;
    if (!placeholder) return NULL;
    for (size_t i = 0; i < sizeof trimmed / sizeof *trimmed; i++) {
        if (strcmp(type_name, trimmed[i]) != 0) continue;
        while (*e == ' ' || *e == '\t' || *e == '\n') e++;
        size_t l = strlen(e);
        while (l && (e[l - 1] == ' ' || e[l - 1] == '\t' || e[l - 1] == '\n')) e[--l] = 0;
    }
    const char *v;
    size_t vl;
    if (generated(e)) {
        v = placeholder;
        vl = strlen(v);
    } else if (!strchr(e, '\'')) {
        if (strncmp(e, "NULL::", 6) == 0) return NULL;
        v = e;
        vl = strlen(e);
    } else {
        /* the first '...' literal */
        char *q = strchr(e, '\''), *q2 = strchr(q + 1, '\'');
        if (!q2) return NULL;
        v = q + 1;
        vl = (size_t)(q2 - q - 1);
    }
    dp_buf_t b;
    dp_buf_init(&b, 1 << 16);
    int ok = 0;
    switch (c->conv) {
    case DBZ_CONV_BOOL:
        dp_buf_puts(&b, vl == 4 && strncasecmp(v, "true", 4) == 0 ? "true" : "false");
        ok = 1;
        break;
    case DBZ_CONV_INT16:
    case DBZ_CONV_INT32:
    case DBZ_CONV_INT64: {
        size_t i = v[0] == '-' ? 1 : 0;
        ok = vl > i && vl < 21;
        for (; ok && i < vl; i++) ok = v[i] >= '0' && v[i] <= '9';
        if (ok) dp_buf_append(&b, v, vl);
        break;
    }
    case DBZ_CONV_FLOAT32:
    case DBZ_CONV_FLOAT64: {
        char *end;
        char tmp[64];
        if (vl == 0 || vl >= sizeof tmp) break;
        memcpy(tmp, v, vl);
        tmp[vl] = 0;
        double d = strtod(tmp, &end);
        (void)d;
        if (*end) break;
        ok = put_java_float(&b, v, vl) == 0;
        break;
    }
    case DBZ_CONV_VSDECIMAL: /* a Struct: Debezium drops it (KAFKA-12694) */ break;
    default:
        /* NaN and the infinities are no BigDecimal: Debezium has no default */
        if (!special_numeric(c, v, vl)) ok = put_conv(&b, c, c->conv, v, vl) == 0;
    }
    char *r = ok && !b.overflow ? dp_xstrdup(dp_buf_cstr(&b)) : NULL;
    dp_buf_fini(&b);
    return r;
}

dp_err_t dbz_table_init(dbz_table_t *t, const pgo_relation_t *rel, const dbz_catalog_col_t *cat,
                        size_t ncat, const dbz_options_t *opt, char *errstr, size_t errstr_size) {
    memset(t, 0, sizeof *t);
    t->relid = rel->relid;
    const pgo_str_t *ns = &rel->nspname, *rn = &rel->relname;
    t->schema = strndup(ns->len ? ns->p : "pg_catalog", ns->len ? ns->len : 10);
    t->table = strndup(rn->p, rn->len);
    if (!t->schema || !t->table) abort();
    t->replident = rel->replident;
    t->ncols = rel->ncols;
    t->cols = dp_xcalloc(t->ncols ? t->ncols : 1, sizeof *t->cols);
    int have_pk = 0;
    for (size_t k = 0; k < ncat; k++) have_pk |= cat[k].in_pk;
    for (uint16_t i = 0; i < t->ncols; i++) {
        const pgo_column_t *pc = &rel->cols[i];
        dbz_column_t *c = &t->cols[i];
        c->name = strndup(pc->name.p, pc->name.len);
        if (!c->name) abort();
        c->type_oid = pc->type_oid;
        c->typmod = pc->typmod;
        c->optional = 1;
        c->in_key = (pc->flags & 1) && t->replident != 'f';
        const dbz_catalog_col_t *cc = NULL;
        for (size_t k = 0; k < ncat; k++) {
            if (strcmp(cat[k].name, c->name) != 0) continue;
            cc = &cat[k];
            c->optional = !cat[k].not_null;
            if (have_pk) c->in_key = cat[k].in_pk;
        }
        if (!cat && t->replident == 'f') c->in_key = 0;
        if (cc && cc->base_oid) { /* a domain: Debezium maps its base type */
            c->type_oid = cc->base_oid;
            c->typmod = cc->base_typmod;
        }
        if (cc && cc->enum_labels) {
            c->enum_labels = dp_xstrdup(cc->enum_labels);
            c->elem_oid = cc->elem_oid; /* set for an array of the enum */
        }
        t->nkeys += c->in_key;
        pick_conv(c, opt);
        /* Debezium looks the default mapper up by the column's own type
         * name, which for a domain is the domain's: none */
        if (cc && cc->default_expr && !cc->base_oid)
            c->default_json = default_json(c, cc->type_name, cc->default_expr);
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
    for (uint16_t i = 0; t->cols && i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].enum_labels);
        free(t->cols[i].default_json);
    }
    free(t->cols);
    free(t->schema);
    free(t->table);
    dp_buf_fini(&t->key_schema);
    dp_buf_fini(&t->value_schema);
    memset(t, 0, sizeof *t);
}

void dbz_put_row(dp_buf_t *b, const dbz_table_t *t, const pgo_tuple_t *row, int keys_only) {
    dp_buf_putc(b, '{');
    int first = 1;
    for (uint16_t i = 0; i < t->ncols; i++) {
        if ((keys_only && !t->cols[i].in_key) || t->cols[i].omit) continue;
        if (!first) dp_buf_putc(b, ',');
        first = 0;
        dp_json_put_str(b, t->cols[i].name, strlen(t->cols[i].name));
        dp_buf_putc(b, ':');
        static const pgo_value_t null_value = {PGO_VAL_NULL, NULL, 0};
        dbz_put_value(b, &t->cols[i], i < row->ncols ? &row->cols[i] : &null_value);
    }
    dp_buf_putc(b, '}');
}

int dbz_key_changed(const dbz_table_t *t, const pgo_tuple_t *old, const pgo_tuple_t *neu) {
    for (uint16_t i = 0; i < t->ncols && i < old->ncols && i < neu->ncols; i++) {
        if (!t->cols[i].in_key) continue;
        const pgo_value_t *x = &old->cols[i], *y = &neu->cols[i];
        if (x->kind != y->kind || x->len != y->len || (x->len && memcmp(x->data, y->data, x->len)))
            return 1;
    }
    return 0;
}

const pgo_tuple_t *dbz_event_key_row(const dbz_event_t *ev) {
    return ev->after ? ev->after : ev->before;
}

dp_err_t dbz_encode_key(const dbz_event_t *ev, const dbz_options_t *opt, dp_buf_t *out,
                        int *has_key) {
    const dbz_table_t *t = ev->table;
    const pgo_tuple_t *row = dbz_event_key_row(ev);
    dp_buf_reset(out);
    *has_key = t->nkeys > 0 && row;
    if (!*has_key) return DP_OK;
    if (opt->key_schemas_enable) {
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, t->key_schema.data, t->key_schema.len);
        dp_buf_puts(out, ",\"payload\":");
    }
    dbz_put_row(out, t, row, 1);
    if (opt->key_schemas_enable) dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}

dp_err_t dbz_encode_value(const dbz_event_t *ev, const dbz_options_t *opt, dp_buf_t *out) {
    const dbz_table_t *t = ev->table;
    const pgo_tuple_t *before = ev->before, *after = ev->after;
    const dbz_source_t *src = &ev->source;
    char op = ev->op;
    int64_t now_us = ev->now_us;
    dp_buf_reset(out);
    if (opt->schemas_enable) {
        dp_buf_puts(out, "{\"schema\":");
        dp_buf_append(out, t->value_schema.data, t->value_schema.len);
        dp_buf_puts(out, ",\"payload\":");
    }
    dp_buf_puts(out, "{\"before\":");
    if (before)
        dbz_put_row(out, t, before, 0);
    else
        dp_buf_puts(out, "null");
    dp_buf_puts(out, ",\"after\":");
    if (after)
        dbz_put_row(out, t, after, 0);
    else
        dp_buf_puts(out, "null");
    dp_buf_puts(out,
                ",\"source\":{\"version\":\"" DBZ_COMPAT_VERSION
                "\",\"connector\":\"postgresql\",\"name\":");
    dp_json_put_str(out, opt->topic_prefix, strlen(opt->topic_prefix));
    int64_t cts = src->commit_ts_us;
    dp_buf_puts(out, ",\"ts_ms\":");
    dp_buf_put_i64(out, cts / 1000);
    dp_buf_puts(out, ",\"snapshot\":\"");
    dp_buf_puts(out, src->snapshot ? src->snapshot : "false");
    dp_buf_puts(out, "\",\"db\":");
    dp_json_put_str(out, opt->dbname, strlen(opt->dbname));
    /* sequence: [end LSN of the last commit, this LSN], the first null
     * before any commit was seen, as Debezium writes it */
    if (src->last_commit_lsn) {
        dp_buf_puts(out, ",\"sequence\":\"[\\\"");
        dp_buf_put_u64(out, src->last_commit_lsn);
        dp_buf_puts(out, "\\\",");
    } else {
        dp_buf_puts(out, ",\"sequence\":\"[null,");
    }
    dp_buf_puts(out, "\\\"");
    dp_buf_put_u64(out, src->lsn);
    dp_buf_puts(out, "\\\"]\",\"ts_us\":");
    dp_buf_put_i64(out, cts);
    dp_buf_puts(out, ",\"ts_ns\":");
    dp_buf_put_i64(out, (int64_t)((uint64_t)cts * 1000));
    dp_buf_puts(out, ",\"schema\":");
    dp_json_put_str(out, t->schema, strlen(t->schema));
    dp_buf_puts(out, ",\"table\":");
    dp_json_put_str(out, t->table, strlen(t->table));
    dp_buf_puts(out, ",\"txId\":");
    dp_buf_put_u64(out, src->xid);
    dp_buf_puts(out, ",\"lsn\":");
    dp_buf_put_u64(out, src->lsn);
    dp_buf_puts(out, ",\"xmin\":null},\"transaction\":");
    if (src->txn) {
        char id[DBZ_TXID_MAX];
        size_t idn = dbz_txid(src->txn->xid, src->txn->lsn, id);
        dp_buf_puts(out, "{\"id\":\"");
        dp_buf_append(out, id, idn);
        dp_buf_puts(out, "\",\"total_order\":");
        dp_buf_put_u64(out, src->txn->total_order);
        dp_buf_puts(out, ",\"data_collection_order\":");
        dp_buf_put_u64(out, src->txn->data_collection_order);
        dp_buf_putc(out, '}');
    } else {
        dp_buf_puts(out, "null");
    }
    dp_buf_puts(out, ",\"op\":\"");
    dp_buf_putc(out, op);
    dp_buf_puts(out, "\",\"ts_ms\":");
    dp_buf_put_i64(out, now_us / 1000);
    dp_buf_puts(out, ",\"ts_us\":");
    dp_buf_put_i64(out, now_us);
    dp_buf_puts(out, ",\"ts_ns\":");
    dp_buf_put_i64(out, (int64_t)((uint64_t)now_us * 1000));
    dp_buf_puts(out, "}");
    if (opt->schemas_enable) dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}

/* ---- typed fields of the event ---- */

/* put_u64: the decimal digits of x at p; returns the end */
static char *put_u64(char *p, uint64_t x) {
    char tmp[20];
    int n = 0;
    do tmp[n++] = (char)('0' + x % 10);
    while (x /= 10);
    while (n) *p++ = tmp[--n];
    return p;
}

static int val_str(dbz_val_t *v, const char *s) {
    v->kind = DBZ_VAL_STR;
    v->s = s;
    v->n = strlen(s);
    return 0;
}

static int val_int(dbz_val_t *v, int64_t i) {
    v->kind = DBZ_VAL_INT;
    v->i = i;
    return 0;
}

static int source_field(const dbz_event_t *ev, const dbz_options_t *opt, const char *f,
                        dbz_val_t *v) {
    const dbz_source_t *src = &ev->source;
    int64_t cts = src->commit_ts_us;
    /* by the first letter, then the name: this runs for every field of
     * every Avro event */
    switch (f[0]) {
    case 'v':
        if (!strcmp(f, "version")) return val_str(v, DBZ_COMPAT_VERSION);
        break;
    case 'c':
        if (!strcmp(f, "connector")) return val_str(v, "postgresql");
        break;
    case 'n':
        if (!strcmp(f, "name")) return val_str(v, opt->topic_prefix);
        break;
    case 't':
        if (!strcmp(f, "ts_ms")) return val_int(v, cts / 1000);
        if (!strcmp(f, "ts_us")) return val_int(v, cts);
        if (!strcmp(f, "ts_ns")) return val_int(v, (int64_t)((uint64_t)cts * 1000));
        if (!strcmp(f, "table")) return val_str(v, ev->table->table);
        if (!strcmp(f, "txId")) return val_int(v, src->xid);
        break;
    case 's':
        if (!strcmp(f, "snapshot")) return val_str(v, src->snapshot ? src->snapshot : "false");
        if (!strcmp(f, "schema")) return val_str(v, ev->table->schema);
        if (!strcmp(f, "sequence")) {
            /* [end LSN of the last commit, this LSN] as JSON text */
            char *p = v->buf;
            if (src->last_commit_lsn) {
                *p++ = '[', *p++ = '"';
                p = put_u64(p, src->last_commit_lsn);
                *p++ = '"', *p++ = ',';
            } else {
                memcpy(p, "[null,", 6);
                p += 6;
            }
            *p++ = '"';
            p = put_u64(p, src->lsn);
            *p++ = '"', *p++ = ']', *p = 0;
            return val_str(v, v->buf);
        }
        break;
    case 'd':
        if (!strcmp(f, "db")) return val_str(v, opt->dbname);
        break;
    case 'l':
        if (!strcmp(f, "lsn")) return val_int(v, (int64_t)src->lsn);
        break;
    case 'x':
        if (!strcmp(f, "xmin")) {
            v->kind = DBZ_VAL_NULL;
            return 0;
        }
        break;
    }
    return -1;
}

int dbz_event_field(const dbz_event_t *ev, const dbz_options_t *opt, const char *strct,
                    const char *field, dbz_val_t *v) {
    v->kind = DBZ_VAL_NULL; /* only what the kind says is read */
    if (!strct) {
        int64_t now = ev->now_us;
        if (!strcmp(field, "op")) {
            v->buf[0] = ev->op;
            v->buf[1] = 0;
            return val_str(v, v->buf);
        }
        if (!strcmp(field, "ts_ms")) return val_int(v, now / 1000);
        if (!strcmp(field, "ts_us")) return val_int(v, now);
        if (!strcmp(field, "ts_ns")) return val_int(v, (int64_t)((uint64_t)now * 1000));
        return -1;
    }
    if (!strcmp(strct, "source")) return source_field(ev, opt, field, v);
    if (strcmp(strct, "transaction")) return -1;
    const dbz_txblock_t *tx = ev->source.txn;
    int known = !strcmp(field, "id") || !strcmp(field, "total_order") ||
        !strcmp(field, "data_collection_order");
    if (!known) return -1;
    if (!tx) return 0; /* a null block: its fields are null */
    if (!strcmp(field, "id")) {
        dbz_txid(tx->xid, tx->lsn, v->buf);
        return val_str(v, v->buf);
    }
    return val_int(
        v, (int64_t)(!strcmp(field, "total_order") ? tx->total_order : tx->data_collection_order));
}

size_t dbz_txid(uint32_t xid, uint64_t lsn, char *out) {
    /* out as a buffer whose max leaves room for the NUL: it never reallocates */
    dp_buf_t b = {(uint8_t *)out, 0, DBZ_TXID_MAX, DBZ_TXID_MAX - 1, 0};
    dp_buf_put_u64(&b, xid);
    dp_buf_putc(&b, ':');
    dp_buf_put_u64(&b, lsn);
    out[b.len] = 0;
    return b.len;
}

/* ---- the heartbeat record ---- */

dp_err_t dbz_encode_heartbeat(const dbz_options_t *opt, int64_t ts_ms, dp_buf_t *key,
                              dp_buf_t *value) {
    dp_buf_reset(key);
    dp_buf_reset(value);
    if (opt->key_schemas_enable)
        dp_buf_puts(key, "{\"schema\":" DBZ_HEARTBEAT_KEY_SCHEMA ",\"payload\":");
    dp_buf_puts(key, "{\"serverName\":");
    dp_json_put_str(key, opt->topic_prefix, strlen(opt->topic_prefix));
    dp_buf_putc(key, '}');
    if (opt->key_schemas_enable) dp_buf_putc(key, '}');
    if (opt->schemas_enable)
        dp_buf_puts(value, "{\"schema\":" DBZ_HEARTBEAT_VALUE_SCHEMA ",\"payload\":");
    dp_buf_puts(value, "{\"ts_ms\":");
    dp_buf_put_i64(value, ts_ms);
    dp_buf_putc(value, '}');
    if (opt->schemas_enable) dp_buf_putc(value, '}');
    return key->overflow || value->overflow ? DP_ERR_NOMEM : DP_OK;
}
