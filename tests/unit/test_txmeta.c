/* test_txmeta.c - provide.transaction.metadata: the BEGIN/END records, the
 * ids, the envelope's transaction block and END's data_collections order.
 *
 * Expected records are real Debezium 3.0.8 output (from the parity run of
 * tests/integration/test_0014_transaction_metadata.py); expected orders
 * and hashes were printed by Java 17's HashMap and String.hashCode. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "event/debezium.h"
#include "event/txmeta.h"
#include "testlib.h"

/* encode: both sides as JsonConverter writes them */
static dp_err_t encode(dbz_txmeta_t *m, const dbz_options_t *opt, int end, uint64_t lsn,
                       int64_t ts_us, dp_buf_t *key, dp_buf_t *value) {
    dp_err_t err = dbz_txmeta_json_key(m, opt, lsn, key);
    dp_err_t verr = dbz_txmeta_json_value(m, opt, end, lsn, ts_us, value);
    return err ? err : verr;
}

static const char *KEY_SCHEMA =
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"}],"
    "\"optional\":false,\"name\":\"io.debezium.connector.common.TransactionMetadataKey\","
    "\"version\":1}";
static const char *VALUE_SCHEMA =
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"status\"}"
    ","
    "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},{\"type\":\"int64\",\"optional\":"
    "true,"
    "\"field\":\"event_count\"},{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":[{"
    "\"type\":"
    "\"string\",\"optional\":false,\"field\":\"data_collection\"},{\"type\":\"int64\",\"optional\":"
    "false,"
    "\"field\":\"event_count\"}],\"optional\":true,\"name\":\"event.collection\",\"version\":1},"
    "\"optional\":true,\"field\":\"data_collections\"},{\"type\":\"int64\",\"optional\":false,"
    "\"field\":"
    "\"ts_ms\"}],\"optional\":false,\"name\":\"io.debezium.connector.common."
    "TransactionMetadataValue\","
    "\"version\":1}";

static char *with_schema(const char *schema, const char *payload) {
    static char out[4][4096];
    static int k;
    char *o = out[k++ % 4];
    snprintf(o, sizeof out[0], "{\"schema\":%s,\"payload\":%s}", schema, payload);
    return o;
}

static void test_begin_and_end_records(void) {
    dbz_options_t opt = {"t0", "db", 1, 1, 0, 0, 0};
    dbz_txmeta_t m;
    dp_buf_t k, v;
    dp_buf_init(&k, 1 << 16);
    dp_buf_init(&v, 1 << 16);
    dbz_txmeta_init(&m);
    /* Debezium: BEGIN of xid 154446 at LSN 3097677600, commit 1795512818623 ms */
    dbz_txmeta_begin(&m, 154446);
    CHECK_EQ_INT(encode(&m, &opt, 0, 3097677600ULL, 1795512818623456LL, &k, &v), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&k), with_schema(KEY_SCHEMA, "{\"id\":\"154446:3097677600\"}"));
    CHECK_EQ_STR(dp_buf_cstr(&v),
                 with_schema(VALUE_SCHEMA,
                             "{\"status\":\"BEGIN\",\"id\":\"154446:3097677600\","
                             "\"event_count\":null,\"data_collections\":null,"
                             "\"ts_ms\":1795512818623}"));
    /* Debezium: END of xid 154442 (3 events of alltypes) at 3097676840 */
    dbz_txmeta_begin(&m, 154442);
    dbz_txblock_t b;
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(dbz_txmeta_event(&m, "public", "alltypes", 1, &b), DP_OK);
    CHECK_EQ_INT(encode(&m, &opt, 1, 3097676840ULL, 1795512818562000LL, &k, &v), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&k), with_schema(KEY_SCHEMA, "{\"id\":\"154442:3097676840\"}"));
    CHECK_EQ_STR(dp_buf_cstr(&v),
                 with_schema(VALUE_SCHEMA,
                             "{\"status\":\"END\",\"id\":\"154442:3097676840\",\"event_count\":3,"
                             "\"data_collections\":[{\"data_collection\":\"public.alltypes\","
                             "\"event_count\":3}],\"ts_ms\":1795512818562}"));
    /* a transaction without captured events: END with none */
    dbz_txmeta_begin(&m, 7);
    CHECK_EQ_INT(encode(&m, &opt, 1, 100, 0, &k, &v), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&v),
                 with_schema(VALUE_SCHEMA,
                             "{\"status\":\"END\",\"id\":\"7:100\",\"event_count\":0,"
                             "\"data_collections\":[],\"ts_ms\":0}"));
    /* schemas off: payloads only; the largest xid and LSN */
    opt.schemas_enable = opt.key_schemas_enable = 0;
    dbz_txmeta_begin(&m, 4294967295u);
    CHECK_EQ_INT(encode(&m, &opt, 0, UINT64_MAX, 1000, &k, &v), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&k), "{\"id\":\"4294967295:18446744073709551615\"}");
    CHECK_EQ_STR(dp_buf_cstr(&v),
                 "{\"status\":\"BEGIN\",\"id\":\"4294967295:18446744073709551615\","
                 "\"event_count\":null,\"data_collections\":null,\"ts_ms\":1}");
    /* names are JSON-escaped as everywhere else */
    dbz_txmeta_begin(&m, 8);
    CHECK_EQ_INT(dbz_txmeta_event(&m, "s\"q", "t\\", 1, &b), DP_OK);
    CHECK_EQ_INT(encode(&m, &opt, 1, 2, 0, &k, &v), DP_OK);
    CHECK(strstr(dp_buf_cstr(&v), "\"data_collection\":\"s\\\"q.t\\\\\"") != NULL);
    /* a buffer too small is an error, not a truncated record */
    dp_buf_t small;
    dp_buf_init(&small, 64);
    CHECK_EQ_INT(encode(&m, &opt, 1, 2, 0, &k, &small), DP_ERR_NOMEM);
    dp_buf_fini(&small);
    dbz_txmeta_fini(&m);
    dp_buf_fini(&k);
    dp_buf_fini(&v);
}

static void test_envelope_block(void) {
    dbz_txmeta_t m;
    dbz_txmeta_init(&m);
    dbz_txmeta_begin(&m, 154517);
    dbz_txblock_t d, c, o;
    /* Debezium: a key change is a delete then a create, one LSN, two orders */
    dbz_txmeta_event(&m, "public", "alltypes", 3111294992ULL, &d);
    dbz_txmeta_event(&m, "public", "alltypes", 3111294992ULL, &c);
    dbz_txmeta_event(&m, "public", "users", 3111295000ULL, &o);
    CHECK_EQ_INT(d.xid, 154517);
    CHECK_EQ_INT(d.lsn, 3111294992LL);
    CHECK_EQ_INT(d.total_order, 1);
    CHECK_EQ_INT(d.data_collection_order, 1);
    CHECK_EQ_INT(c.total_order, 2);
    CHECK_EQ_INT(c.data_collection_order, 2);
    CHECK_EQ_INT(o.total_order, 3);
    CHECK_EQ_INT(o.data_collection_order, 1);
    /* a new transaction counts from 1 again */
    dbz_txmeta_begin(&m, 154518);
    dbz_txmeta_event(&m, "public", "alltypes", 5, &d);
    CHECK_EQ_INT(d.total_order, 1);
    CHECK_EQ_INT(d.data_collection_order, 1);
    CHECK_EQ_INT(d.xid, 154518);

    /* and the envelope writes it where "transaction":null was */
    pgo_tuple_t row = {0};
    dbz_table_t t;
    memset(&t, 0, sizeof t);
    t.schema = "public";
    t.table = "alltypes";
    dp_buf_init(&t.value_schema, 64);
    dbz_options_t opt = {"t0", "db", 0, 0, 0, 0, 0};
    dbz_source_t src = {1000000, 154518, 5, 0, "false", &d};
    dp_buf_t out;
    dp_buf_init(&out, 1 << 16);
    CHECK_EQ_INT(dbz_encode_value(&(dbz_event_t){&t, 'c', NULL, &row, src, 0}, &opt, &out), DP_OK);
    CHECK(strstr(dp_buf_cstr(&out),
                 ",\"transaction\":{\"id\":\"154518:5\",\"total_order\":1,"
                 "\"data_collection_order\":1},\"op\":\"c\",") != NULL);
    src.txn = NULL;
    CHECK_EQ_INT(dbz_encode_value(&(dbz_event_t){&t, 'c', NULL, &row, src, 0}, &opt, &out), DP_OK);
    CHECK(strstr(dp_buf_cstr(&out), ",\"transaction\":null,\"op\":\"c\",") != NULL);
    dp_buf_fini(&out);
    dp_buf_fini(&t.value_schema);
    dbz_txmeta_fini(&m);
}

static void test_java_string_hash(void) {
    /* printed by Java 17's String.hashCode */
    CHECK_EQ_INT(dbz_java_string_hash("public.users", 12), -524027325);
    CHECK_EQ_INT(dbz_java_string_hash("public.alltypes", 15), -1303404195);
    CHECK_EQ_INT(dbz_java_string_hash("", 0), 0);
    CHECK_EQ_INT(dbz_java_string_hash("s.\xc3\xa9", 4), 112174); /* s.é */
    CHECK_EQ_INT(dbz_java_string_hash("s.\xe6\x9d\x8e", 5), 138387); /* s.李 */
    CHECK_EQ_INT(dbz_java_string_hash("s.\xf0\x9f\x98\x80", 6), 5243070); /* surrogate pair */
}

/* transactions: comma-separated names, counted one after another in one
 * dbz_txmeta_t (Debezium keeps one HashMap and clears it) */
static void check_orders(const char *const *txns, const char *const *want, size_t n) {
    dbz_txmeta_t m;
    dbz_options_t opt = {"t0", "db", 0, 0, 0, 0, 0};
    dp_buf_t k, v, got;
    dp_buf_init(&k, 1 << 16);
    dp_buf_init(&v, 1 << 16);
    dp_buf_init(&got, 1 << 16);
    dbz_txmeta_init(&m);
    for (size_t i = 0; i < n; i++) {
        dbz_txmeta_begin(&m, (uint32_t)i + 1);
        char *copy = strdup(txns[i]), *save = NULL;
        for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            char *dot = strchr(name, '.');
            *dot = 0;
            dbz_txblock_t b;
            CHECK_EQ_INT(dbz_txmeta_event(&m, name, dot + 1, 1, &b), DP_OK);
        }
        free(copy);
        CHECK_EQ_INT(encode(&m, &opt, 1, 1, 0, &k, &v), DP_OK);
        /* the names of data_collections, in order */
        dp_buf_reset(&got);
        const char *p = dp_buf_cstr(&v);
        while ((p = strstr(p, "\"data_collection\":\""))) {
            p += strlen("\"data_collection\":\"");
            const char *e = strchr(p, '"');
            if (got.len) dp_buf_putc(&got, ',');
            dp_buf_append(&got, p, (size_t)(e - p));
            p = e;
        }
        CHECK_EQ_STR(dp_buf_cstr(&got), want[i]);
    }
    dbz_txmeta_fini(&m);
    dp_buf_fini(&k);
    dp_buf_fini(&v);
    dp_buf_fini(&got);
}

static void test_data_collections_in_java_hashmap_order(void) {
    /* java HM.java <txn>... (a HashMap cleared between transactions) */
    static const char *const txns[] = {
        ("public.alltypes,public.users,public.products,public.full_t,public.nopk,public.nopk_full,"
         "public.toasty,public.arrays,public.odd,public.serialpk,public.floats"),
        "public.users,public.products",
        /* 14 > 12: the table grows to 32 buckets, and stays so */
        "a.t1,a.t2,a.t3,a.t4,a.t5,a.t6,a.t7,a.t8,a.t9,a.t10,a.t11,a.t12,a.t13,a.t14",
        "public.users,public.products,public.alltypes",
        "s.\xc3\xa9,s.\xe6\x9d\x8e,s.\xf0\x9f\x98\x80,s.x",
        /* repeats count once, at their first place */
        "public.products,public.users,public.products,public.users",
    };
    static const char *const want[] = {
        ("public.users,public.nopk_full,public.alltypes,public.serialpk,public.products,"
         "public.full_t,public.odd,public.floats,public.nopk,public.toasty,public.arrays"),
        "public.users,public.products",
        "a.t3,a.t4,a.t5,a.t6,a.t13,a.t12,a.t1,a.t2,a.t14,a.t11,a.t10,a.t7,a.t8,a.t9",
        "public.users,public.products,public.alltypes",
        "s.\\uD83D\\uDE00,s.\xc3\xa9,s.\xe6\x9d\x8e,s.x", /* as JsonConverter escapes it */
        "public.users,public.products",
    };
    check_orders(txns, want, sizeof txns / sizeof txns[0]);
}

static void test_nine_in_one_bucket_grow_the_table(void) {
    /* nine names in bucket 5 of 16: the ninth makes Java's HashMap resize
     * instead of building a tree; the next transaction sees the bigger table */
    static const char *const txns[] = {
        "c.t1,c.t14,c.t25,c.t36,c.t47,c.t58,c.t69,c.t100,c.t111",
        "c.t1,c.t14,c.t25,public.users",
    };
    static const char *const want[] = {
        "c.t1,c.t14,c.t25,c.t36,c.t47,c.t58,c.t69,c.t100,c.t111",
        "public.users,c.t1,c.t14,c.t25",
    };
    check_orders(txns, want, 2);
}

int main(void) {
    test_begin_and_end_records();
    test_envelope_block();
    test_java_string_hash();
    test_data_collections_in_java_hashmap_order();
    test_nine_in_one_bucket_grow_the_table();
    return tl_finish("txmeta");
}
