/* test_convert - Debezium value conversions at their edges: decimals as
 * Java's BigInteger.toByteArray(), dates and timestamps around the epoch,
 * and the archive's row parser and partition paths. */
#include "archive/archive.h"
#include "common/json.h"
#include "event/debezium.h"
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
    CHECK_EQ_STR(dec("1.5", 2), "\"AJY=\"");   /* padded to the column's scale */
    CHECK_EQ_STR(dec("1.50", 2), "\"AJY=\"");
    CHECK_EQ_STR(dec("-0.00", 2), "\"AA==\"");
    CHECK_EQ_STR(dec("1000000000000000000000000000000", 0), "\"DJ8snNBGdO3qQAAAAA==\"");
    CHECK_EQ_STR(dec("1.234", 2), "ERR");       /* would lose a digit */
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

    /* archive rows */
    arc_row_t row;
    memset(&row, 0, sizeof row);
    dp_buf_init(&row.scratch, 1 << 16);
    dp_json_t j = {0};
    char err[256];
    const char *wrapped = "{\"schema\":{\"type\":\"struct\"},\"payload\":{\"before\":null,"
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
    const char *bare = "{\"before\":{\"id\":2},\"after\":null,\"source\":{\"table\":\"t\",\"txId\":null},\"op\":\"d\"}";
    CHECK_EQ_INT(arc_row_parse(&row, &j, bare, strlen(bare), err, sizeof err), DP_OK);
    CHECK(row.after.null);
    CHECK(row.txid_null);
    CHECK(row.lsn_null);
    CHECK(row.db.null);
    const char *bad[] = {"not json", "[1,2]", "{\"op\":\"c\"}", "{\"payload\":{}}",
                         "{\"op\":\"x\",\"source\":{}}", "{\"op\":\"c\",\"source\":{\"txId\":\"1\"}}",
                         "{\"op\":\"c\",\"source\":{},\"after\":5}", "{\"op\":7,\"source\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(arc_row_parse(&row, &j, bad[i], strlen(bad[i]), err, sizeof err), DP_ERR_INVALID);
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
    CHECK_EQ_INT(arc_format_path("YYYY-MM-dd", 1705315800123LL, 86400000, "UTC", path, sizeof path), DP_OK);
    CHECK_EQ_STR(path, "2024-01-15");
    CHECK_EQ_INT(arc_format_path(fmt, 1705315800123LL, 3600000, "Asia/Kolkata", path, sizeof path), DP_OK);
    CHECK_EQ_STR(path, "year=2024/month=01/day=15/hour=16");
    CHECK_EQ_INT(arc_format_path("'unterminated", 0, 3600000, "UTC", path, sizeof path), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_format_path("YYYY/Q", 0, 3600000, "UTC", path, sizeof path), DP_ERR_INVALID);
    CHECK_EQ_INT(arc_format_path(fmt, 0, 3600000, "UTC", path, 10), DP_ERR_INVALID);
    return tl_finish("test_convert");
}
