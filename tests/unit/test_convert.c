/* test_convert - Debezium value conversions at their edges: decimals as
 * Java's BigInteger.toByteArray(), dates and timestamps around the epoch,
 * and the archive's row parser and partition paths. */
#include "archive/archive.h"
#include "common/json.h"
#include "event/debezium.h"
#include "pg/pgoutput.h"
#include "testlib.h"

static const char *dec(const char *s, int scale) {
    static char out[128];
    uint8_t b[64];
    size_t n;
    if (dbz_decimal_unscaled(s, strlen(s), scale, b, sizeof b, &n)) return "ERR";
    dp_buf_t buf;
    dp_buf_init(&buf, 128);
    dp_json_put_base64(&buf, b, n);
    snprintf(out, sizeof out, "%s", dp_buf_cstr(&buf));
    dp_buf_fini(&buf);
    return out;
}

static int64_t ts(const char *s) {
    int64_t us = -1;
    if (dbz_parse_timestamp(s, strlen(s), &us)) return 0x7fffffffffffffffLL;
    return us;
}

static int64_t iv(const char *s) {
    int64_t us = -1;
    if (dbz_interval_micros(s, strlen(s), &us)) return 0x7fffffffffffffffLL;
    return us;
}

/* enc_row: one row of the given columns (name, type oid, typmod, text)
 * through the encoder, the "after" payload returned */
typedef struct {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    const char *text;
    const char *dflt;
    int not_null;
} tcol_t;
/* the options enc_row encodes with, and the schema of the row it built
 * (the fields of the envelope's "before" struct) */
static dbz_options_t enc_opt = {
    "p", "db", 0, 0, DBZ_DECIMAL_PRECISE, DBZ_TIME_ADAPTIVE, DBZ_BINARY_BYTES};
static char enc_schema[8192];
static const char *enc_row(const tcol_t *tc, int n, int null_all) {
    static char out[8192];
    pgo_column_t cols[16];
    dbz_catalog_col_t cat[16];
    pgo_value_t vals[16];
    memset(cat, 0, sizeof cat);
    for (int i = 0; i < n; i++) {
        cols[i].flags = i == 0;
        cols[i].name.p = tc[i].name;
        cols[i].name.len = (uint32_t)strlen(tc[i].name);
        cols[i].type_oid = tc[i].oid;
        cols[i].typmod = tc[i].typmod;
        cat[i].name = tc[i].name;
        cat[i].in_pk = i == 0;
        cat[i].not_null = tc[i].not_null;
        cat[i].default_expr = tc[i].dflt;
        cat[i].type_name = !tc[i].dflt ? NULL
            : tc[i].oid == 1700        ? "numeric"
            : tc[i].oid == 1082        ? "date"
            : tc[i].oid == 1083        ? "time"
            : tc[i].oid == 1114        ? "timestamp"
                                       : "int4";
        vals[i].kind = null_all && i ? PGO_VAL_NULL : PGO_VAL_TEXT;
        vals[i].data = tc[i].text;
        vals[i].len = (uint32_t)strlen(tc[i].text);
    }
    pgo_msg_t rel;
    memset(&rel, 0, sizeof rel);
    rel.kind = PGO_RELATION;
    rel.u.relation.nspname.p = "public";
    rel.u.relation.nspname.len = 6;
    rel.u.relation.relname.p = "t";
    rel.u.relation.relname.len = 1;
    rel.u.relation.replident = 'd';
    rel.u.relation.ncols = (uint16_t)n;
    rel.u.relation.cols = cols;
    dbz_options_t opt = enc_opt;
    dbz_table_t t;
    char err[256];
    if (dbz_table_init(&t, &rel.u.relation, cat, (size_t)n, &opt, err, sizeof err)) return "ERR";
    {
        const char *vs = dp_buf_cstr(&t.value_schema), *f = strstr(vs, "\"fields\":[{");
        const char *fe = f ? strstr(f, "],\"optional\":true,\"name\":\"p.public.t.Value\"") : NULL;
        snprintf(enc_schema, sizeof enc_schema, "%.*s", f && fe ? (int)(fe - f - 10) : 0,
                 f ? f + 10 : "");
    }
    pgo_tuple_t row = {(uint16_t)n, vals};
    dbz_source_t src = {0, 1, 2, 0, "false", NULL};
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    dbz_encode_value(&(dbz_event_t){&t, 'c', NULL, &row, src, 0}, &opt, &b);
    const char *j = dp_buf_cstr(&b), *a = strstr(j, "\"after\":"),
               *e = a ? strstr(a, ",\"source\"") : NULL;
    snprintf(out, sizeof out, "%.*s", a && e ? (int)(e - a - 8) : 0, a ? a + 8 : "");
    dp_buf_fini(&b);
    dbz_table_fini(&t);
    return out;
}

int main(void) {
    CHECK_EQ_STR(dec("0", 0), "\"AA==\"");
    CHECK_EQ_STR(dec("1", 0), "\"AQ==\"");
    CHECK_EQ_STR(dec("-1", 0), "\"/w==\"");
    CHECK_EQ_STR(dec("127", 0), "\"fw==\"");
    CHECK_EQ_STR(dec("128", 0), "\"AIA=\"");
    CHECK_EQ_STR(dec("-128", 0), "\"gA==\"");
    CHECK_EQ_STR(dec("-129", 0), "\"/38=\"");
    CHECK_EQ_STR(dec("255", 0), "\"AP8=\"");
    CHECK_EQ_STR(dec("256", 0), "\"AQA=\"");
    CHECK_EQ_STR(dec("-256", 0), "\"/wA=\"");
    CHECK_EQ_STR(dec("-12345678.90", 2), "\"tmn9Lg==\"");
    CHECK_EQ_STR(dec("1.5", 2), "\"AJY=\""); /* padded to the column's scale */
    CHECK_EQ_STR(dec("1.50", 2), "\"AJY=\"");
    CHECK_EQ_STR(dec("-0.00", 2), "\"AA==\"");
    CHECK_EQ_STR(dec("1000000000000000000000000000000", 0), "\"DJ8snNBGdO3qQAAAAA==\"");
    CHECK_EQ_STR(dec("1.234", 2), "ERR"); /* would lose a digit */
    CHECK_EQ_STR(dec("NaN", 0), "ERR");
    CHECK_EQ_STR(dec("", 0), "ERR");
    CHECK_EQ_STR(dec("1e5", 0), "ERR");

    CHECK_EQ_INT(dbz_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(dbz_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(dbz_days_from_civil(2024, 1, 15), 19737);
    CHECK_EQ_INT(dbz_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ_INT(dbz_days_from_civil(2000, 2, 29), 11016);
    CHECK_EQ_INT(ts("1970-01-01 00:00:00"), 0);
    CHECK_EQ_INT(ts("2024-01-15 10:30:00.123456"), 1705314600123456LL);
    CHECK_EQ_INT(ts("2024-01-15 10:30:00.5+02"), 1705314600500000LL - 7200000000LL);
    CHECK_EQ_INT(ts("2024-01-15 10:30:00+05:30"), 1705314600000000LL - 19800000000LL);
    CHECK_EQ_INT(ts("1969-12-31 23:59:59.999999"), -1);
    CHECK_EQ_INT(ts("2024-01-15"), 19737LL * 86400000000LL);
    CHECK_EQ_INT(ts("0001-01-01 00:00:00 BC"), (-719162LL - 366) * 86400000000LL);
    CHECK_EQ_INT(ts("2024-13-01 00:00:00"), 0x7fffffffffffffffLL);
    CHECK_EQ_INT(ts("infinity"), 0x7fffffffffffffffLL);
    /* found by fuzz_pgoutput: a long year overflowed int */
    CHECK_EQ_INT(ts("9223372036854775807-01-01"), 0x7fffffffffffffffLL);
    /* both sides of the int64 µs bound: 106751990 days after 1970 is 294247-01-09 */
    CHECK_EQ_INT(ts("294247-01-09 00:00:00"), 106751990LL * 86400000000LL);
    CHECK_EQ_INT(ts("294247-01-11 00:00:00"), 0x7fffffffffffffffLL);
    CHECK_EQ_INT(ts("294276-12-31 23:59:59"), 0x7fffffffffffffffLL); /* PostgreSQL's last year */
    CHECK_EQ_INT(ts("2024-01-15 10:30"), 0x7fffffffffffffffLL);

    /* intervals as MicroDuration, the figures real Debezium 3.0.8 wrote for
     * the same values (test_0003_debezium_parity) */
    CHECK_EQ_INT(iv("1 year 2 mons 3 days 04:05:06.789"), 37091106789000LL);
    CHECK_EQ_INT(iv("-1 days -02:00:00"), -93600000000LL);
    CHECK_EQ_INT(iv("1000 years -00:00:01"), 31557599999000000LL);
    CHECK_EQ_INT(iv("-178000000 years"), (int64_t)(-9223372036854775807LL - 1)); /* saturates */
    CHECK_EQ_INT(iv("00:00:00"), 0);
    CHECK_EQ_INT(iv("-00:00:00.000001"), -1);
    CHECK_EQ_INT(iv("3 days"), 3LL * 86400000000LL);
    CHECK_EQ_INT(iv("1 mon"), 2629800000000LL); /* 30.4375 days */
    CHECK_EQ_INT(iv("epoch"), 0); /* as pgjdbc: a value without a unit counts for nothing */
    CHECK_EQ_INT(iv("1 fortnight"), 0x7fffffffffffffffLL);

    /* whole rows, each value as real Debezium 3.0.8 wrote it (test_0003) */
    const tcol_t row1[] = {
        {"id", 23, -1, "1", NULL, 1},
        {"f8", 701, -1, "1e+10", NULL, 0},
        {"f4", 700, -1, "1e-45", NULL, 0},
        {"tz", 1266, -1, "13:45:56.5+02", NULL, 0},
        {"m", 790, -1, "-$92,233,720,368,547,758.08", NULL, 0},
        {"a", 1007, -1, "{1,NULL,3}", NULL, 0},
        {"ta", 1009, -1, "{\"a b\",\"c,d\",NULL,\"\"}", NULL, 0},
        {"s", 25, -1, "\x01 \xf0\x9f\x98\x80", NULL, 0},
        {"ts", 1184, -1, "1900-01-01 00:00:00+00", NULL, 0},
        {"d", 1082, -1, "0044-03-15 BC", NULL, 0},
        {"v", 1700, -1, "1.50", NULL, 0},
        {"iv", 1186, -1, "-1 days -02:00:00", NULL, 0},
    };
    CHECK_EQ_STR(
        enc_row(row1, 12, 0),
        "{\"id\":1,\"f8\":1.0E10,\"f4\":1.4E-45,\"tz\":\"11:45:56.5Z\",\"m\":\"gAAAAAAAAAA=\","
        "\"a\":[1,null,3],\"ta\":[\"a b\",\"c,d\",null,\"\"],\"s\":\"\\u0001 \\uD83D\\uDE00\","
        "\"ts\":\"1900-01-01T00:00:00.000000Z\",\"d\":-735160,\"v\":{\"scale\":1,\"value\":\"Dw=="
        "\"},"
        "\"iv\":-93600000000}");
    /* nulls: a default in its place, a NOT NULL column's fallback */
    const tcol_t row2[] = {
        {"id", 23, -1, "1", NULL, 1},
        {"i", 23, -1, "", "7", 1},
        {"e", 25, -1, "", NULL, 1},
        {"n", 23, -1, "", NULL, 0},
        {"g", 23, -1, "", "nextval('s'::regclass)", 1},
    };
    CHECK_EQ_STR(enc_row(row2, 5, 1), "{\"id\":1,\"i\":7,\"e\":\"\",\"n\":null,\"g\":0}");

    /* the handling modes, each value and schema as real Debezium 3.0.8 wrote
     * them (test_0013_debezium_modes) */
    const tcol_t modes[] = {
        {"id", 23, -1, "1", NULL, 1},
        {"n", 1700, (12 << 16 | 3) + 4, "1234.500", "1.5", 0}, /* numeric(12,3) */
        {"v", 1700, -1, "-0.000100", "2.50", 0}, /* numeric */
        {"nan", 1700, -1, "NaN", NULL, 0},
        {"inf", 1700, -1, "-Infinity", NULL, 0},
        {"m", 790, -1, "-$92,233,720,368,547,758.08", NULL, 0}, /* money */
        {"b", 17, -1, "\\x00ff7f80fbff", NULL, 0}, /* bytea */
        {"ba", 1001, -1, "{NULL,\"\\\\xfbff\"}", NULL, 0}, /* bytea[] */
        {"d", 1082, -1, "2024-02-29", "'1970-01-02'::date", 0},
        {"t", 1083, -1, "13:45:56.123456", NULL, 0}, /* time */
        {"t3", 1083, 3, "24:00:00", "'01:02:03.456'::time without time zone", 0},
        {"ts", 1114, -1, "1969-12-31 23:59:59.9995", NULL, 0}, /* timestamp */
        {"ta", 1183, -1, "{13:45:56}", NULL, 0}, /* time[] */
        {"tn", 1183, -1, "{NULL}", NULL, 0},
        {"na", 1231, (5 << 16 | 2) + 4, "{1.50,-0.01}", NULL, 0}, /* numeric(5,2)[] */
    };
    const int nm = (int)(sizeof modes / sizeof modes[0]);
    enc_opt.decimal_mode = DBZ_DECIMAL_STRING;
    enc_opt.time_mode = DBZ_TIME_CONNECT;
    enc_opt.binary_mode = DBZ_BINARY_BASE64;
    CHECK_EQ_STR(enc_row(modes, nm, 0),
                 "{\"id\":1,\"n\":\"1234.500\",\"v\":\"-0.000100\",\"nan\":\"NAN\","
                 "\"inf\":\"NEGATIVE_INFINITY\",\"m\":\"-92233720368547758.08\",\"b\":\"AP9/gPv/\","
                 "\"ba\":[null,\"+/8=\"],\"d\":19782,\"t\":49556123,\"t3\":86400000,\"ts\":-1,"
                 "\"ta\":null,\"tn\":[null],\"na\":[\"1.50\",\"-0.01\"]}");
    CHECK(strstr(enc_schema,
                 "{\"type\":\"string\",\"optional\":true,\"default\":\"1.500\",\"field\":\"n\"},"
                 "{\"type\":\"string\",\"optional\":true,\"default\":\"2.50\",\"field\":\"v\"}"));
    CHECK(strstr(enc_schema, "{\"type\":\"string\",\"optional\":true,\"field\":\"nan\"}"));
    CHECK(strstr(enc_schema,
                 "{\"type\":\"string\",\"optional\":true,\"field\":\"m\"},"
                 "{\"type\":\"string\",\"optional\":true,\"field\":\"b\"},"
                 "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},"
                 "\"optional\":true,\"field\":\"ba\"},"));
    CHECK(strstr(
        enc_schema,
        "{\"type\":\"int32\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Date\","
        "\"version\":1,\"default\":1,\"field\":\"d\"},"
        "{\"type\":\"int32\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Time\","
        "\"version\":1,\"field\":\"t\"},"
        "{\"type\":\"int32\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Time\","
        "\"version\":1,\"default\":3723456,\"field\":\"t3\"},"
        "{\"type\":\"int64\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data."
        "Timestamp\","
        "\"version\":1,\"field\":\"ts\"},"
        "{\"type\":\"array\",\"items\":{\"type\":\"int64\",\"optional\":true,"
        "\"name\":\"io.debezium.time.MicroTime\",\"version\":1},\"optional\":true,\"field\":"
        "\"ta\"}"));
    /* nulls: defaults in their place, NOT NULL fallbacks at the column's scale */
    const tcol_t nn[] = {
        {"id", 23, -1, "1", NULL, 1},
        {"n", 1700, (7 << 16 | 3) + 4, "", NULL, 1},
        {"v", 1700, -1, "", NULL, 1},
        {"m", 790, -1, "", NULL, 1},
        {"b", 17, -1, "", NULL, 1},
        {"t", 1083, 3, "", NULL, 1},
        {"dv", 1700, -1, "", "2.50", 0},
        {"nanv", 1700, -1, "", "'NaN'::numeric", 0}, /* no BigDecimal: no default */
    };
    CHECK_EQ_STR(enc_row(nn, 8, 1),
                 "{\"id\":1,\"n\":\"0.000\",\"v\":\"0\",\"m\":\"0.00\",\"b\":\"\",\"t\":0,"
                 "\"dv\":\"2.50\",\"nanv\":null}");

    enc_opt.decimal_mode = DBZ_DECIMAL_DOUBLE;
    enc_opt.time_mode = DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS;
    enc_opt.binary_mode = DBZ_BINARY_HEX;
    CHECK_EQ_STR(
        enc_row(modes, nm, 0),
        "{\"id\":1,\"n\":1234.5,\"v\":-1.0E-4,\"nan\":\"NaN\",\"inf\":\"-Infinity\","
        "\"m\":-9.223372036854776E16,\"b\":\"00ff7f80fbff\",\"ba\":[null,\"fbff\"],\"d\":19782,"
        "\"t\":49556123456,\"t3\":86400000000,\"ts\":-500,\"ta\":[49556000000],\"tn\":[null],"
        "\"na\":[1.5,-0.01]}");
    CHECK(strstr(enc_schema,
                 "{\"type\":\"double\",\"optional\":true,\"default\":1.5,\"field\":\"n\"},"
                 "{\"type\":\"double\",\"optional\":true,\"default\":2.5,\"field\":\"v\"}"));
    CHECK(strstr(enc_schema,
                 "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTime\","
                 "\"version\":1,\"default\":3723456000,\"field\":\"t3\"}"));
    CHECK(strstr(enc_schema,
                 "{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Date\","
                 "\"version\":1,\"default\":1,\"field\":\"d\"}"));
    CHECK_EQ_STR(enc_row(nn, 8, 1),
                 "{\"id\":1,\"n\":0.0,\"v\":0.0,\"m\":0.0,\"b\":\"\",\"t\":0,"
                 "\"dv\":2.5,\"nanv\":null}");
    const tcol_t dbl[] = {
        {"id", 23, -1, "1", NULL, 1},
        {"big", 1700, -1, "100000000000000000000.5", NULL, 0},
        {"tiny", 1700, -1, "-0.0000000001", NULL, 0},
        {"pi", 1700, -1, "3.14159265358979323846264338327950288", NULL, 0},
        {"c", 790, -1, "$12.34", NULL, 0},
        {"huge", 1700, -1, "1e400", NULL, 0}, /* not numeric's text: sent as a string */
    };
    CHECK_EQ_STR(enc_row(dbl, 6, 0),
                 "{\"id\":1,\"big\":1.0E20,\"tiny\":-1.0E-10,\"pi\":3.141592653589793,"
                 "\"c\":12.34,\"huge\":\"1e400\"}");

    enc_opt.binary_mode = DBZ_BINARY_BASE64_URL_SAFE;
    enc_opt.time_mode = DBZ_TIME_ADAPTIVE;
    CHECK_EQ_STR(enc_row(modes, 8, 0),
                 "{\"id\":1,\"n\":1234.5,\"v\":-1.0E-4,\"nan\":\"NaN\",\"inf\":\"-Infinity\","
                 "\"m\":-9.223372036854776E16,\"b\":\"AP9_gPv_\",\"ba\":[null,\"-_8=\"]}");
    CHECK(strstr(enc_schema, "{\"type\":\"string\",\"optional\":true,\"field\":\"b\"}"));
    enc_opt.decimal_mode = DBZ_DECIMAL_PRECISE;
    enc_opt.binary_mode = DBZ_BINARY_BYTES;
    /* the defaults are unchanged: Decimal, bytes, adaptive times */
    CHECK_EQ_STR(enc_row(modes, 3, 0),
                 "{\"id\":1,\"n\":\"EtZE\",\"v\":{\"scale\":4,\"value\":\"/w==\"}}");
    CHECK(strstr(enc_schema,
                 "\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
                 "\"parameters\":{\"scale\":\"3\",\"connect.decimal.precision\":\"12\"},"
                 "\"default\":\"Bdw=\",\"field\":\"n\"}"));

    /* archive rows */
    arc_row_t row;
    memset(&row, 0, sizeof row);
    dp_buf_init(&row.scratch, 1 << 16);
    dp_json_t j = {0};
    char err[256];
    const char *wrapped =
        "{\"schema\":{\"type\":\"struct\"},\"payload\":{\"before\":null,"
        "\"after\":{\"id\":1,\"s\":\"x\\\"y\"},\"source\":{\"version\":\"3.0.8.Final\","
        "\"db\":\"ecommerce\",\"schema\":\"public\",\"table\":\"us\\u0065rs\","
        "\"txId\":564,\"lsn\":24023120,\"ts_ms\":1705315800000},\"op\":\"c\","
        "\"ts_ms\":1705315800123}}";
    CHECK_EQ_INT(arc_row_parse(&row, &j, wrapped, strlen(wrapped), err, sizeof err), DP_OK);
    CHECK_EQ_MEM(row.op.p, row.op.len, "c", 1);
    CHECK_EQ_MEM(row.table.p, row.table.len, "users", 5);
    CHECK_EQ_MEM(row.after.p, row.after.len, "{\"id\":1,\"s\":\"x\\\"y\"}", 19);
    CHECK(row.before.null);
    CHECK_EQ_INT(row.txid, 564);
    CHECK_EQ_INT(row.lsn, 24023120);
    CHECK_EQ_INT(row.event_ts_ms, 1705315800000LL);
    int64_t fms;
    CHECK_EQ_INT(arc_row_field_ms(&j, "source.ts_ms", &fms), DP_OK);
    CHECK_EQ_INT(fms, 1705315800000LL);
    CHECK_EQ_INT(arc_row_field_ms(&j, "ts_ms", &fms), DP_OK);
    CHECK_EQ_INT(fms, 1705315800123LL);
    CHECK_EQ_INT(arc_row_field_ms(&j, "source.table", &fms), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_row_field_ms(&j, "source.nosuch", &fms), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_row_field_ms(&j, "before", &fms), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_row_field_ms(&j, "source..ts_ms", &fms), DP_ERR_INVALID);
    const char *iso = "{\"op\":\"c\",\"source\":{},\"at\":\"2024-01-15T10:30:00.5Z\",\"off\":"
                      "\"2024-01-15T12:30:00+02:00\"}";
    CHECK_EQ_INT(arc_row_parse(&row, &j, iso, strlen(iso), err, sizeof err), DP_OK);
    CHECK_EQ_INT(arc_row_field_ms(&j, "at", &fms), DP_OK);
    CHECK_EQ_INT(fms, 1705314600500LL);
    CHECK_EQ_INT(arc_row_field_ms(&j, "off", &fms), DP_OK);
    CHECK_EQ_INT(fms, 1705314600000LL);
    const char *bare = "{\"before\":{\"id\":2},\"after\":null,\"source\":{\"table\":\"t\",\"txId\":"
                       "null},\"op\":\"d\"}";
    CHECK_EQ_INT(arc_row_parse(&row, &j, bare, strlen(bare), err, sizeof err), DP_OK);
    CHECK(row.after.null);
    CHECK(row.txid_null);
    CHECK(row.lsn_null);
    CHECK(row.db.null);
    const char *bad[] = {"not json",
                         "[1,2]",
                         "{\"op\":\"c\"}",
                         "{\"payload\":{}}",
                         "{\"op\":\"x\",\"source\":{}}",
                         "{\"op\":\"c\",\"source\":{\"txId\":\"1\"}}",
                         "{\"op\":\"c\",\"source\":{},\"after\":5}",
                         "{\"op\":7,\"source\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(arc_row_parse(&row, &j, bad[i], strlen(bad[i]), err, sizeof err),
                     DP_ERR_INVALID);
    dp_json_fini(&j);
    dp_buf_fini(&row.scratch);

    char path[256];
    const char *fmt = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
    CHECK_EQ_INT(arc_format_path(fmt, 1705315800123LL, 3600000, "UTC", path, sizeof path), DP_OK);
    CHECK_EQ_STR(path, "year=2024/month=01/day=15/hour=10");
    CHECK_EQ_INT(arc_format_path(fmt, 0, 3600000, "UTC", path, sizeof path), DP_OK);
    CHECK_EQ_STR(path, "year=1970/month=01/day=01/hour=00");
    CHECK_EQ_INT(arc_format_path(fmt, -1, 3600000, "UTC", path, sizeof path), DP_OK);
    CHECK_EQ_STR(path, "year=1969/month=12/day=31/hour=23");
    CHECK_EQ_INT(arc_format_path("YYYY-MM-dd", 1705315800123LL, 86400000, "UTC", path, sizeof path),
                 DP_OK);
    CHECK_EQ_STR(path, "2024-01-15");
    CHECK_EQ_INT(arc_format_path(fmt, 1705315800123LL, 3600000, "Asia/Kolkata", path, sizeof path),
                 DP_OK);
    CHECK_EQ_STR(path, "year=2024/month=01/day=15/hour=16");
    CHECK_EQ_INT(arc_format_path("'unterminated", 0, 3600000, "UTC", path, sizeof path),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(arc_format_path("YYYY/Q", 0, 3600000, "UTC", path, sizeof path), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_format_path(fmt, 0, 3600000, "UTC", path, 10), DP_ERR_INVALID);
    return tl_finish("test_convert");
}
