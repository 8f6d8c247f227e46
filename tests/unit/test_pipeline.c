/* test_pipeline - the event pipeline's typed writers against the JSON
 * reference.
 *
 * AvroConverter's bytes of a change event used to be made by writing the
 * JsonConverter form (schemas enabled) and transcoding it
 * (dp_avro_conv_run), and ExtractNewRecordState worked on that JSON
 * (dbz_unwrap_apply); test_0015_avro and test_0016_unwrap check those
 * against real Debezium. The pipeline now writes Avro from the typed event
 * (avro_event.c) and transforms the typed event (dbz_unwrap_event). Here
 * both ways run on the same events, over every column type and handling
 * mode capture converts, nulls, defaults, unchanged TOAST values, escapes,
 * special numbers, every op, both forms of the source and transaction
 * blocks, and every delete mode, add.fields and add.headers form of the
 * transform under JSON (with and without schemas) and Avro, and must give
 * the same bytes and headers, or both fail. */
#include <stdlib.h>

#include "archive/archive.h"
#include "common/log.h"
#include "event/avro.h"
#include "event/pipeline.h"
#include "event/unwrap.h"
#include "pg/pgoutput.h"
#include "testlib.h"

typedef struct {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    int not_null;
    const char *dflt;
    const char *type_name;
    uint32_t elem;
} tcol_t;

#define TM_NUM(p, s) ((((p) << 16) | (s)) + 4)

static const tcol_t cols[] = {
    {"id", 23, -1, 1, NULL, "int4", 0},
    {"s2", 21, -1, 0, NULL, "int2", 0},
    {"i8", 20, -1, 1, NULL, "int8", 0},
    {"b", 16, -1, 0, "true", "bool", 0},
    {"f4", 700, -1, 0, NULL, "float4", 0},
    {"f8", 701, -1, 1, NULL, "float8", 0},
    {"n", 1700, TM_NUM(10, 2), 0, "1.50", "numeric", 0},
    {"nv", 1700, -1, 0, NULL, "numeric", 0},
    {"m", 790, -1, 0, NULL, "money", 0},
    {"txt", 25, -1, 0, "'x'::text", "text", 0},
    {"vc", 1043, 24, 1, NULL, "varchar", 0},
    {"u", 2950, -1, 0, NULL, "uuid", 0},
    {"j", 3802, -1, 0, NULL, "jsonb", 0},
    {"by", 17, -1, 0, NULL, "bytea", 0},
    {"d", 1082, -1, 0, NULL, "date", 0},
    {"t", 1083, -1, 0, NULL, "time", 0},
    {"t3", 1083, 3, 1, NULL, "time", 0},
    {"tz", 1266, -1, 0, NULL, "timetz", 0},
    {"ts", 1114, -1, 0, "CURRENT_TIMESTAMP", "timestamp", 0},
    {"tstz", 1184, -1, 0, NULL, "timestamptz", 0},
    {"iv", 1186, -1, 0, NULL, "interval", 0},
    {"ia", 1007, -1, 0, NULL, "_int4", 23},
    {"ta", 1009, -1, 0, NULL, "_text", 25},
    {"na", 1231, -1, 0, NULL, "_numeric", 1700},
};
#define NC (int)(sizeof cols / sizeof cols[0])

/* rows: one text per column; NULL is a SQL null, "\x01" unchanged TOAST */
#define U "\x01"
static const char *const rows[][NC] = {
    {"1",
     "-32768",
     "9223372036854775807",
     "t",
     "1.5",
     "-2.5e-300",
     "12345678.90",
     "3.14159",
     "$1,234.56",
     "plain",
     "v",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "{\"k\": [1, \"x\"]}",
     "\\x00ff7f80",
     "2024-02-29",
     "13:45:56.123456",
     "24:00:00",
     "13:45:56.5+02",
     "2024-01-15 10:30:00.123456",
     "2024-01-15 10:30:00.5+00",
     "1 year 2 mons 3 days 04:05:06.5",
     "{1,NULL,3}",
     "{\"a,b\",\"q\\\"uote\",NULL}",
     "{1.5,NaN}"},
    {"2",  NULL, "-1", NULL, "NaN", "Infinity", NULL, "NaN", NULL, NULL, "esc \" \\ \n\t\x01 é 😀",
     NULL, NULL, NULL, NULL, NULL,  "00:00:00", NULL, NULL,  NULL, NULL, NULL,
     NULL, NULL},
    {"3",
     "7",
     "0",
     "f",
     "-Infinity",
     "0",
     "-0.01",
     "-0.0000000001",
     "-$92,233,720,368,547,758.08",
     U,
     "x",
     U,
     U,
     U,
     "0044-03-15 BC",
     "00:00:00",
     "12:00:00.999",
     "00:00:00-01:30",
     "1969-12-31 23:59:59.9995",
     "infinity",
     "-1 days -02:00:00",
     "{}",
     "{NULL}",
     "{}"},
    {"4",
     "1",
     "2",
     "t",
     "3.4028235e+38",
     "1e+10",
     "0.00",
     "100000000000000000000.5",
     "$0.00",
     "",
     "",
     "00000000-0000-0000-0000-000000000000",
     "null",
     "\\x",
     "1970-01-01",
     "23:59:59.999999",
     "23:59:59.999",
     "23:59:59.999999+14",
     "0001-01-01 00:00:00",
     "1970-01-01 00:00:00+00",
     "00:00:00",
     "{-2147483648}",
     "{\"\"}",
     "{-0.5}"},
    {"5",
     "32767",
     "-9223372036854775808",
     "t",
     "-0",
     "-0",
     "-99999999.99",
     "-0.5",
     "$1.00",
     "a\\u0000b",
     "\\",
     NULL,
     "[]",
     "\\x5c",
     "2000-02-29",
     "12:34:56",
     "00:00:00",
     "12:00:00+00",
     "2000-01-01 00:00:00.5",
     "2000-01-01 00:00:00+00",
     "-178000000 years",
     "{5,6}",
     "{a,b}",
     "{NULL}"},
    /* a two-dimensional array is sent as a string, which Avro refuses
     * (the last row: the events with it fail both ways) */
    {"6",  "1",  "1",  "t",        "1",  "1",  "1",  "1",  "$1.00",         "a",  "b", NULL, NULL,
     NULL, NULL, NULL, "00:00:00", NULL, NULL, NULL, NULL, "{{1,2},{3,4}}", NULL, NULL},
};
#define NR (int)(sizeof rows / sizeof rows[0])

/* the registry's id: a hash of subject and schema, so both ways agree */
static dp_err_t fake_register(void *ctx, const char *subject, const char *schema, size_t len,
                              int32_t *id, char *errstr, size_t n) {
    (void)errstr, (void)n;
    uint32_t h = 2166136261u;
    for (const char *c = subject; *c; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)schema[i]) * 16777619u;
    *id = (int32_t)(h & 0x7fffffff);
    ++*(int32_t *)ctx;
    return DP_OK;
}

static void tuple(int r, pgo_value_t *vals, pgo_tuple_t *t) {
    for (int i = 0; i < NC; i++) {
        const char *v = rows[r][i];
        vals[i].kind = !v ? PGO_VAL_NULL : !strcmp(v, U) ? PGO_VAL_UNCHANGED : PGO_VAL_TEXT;
        vals[i].data = vals[i].kind == PGO_VAL_TEXT ? v : NULL;
        vals[i].len = vals[i].kind == PGO_VAL_TEXT ? (uint32_t)strlen(v) : 0;
    }
    t->ncols = NC;
    t->cols = vals;
}

static int compared, failed_both;

/* one event both ways */
static void check_event(dbz_pipeline_t *p, dp_avro_conv_t *kc, dp_avro_conv_t *vc, dbz_plan_t *plan,
                        const dbz_event_t *ev, const char *topic, const char *what) {
    char e1[512] = "", e2[512] = "";
    dbz_record_t rec;
    dp_err_t err_new = dbz_pipeline_event(p, plan, topic, ev, &rec, e1, sizeof e1);
    /* the old way: JsonConverter with schemas, transcoded */
    dbz_options_t o = *p->opt;
    o.schemas_enable = o.key_schemas_enable = 1;
    dp_buf_t kj, vj, ko, vo;
    dp_buf_init(&kj, 1 << 20), dp_buf_init(&vj, 1 << 20);
    dp_buf_init(&ko, 1 << 20), dp_buf_init(&vo, 1 << 20);
    int has_key;
    dp_err_t err_old = dbz_encode_key(ev, &o, &kj, &has_key);
    if (!err_old && has_key)
        err_old = dp_avro_conv_run(kc, topic, kj.data, kj.len, &ko, e2, sizeof e2);
    if (!err_old && dbz_encode_value(ev, &o, &vj)) err_old = DP_ERR_NOMEM;
    if (!err_old) err_old = dp_avro_conv_run(vc, topic, vj.data, vj.len, &vo, e2, sizeof e2);
    if (err_old || err_new) {
        if (!err_old || !err_new)
            fprintf(stderr, "%s: old error %d (%s), new error %d (%s)\n", what, err_old, e2,
                    err_new, e1);
        CHECK(err_old && err_new);
        if (getenv("SHOW")) fprintf(stderr, "%s: both failed: %s | %s\n", what, e2, e1);
        failed_both++;
    } else {
        CHECK_EQ_INT(has_key, rec.key != NULL);
        if (has_key) CHECK_EQ_MEM(rec.key, rec.klen, ko.data, ko.len);
        if (rec.vlen != vo.len || memcmp(rec.value, vo.data, vo.len))
            fprintf(stderr, "%s: value differs (%zu vs %zu bytes)\n", what, rec.vlen, vo.len);
        CHECK_EQ_MEM(rec.value, rec.vlen, vo.data, vo.len);
        compared++;
    }
    dp_buf_fini(&kj), dp_buf_fini(&vj), dp_buf_fini(&ko), dp_buf_fini(&vo);
}

/* make_table: the test table "public.t" of cols under opt */
static void make_table(const dbz_options_t *opt, dbz_table_t *t) {
    pgo_column_t pc[NC];
    dbz_catalog_col_t cat[NC];
    memset(pc, 0, sizeof pc);
    memset(cat, 0, sizeof cat);
    for (int i = 0; i < NC; i++) {
        pc[i].flags = i == 0;
        pc[i].name.p = cols[i].name;
        pc[i].name.len = (uint32_t)strlen(cols[i].name);
        pc[i].type_oid = cols[i].oid;
        pc[i].typmod = cols[i].typmod;
        cat[i].name = cols[i].name;
        cat[i].in_pk = i <= 1; /* a two-column key, one of it nullable in the test rows */
        cat[i].not_null = cols[i].not_null || i <= 1;
        cat[i].default_expr = cols[i].dflt;
        cat[i].type_name = cols[i].type_name;
        cat[i].elem_oid = cols[i].elem;
    }
    pgo_msg_t rel;
    memset(&rel, 0, sizeof rel);
    rel.kind = PGO_RELATION;
    rel.u.relation.nspname.p = "public";
    rel.u.relation.nspname.len = 6;
    rel.u.relation.relname.p = "t";
    rel.u.relation.relname.len = 1;
    rel.u.relation.replident = 'd';
    rel.u.relation.ncols = NC;
    rel.u.relation.cols = pc;
    char err[256];
    CHECK_EQ_INT(dbz_table_init(t, &rel.u.relation, cat, NC, opt, err, sizeof err), DP_OK);
}

static void run_mode(dbz_decimal_mode_t dm, dbz_time_mode_t tm, dbz_binary_mode_t bm) {
    dbz_options_t opt = {"p", "db \"q\"", 1, 1, dm, tm, bm};
    dbz_table_t t;
    make_table(&opt, &t);
    int32_t ids = 0;
    /* the pipeline's converters keep one schema each: the two topics below
     * take turns, so each event finds the cache started over and its plan
     * stale (dbz_plan_side_t.generation) */
    dp_avro_conv_t *kc = dp_avro_conv_new(1, 1 << 20, 1, fake_register, &ids);
    dp_avro_conv_t *vc = dp_avro_conv_new(0, 1 << 20, 1, fake_register, &ids);
    dp_avro_conv_t *kc2 = dp_avro_conv_new(1, 1 << 20, 16, fake_register, &ids);
    dp_avro_conv_t *vc2 = dp_avro_conv_new(0, 1 << 20, 16, fake_register, &ids);
    dbz_pipeline_t p;
    dbz_pipeline_init(&p, &opt, NULL, kc, vc, 1 << 20);
    dbz_plan_t plans[2];
    dbz_plan_init(&plans[0]);
    dbz_plan_init(&plans[1]);
    dbz_txblock_t txb = {77, 0x1234, 5, 2};
    static const char *const snaps[] = {"false", "true", "last"};
    for (int r = 0; r < NR; r++) {
        for (int o = 0; o < 5; o++) {
            pgo_value_t va[NC], vb[NC];
            pgo_tuple_t a, b;
            tuple(r, va, &a);
            tuple((r + 1) % NR, vb, &b);
            static const char ops[] = "cudrt";
            char op = ops[o];
            dbz_event_t ev = {&t,
                              op,
                              op == 'u' || op == 'd' ? &b : NULL,
                              op == 'd' || op == 't' ? NULL : &a,
                              {1705314600123456LL + r, 4000000000u + (uint32_t)r,
                               0x16B3748 + (uint64_t)r, r % 2 ? 0 : 0x16B3700, snaps[(r + o) % 3],
                               (r + o) % 2 ? &txb : NULL},
                              1705314601000000LL + o};
            char what[64];
            snprintf(what, sizeof what, "mode %d/%d/%d row %d op %c", dm, tm, bm, r, op);
            /* the converters' ids must agree: the old way gets its own pair */
            check_event(&p, kc2, vc2, &plans[o % 2], &ev, o % 2 ? "topic.u" : "topic.t", what);
        }
    }
    CHECK(dp_avro_conv_generation(vc) >= 20); /* the cache did start over */
    /* an event larger than the bound: an error naming the table and the
     * key that bounds it, JSON and Avro alike */
    for (int avro = 0; avro < 2; avro++) {
        dbz_pipeline_t small;
        dbz_pipeline_init(&small, &opt, NULL, avro ? kc : NULL, avro ? vc : NULL, 64);
        pgo_value_t va[NC];
        pgo_tuple_t a;
        tuple(0, va, &a);
        dbz_event_t ev = {&t, 'c', NULL, &a, {0, 1, 2, 0, "false", NULL}, 0};
        dbz_record_t rec;
        char e[512] = "";
        dbz_plan_t pl;
        dbz_plan_init(&pl);
        CHECK_EQ_INT(dbz_pipeline_event(&small, &pl, "topic.t", &ev, &rec, e, sizeof e),
                     DP_ERR_NOMEM);
        CHECK(strstr(e, "table \"public.t\"") && strstr(e, "datapipe.max.event.bytes"));
        dbz_pipeline_fini(&small);
    }
    dbz_plan_fini(&plans[0]);
    dbz_plan_fini(&plans[1]);
    dbz_pipeline_fini(&p);
    dp_avro_conv_destroy(kc), dp_avro_conv_destroy(vc);
    dp_avro_conv_destroy(kc2), dp_avro_conv_destroy(vc2);
    dbz_table_fini(&t);
}

/* ---- ExtractNewRecordState: typed against the JSON transform ---- */

static int unwrap_compared, unwrap_json_plans;

static dbz_unwrap_t *make_unwrap(const char *const *kv, int schemas) {
    char *keys[16], *vals[16];
    size_t nkv = 0;
    keys[nkv] = (char *)"unwrap.type", vals[nkv++] = (char *)DBZ_UNWRAP_TYPE;
    for (; kv && kv[0]; kv += 2) keys[nkv] = (char *)kv[0], vals[nkv++] = (char *)kv[1];
    cfg_kv_t c = {keys, vals, nkv};
    dbz_unwrap_t *u = calloc(1, sizeof *u);
    char err[256];
    CHECK_EQ_INT(dbz_unwrap_init(u, "unwrap", &c, schemas, 1 << 20, err, sizeof err), DP_OK);
    return u;
}

/* one record's bytes and headers, copied */
typedef struct out {
    int drop, has_value;
    dp_buf_t key, value, headers;
} out_t;

static void take(out_t *o, const dbz_record_t *rec, const dbz_unwrap_t *u) {
    dp_buf_init(&o->key, 1 << 20), dp_buf_init(&o->value, 1 << 20),
        dp_buf_init(&o->headers, 1 << 20);
    o->drop = rec->drop;
    o->has_value = rec->value != NULL;
    if (rec->key) dp_buf_append(&o->key, rec->key, rec->klen);
    if (rec->value) dp_buf_append(&o->value, rec->value, rec->vlen);
    for (size_t i = 0; !rec->drop && i < dbz_unwrap_nheaders(u); i++) {
        const char *name;
        const void *v;
        size_t l;
        dbz_unwrap_header(u, i, &name, &v, &l);
        dp_buf_printf(&o->headers, "%s=%s[", name, v ? "" : "null");
        if (v) dp_buf_append(&o->headers, v, l);
        dp_buf_puts(&o->headers, "];");
    }
}

static void drop_out(out_t *o) {
    dp_buf_fini(&o->key), dp_buf_fini(&o->value), dp_buf_fini(&o->headers);
}

/* run_unwrap: every event of the test rows with the transform configured
 * by kv, typed and (the plan forced to JSON) through the JSON transform */
static void run_unwrap(const char *const *kv, int avro, int schemas, int expect_typed) {
    dbz_options_t opt = {"p", "db", schemas, schemas, 0, 0, 0};
    dbz_table_t t;
    make_table(&opt, &t);
    int32_t ids = 0;
    dp_avro_conv_t *vc = avro ? dp_avro_conv_new(0, 1 << 20, 16, fake_register, &ids) : NULL;
    dbz_unwrap_t *u = make_unwrap(kv, schemas);
    dbz_pipeline_t p;
    dbz_pipeline_init(&p, &opt, u, NULL, vc, 1 << 20);
    dbz_plan_t typed, json;
    dbz_plan_init(&typed);
    dbz_plan_init(&json);
    dbz_txblock_t txb = {77, 0x1234, 5, 2};
    for (int r = 0; r + 1 < NR; r++) { /* not the last row: Avro refuses it */
        for (int o = 0; o < 5; o++) {
            pgo_value_t va[NC], vb[NC];
            pgo_tuple_t a, b;
            tuple(r, va, &a);
            tuple(r + 1 < NR - 1 ? r + 1 : 0, vb, &b);
            char op = "cudrt"[o];
            dbz_event_t ev = {&t,
                              op,
                              op == 'u' || op == 'd' ? &b : NULL,
                              op == 'd' || op == 't' ? NULL : &a,
                              {1705314600123456LL + r, 400 + (uint32_t)r, 0x16B3748,
                               r % 2 ? 0 : 0x16B3700, r % 3 ? "false" : "true",
                               (r + o) % 2 ? &txb : NULL},
                              1705314601000000LL + o};
            out_t x[2];
            for (int way = 0; way < 2; way++) {
                dbz_plan_t *pl = way ? &json : &typed;
                if (way && pl->unwrap.state == DBZ_UNWRAP_PLAN_NONE) {
                    char e[256];
                    CHECK_EQ_INT(dbz_unwrap_plan_build(u, &t, &opt, &pl->unwrap, e, sizeof e),
                                 DP_OK);
                    pl->unwrap.state = DBZ_UNWRAP_PLAN_JSON; /* the reference */
                }
                dbz_record_t rec;
                char e[512] = "";
                CHECK_EQ_INT(dbz_pipeline_event(&p, pl, "topic.t", &ev, &rec, e, sizeof e), DP_OK);
                if (*e) fprintf(stderr, "unwrap: %s\n", e);
                take(&x[way], &rec, u);
                if (op == 'd') { /* and the tombstone */
                    CHECK_EQ_INT(dbz_pipeline_tombstone(&p, &rec, e, sizeof e), DP_OK);
                    dp_buf_printf(&x[way].headers, "|tombstone %d %d|", rec.drop,
                                  rec.value != NULL);
                }
            }
            CHECK_EQ_INT(x[0].drop, x[1].drop);
            CHECK_EQ_INT(x[0].has_value, x[1].has_value);
            CHECK_EQ_MEM(x[0].key.data, x[0].key.len, x[1].key.data, x[1].key.len);
            if (x[0].value.len != x[1].value.len ||
                (x[0].value.len && memcmp(x[0].value.data, x[1].value.data, x[0].value.len)))
                fprintf(
                    stderr,
                    "unwrap (%s, avro %d, schemas %d) row %d op %c:\n  typed %.*s\n  json  %.*s\n",
                    kv && kv[0] ? kv[1] : "default", avro, schemas, r, op, (int)x[0].value.len,
                    (const char *)x[0].value.data, (int)x[1].value.len,
                    (const char *)x[1].value.data);
            CHECK_EQ_MEM(x[0].value.data, x[0].value.len, x[1].value.data, x[1].value.len);
            CHECK_EQ_MEM(x[0].headers.data, x[0].headers.len, x[1].headers.data, x[1].headers.len);
            drop_out(&x[0]), drop_out(&x[1]);
            unwrap_compared++;
        }
    }
    CHECK_EQ_INT(typed.unwrap.state, expect_typed ? DBZ_UNWRAP_PLAN_TYPED : DBZ_UNWRAP_PLAN_JSON);
    unwrap_json_plans += typed.unwrap.state == DBZ_UNWRAP_PLAN_JSON;
    dbz_plan_fini(&typed), dbz_plan_fini(&json);
    dbz_pipeline_fini(&p);
    dbz_unwrap_fini(u);
    free(u);
    dp_avro_conv_destroy(vc);
    dbz_table_fini(&t);
}

static void unwrap_all(void) {
    static const char *const rewrite[] = {
        "unwrap.delete.tombstone.handling.mode",
        "rewrite",
        "unwrap.add.fields",
        "op,table,lsn,source.ts_ms,transaction.id,ts_ms,total_order,nosuch,snapshot,db:dbname",
        "unwrap.add.headers",
        "op,db,id,sequence,txId,xmin",
        NULL};
    static const char *const tomb[] = {"unwrap.delete.tombstone.handling.mode", "tombstone",
                                       "unwrap.add.fields", "ts_us,source.ts_ns", NULL};
    static const char *const rwt[] = {"unwrap.delete.tombstone.handling.mode",
                                      "rewrite-with-tombstone",
                                      "unwrap.add.fields.prefix",
                                      "x_",
                                      "unwrap.add.fields",
                                      "op:the_op,transaction.data_collection_order,name",
                                      "unwrap.add.headers.prefix",
                                      "h_",
                                      "unwrap.add.headers",
                                      "op",
                                      NULL};
    static const char *const legacy[] = {"unwrap.delete.handling.mode", "rewrite",
                                         "unwrap.drop.tombstones", "false", NULL};
    static const char *const legacy_none[] = {"unwrap.delete.handling.mode", "none", NULL};
    /* columns of before and after as added fields: typed */
    static const char *const column[] = {"unwrap.delete.tombstone.handling.mode", "rewrite",
                                         "unwrap.add.fields",
                                         "before.id,op,after.s2:two,before.t,after.j,before.nosuch,"
                                         "after.n,before.ia,after.by,after.tstz",
                                         NULL};
    /* a whole struct as a header, a column as a header: the JSON transform */
    static const char *const strct[] = {"unwrap.add.headers", "source", NULL};
    static const char *const colhdr[] = {"unwrap.add.headers", "after.id", NULL};
    const char *const *typed_sets[] = {NULL, rewrite, tomb, rwt, legacy, legacy_none, column};
    for (size_t i = 0; i < sizeof typed_sets / sizeof typed_sets[0]; i++)
        for (int conv = 0; conv < 3; conv++) /* JSON with schemas, without, Avro */
            run_unwrap(typed_sets[i], conv == 2, conv != 1, 1);
    run_unwrap(strct, 1, 1, 0);
    run_unwrap(colhdr, 0, 1, 0);
}

/* the archive's two ways of reading an Avro envelope into its row: the
 * JsonConverter text parsed (arc_row_parse), and the fields read straight
 * (arc_row_from_avro); every column of the row must agree */
static int span_eq(const arc_span_t *a, const arc_span_t *b) {
    return a->null == b->null && a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

static int rows_compared;

static void archive_reads(void) {
    dbz_options_t opt = {"p", "db \"q\"", 1, 1, 0, 0, 0};
    dbz_table_t t;
    make_table(&opt, &t);
    int32_t ids = 0;
    dp_avro_conv_t *vc = dp_avro_conv_new(0, 1 << 20, 16, fake_register, &ids);
    dbz_pipeline_t p;
    dbz_pipeline_init(&p, &opt, NULL, NULL, vc, 1 << 20);
    dbz_plan_t plan;
    dbz_plan_init(&plan);
    dbz_txblock_t txb = {77, 0x1234, 5, 2};
    dp_avro_reader_t *r = NULL;
    dp_buf_t json, json2, scratch;
    dp_buf_init(&json, 1 << 20), dp_buf_init(&json2, 1 << 20), dp_buf_init(&scratch, 1 << 20);
    dp_json_t j = {0};
    arc_row_t a, b;
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    dp_buf_init(&a.scratch, 1 << 20), dp_buf_init(&b.scratch, 1 << 20);
    for (int row = 0; row + 1 < NR; row++) {
        for (int o = 0; o < 5; o++) {
            pgo_value_t va[NC], vb[NC];
            pgo_tuple_t ta, tb;
            tuple(row, va, &ta);
            tuple(row + 1 < NR - 1 ? row + 1 : 0, vb, &tb);
            char op = "cudrt"[o];
            dbz_event_t ev = {&t,
                              op,
                              op == 'u' || op == 'd' ? &tb : NULL,
                              op == 'd' || op == 't' ? NULL : &ta,
                              {1705314600123456LL, 400 + (uint32_t)row, 0x16B3748, 0, "false",
                               o % 2 ? &txb : NULL},
                              1705314601000000LL};
            dbz_record_t rec;
            char e1[512] = "", e2[512] = "";
            CHECK_EQ_INT(dbz_pipeline_event(&p, &plan, "topic.t", &ev, &rec, e1, sizeof e1), DP_OK);
            if (!r) {
                size_t sl;
                const char *st = dp_avro_schema_json(plan.value.schema, &sl);
                CHECK_EQ_INT(dp_avro_reader_new(st, sl, &r, e1, sizeof e1), DP_OK);
            }
            const uint8_t *body = (const uint8_t *)rec.value + 5;
            size_t bl = rec.vlen - 5;
            CHECK_EQ_INT(dp_avro_to_json(r, body, bl, &json, e1, sizeof e1), DP_OK);
            CHECK_EQ_INT(arc_row_parse(&a, &j, (const char *)json.data, json.len, e1, sizeof e1),
                         DP_OK);
            dp_avro_got_t got[ARC_ROW_AVRO_NWANT];
            CHECK_EQ_INT(dp_avro_read_fields(r, body, bl, arc_row_avro_want, ARC_ROW_AVRO_NWANT,
                                             got, &json2, &scratch, e2, sizeof e2),
                         DP_OK);
            CHECK_EQ_INT(arc_row_from_avro(&b, got, &json2, e2, sizeof e2), DP_OK);
            if (*e1 || *e2) fprintf(stderr, "archive_reads: %s | %s\n", e1, e2);
            CHECK(span_eq(&a.op, &b.op) && span_eq(&a.table, &b.table) &&
                  span_eq(&a.version, &b.version) && span_eq(&a.db, &b.db) &&
                  span_eq(&a.schema, &b.schema));
            CHECK(span_eq(&a.before, &b.before) && span_eq(&a.after, &b.after));
            CHECK(a.txid == b.txid && a.lsn == b.lsn && a.event_ts_ms == b.event_ts_ms &&
                  a.txid_null == b.txid_null && a.lsn_null == b.lsn_null && a.ts_null == b.ts_null);
            rows_compared++;
            dp_buf_reset(&json);
        }
    }
    /* not an envelope: both ways refuse it */
    static const uint8_t junk[] = {0x02, 'x'};
    dp_avro_got_t got[ARC_ROW_AVRO_NWANT];
    char e[256];
    CHECK(dp_avro_read_fields(r, junk, sizeof junk, arc_row_avro_want, ARC_ROW_AVRO_NWANT, got,
                              &json2, &scratch, e, sizeof e) != DP_OK);
    dp_json_fini(&j);
    dp_buf_fini(&a.scratch), dp_buf_fini(&b.scratch);
    dp_buf_fini(&json), dp_buf_fini(&json2), dp_buf_fini(&scratch);
    dp_avro_reader_destroy(r);
    dbz_plan_fini(&plan);
    dbz_pipeline_fini(&p);
    dp_avro_conv_destroy(vc);
    dbz_table_fini(&t);
    CHECK_EQ_INT(rows_compared, (NR - 1) * 5);
}

/* a key change: the key columns (id, s2) compared, the rest not */
static void key_change(void) {
    dbz_options_t opt = {"p", "db", 1, 1, 0, 0, 0};
    dbz_table_t t;
    make_table(&opt, &t);
    pgo_value_t va[NC], vb[NC];
    pgo_tuple_t a, b;
    tuple(0, va, &a);
    tuple(0, vb, &b);
    CHECK_EQ_INT(dbz_key_changed(&t, &a, &b), 0);
    vb[3].data = "f", vb[3].len = 1; /* b: not in the key */
    CHECK_EQ_INT(dbz_key_changed(&t, &a, &b), 0);
    vb[1].data = "-32767", vb[1].len = 6; /* s2: same length, other value */
    CHECK_EQ_INT(dbz_key_changed(&t, &a, &b), 1);
    tuple(0, vb, &b);
    vb[0].kind = PGO_VAL_NULL, vb[0].data = NULL, vb[0].len = 0;
    CHECK_EQ_INT(dbz_key_changed(&t, &a, &b), 1);
    dbz_table_fini(&t);
}

/* prepare: the plan made when the table is bound holds the transform's
 * plan and registers nothing (the first record registers its schemas, as
 * Confluent's serializer does); the records of a prepared plan and of an
 * empty one are the same bytes */
static void prepare(void) {
    static const char *const uw[] = {"unwrap.add.fields", "op,after.id", NULL};
    for (int unwrap = 0; unwrap < 2; unwrap++) {
        dbz_options_t opt = {"p", "db", 1, 1, 0, 0, 0};
        dbz_table_t t;
        make_table(&opt, &t);
        int32_t ids = 0;
        dp_avro_conv_t *kc = dp_avro_conv_new(1, 1 << 20, 16, fake_register, &ids);
        dp_avro_conv_t *vc = dp_avro_conv_new(0, 1 << 20, 16, fake_register, &ids);
        dbz_unwrap_t *u = unwrap ? make_unwrap(uw, 1) : NULL;
        dbz_pipeline_t p;
        dbz_pipeline_init(&p, &opt, u, kc, vc, 1 << 20);
        pgo_value_t va[NC];
        pgo_tuple_t a;
        tuple(0, va, &a);
        dbz_event_t ev = {&t,
                          'c',
                          NULL,
                          &a,
                          {1705314600123456LL, 400, 0x16B3748, 0, "false", NULL},
                          1705314601000000LL};
        dbz_plan_t prepared, lazy;
        dbz_plan_init(&prepared);
        dbz_plan_init(&lazy);
        char e[512] = "";
        CHECK_EQ_INT(dbz_pipeline_prepare(&p, &prepared, &t, e, sizeof e), DP_OK);
        CHECK_EQ_INT(ids, 0); /* nothing registered */
        CHECK_EQ_INT(prepared.unwrap.state, unwrap ? DBZ_UNWRAP_PLAN_TYPED : DBZ_UNWRAP_PLAN_NONE);
        dbz_record_t rec;
        CHECK_EQ_INT(dbz_pipeline_event(&p, &prepared, "topic.t", &ev, &rec, e, sizeof e), DP_OK);
        CHECK_EQ_INT(ids, 2); /* the key's schema and the value's, by the first record */
        dp_buf_t k, v;
        dp_buf_init(&k, 1 << 20), dp_buf_init(&v, 1 << 20);
        dp_buf_append(&k, rec.key, rec.klen), dp_buf_append(&v, rec.value, rec.vlen);
        CHECK_EQ_INT(dbz_pipeline_event(&p, &lazy, "topic.t", &ev, &rec, e, sizeof e), DP_OK);
        CHECK_EQ_INT(ids, 2); /* the converters' caches */
        CHECK_EQ_MEM(rec.key, rec.klen, k.data, k.len);
        CHECK_EQ_MEM(rec.value, rec.vlen, v.data, v.len);
        dp_buf_fini(&k), dp_buf_fini(&v);
        dbz_plan_fini(&prepared), dbz_plan_fini(&lazy);
        dbz_pipeline_fini(&p);
        if (u) dbz_unwrap_fini(u), free(u);
        dp_avro_conv_destroy(kc), dp_avro_conv_destroy(vc);
        dbz_table_fini(&t);
    }
}

/* the heartbeat record: Debezium's JSON, and Avro as the transcoder makes
 * it of that JSON */
static void heartbeat(void) {
    for (int schemas = 0; schemas < 2; schemas++) {
        dbz_options_t opt = {"p\"x", "db", schemas, schemas, 0, 0, 0};
        dbz_pipeline_t p;
        dbz_pipeline_init(&p, &opt, NULL, NULL, NULL, 1 << 16);
        dbz_record_t rec;
        char e[256] = "";
        CHECK_EQ_INT(dbz_pipeline_heartbeat(&p, "__debezium-heartbeat.p", 1700000000123LL, &rec, e,
                                            sizeof e),
                     DP_OK);
        const char *k = schemas ? "{\"schema\":" DBZ_HEARTBEAT_KEY_SCHEMA
                                  ",\"payload\":{\"serverName\":\"p\\\"x\"}}"
                                : "{\"serverName\":\"p\\\"x\"}";
        const char *v = schemas ? "{\"schema\":" DBZ_HEARTBEAT_VALUE_SCHEMA
                                  ",\"payload\":{\"ts_ms\":1700000000123}}"
                                : "{\"ts_ms\":1700000000123}";
        CHECK_EQ_MEM(rec.key, rec.klen, k, strlen(k));
        CHECK_EQ_MEM(rec.value, rec.vlen, v, strlen(v));
        if (schemas) { /* the same through the Avro writers */
            int32_t ids = 0;
            dp_avro_conv_t *kc = dp_avro_conv_new(1, 1 << 16, 4, fake_register, &ids);
            dp_avro_conv_t *vc = dp_avro_conv_new(0, 1 << 16, 4, fake_register, &ids);
            dbz_pipeline_t a;
            dbz_pipeline_init(&a, &opt, NULL, kc, vc, 1 << 16);
            CHECK_EQ_INT(dbz_pipeline_heartbeat(&a, "hb", 1700000000123LL, &rec, e, sizeof e),
                         DP_OK);
            dp_buf_t ko, vo;
            dp_buf_init(&ko, 1 << 16), dp_buf_init(&vo, 1 << 16);
            CHECK_EQ_INT(dp_avro_conv_run(kc, "hb", k, strlen(k), &ko, e, sizeof e), DP_OK);
            CHECK_EQ_INT(dp_avro_conv_run(vc, "hb", v, strlen(v), &vo, e, sizeof e), DP_OK);
            CHECK_EQ_MEM(rec.key, rec.klen, ko.data, ko.len);
            CHECK_EQ_MEM(rec.value, rec.vlen, vo.data, vo.len);
            CHECK(rec.klen > 5 && rec.vlen > 5);
            dp_buf_fini(&ko), dp_buf_fini(&vo);
            dbz_pipeline_fini(&a);
            dp_avro_conv_destroy(kc), dp_avro_conv_destroy(vc);
        }
        dbz_pipeline_fini(&p);
    }
}

/* the transaction records: JsonConverter's form as test_txmeta checks it
 * (with and without schemas), and Avro as the transcoder makes it of that
 * JSON, for BEGIN, an END with collections (escapes in a name, the Java
 * iteration order) and an END without events */
static void txmeta(void) {
    for (int schemas = 0; schemas < 2; schemas++) {
        dbz_options_t opt = {"p", "db", schemas, schemas, 0, 0, 0};
        int32_t ids = 0;
        dp_avro_conv_t *kc = dp_avro_conv_new(1, 1 << 16, 4, fake_register, &ids);
        dp_avro_conv_t *vc = dp_avro_conv_new(0, 1 << 16, 4, fake_register, &ids);
        dbz_pipeline_t pj, pa;
        dbz_pipeline_init(&pj, &opt, NULL, NULL, NULL, 1 << 16);
        dbz_pipeline_init(&pa, &opt, NULL, kc, vc, 1 << 16);
        dbz_txmeta_t m;
        dbz_txmeta_init(&m);
        dp_buf_t k, v, ko, vo;
        dp_buf_init(&k, 1 << 16), dp_buf_init(&v, 1 << 16);
        dp_buf_init(&ko, 1 << 16), dp_buf_init(&vo, 1 << 16);
        static const char *const tables[] = {"users", "products", "t\"q", "users", "a", "users"};
        for (int c = 0; c < 3; c++) {
            int end = c > 0;
            dbz_txmeta_begin(&m, 4294967295u - (uint32_t)c);
            dbz_txblock_t b;
            for (int i = 0; c == 1 && i < 6; i++)
                CHECK_EQ_INT(dbz_txmeta_event(&m, "public", tables[i], 10 + (uint64_t)i, &b),
                             DP_OK);
            dbz_record_t rec;
            char e[256] = "";
            uint64_t lsn = UINT64_MAX - (uint64_t)c;
            int64_t ts = c == 2 ? -1500 : 1795512818623456LL;
            CHECK_EQ_INT(dbz_txmeta_json_key(&m, &opt, lsn, &k), DP_OK);
            CHECK_EQ_INT(dbz_txmeta_json_value(&m, &opt, end, lsn, ts, &v), DP_OK);
            CHECK_EQ_INT(dbz_pipeline_txmeta(&pj, &m, end, lsn, ts, "tx", &rec, e, sizeof e),
                         DP_OK);
            CHECK_EQ_MEM(rec.key, rec.klen, k.data, k.len);
            CHECK_EQ_MEM(rec.value, rec.vlen, v.data, v.len);
            if (!schemas) continue;
            CHECK_EQ_INT(dbz_pipeline_txmeta(&pa, &m, end, lsn, ts, "tx", &rec, e, sizeof e),
                         DP_OK);
            CHECK_EQ_INT(dp_avro_conv_run(kc, "tx", k.data, k.len, &ko, e, sizeof e), DP_OK);
            CHECK_EQ_INT(dp_avro_conv_run(vc, "tx", v.data, v.len, &vo, e, sizeof e), DP_OK);
            CHECK_EQ_MEM(rec.key, rec.klen, ko.data, ko.len);
            CHECK_EQ_MEM(rec.value, rec.vlen, vo.data, vo.len);
            CHECK(rec.vlen > 5 + (c == 1 ? 60u : 0u));
        }
        /* a record past the bound is an error naming the transaction */
        dbz_pipeline_t small;
        dbz_pipeline_init(&small, &opt, NULL, schemas ? kc : NULL, schemas ? vc : NULL, 24);
        dbz_record_t rec;
        char e[256] = "";
        CHECK_EQ_INT(dbz_pipeline_txmeta(&small, &m, 1, 1, 0, "tx", &rec, e, sizeof e),
                     DP_ERR_NOMEM);
        CHECK(strstr(e, "END record of transaction 4294967293") != NULL);
        dbz_pipeline_fini(&small);
        dp_buf_fini(&k), dp_buf_fini(&v), dp_buf_fini(&ko), dp_buf_fini(&vo);
        dbz_txmeta_fini(&m);
        dbz_pipeline_fini(&pj), dbz_pipeline_fini(&pa);
        dp_avro_conv_destroy(kc), dp_avro_conv_destroy(vc);
    }
}

int main(void) {
    dp_log_set_level_name("error"); /* the deprecation warnings of the legacy keys */
    run_mode(DBZ_DECIMAL_PRECISE, DBZ_TIME_ADAPTIVE, DBZ_BINARY_BYTES);
    run_mode(DBZ_DECIMAL_DOUBLE, DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS, DBZ_BINARY_BASE64);
    run_mode(DBZ_DECIMAL_STRING, DBZ_TIME_CONNECT, DBZ_BINARY_HEX);
    run_mode(DBZ_DECIMAL_PRECISE, DBZ_TIME_CONNECT, DBZ_BINARY_BASE64_URL_SAFE);
    /* per mode, the events with the last row fail both ways: its c, u and
     * r (its after image) and the u and d of the row before (their before
     * image); the rest compared */
    CHECK_EQ_INT(failed_both, 4 * 5);
    CHECK_EQ_INT(compared, 4 * NR * 5 - 4 * 5);
    unwrap_all();
    heartbeat();
    txmeta();
    key_change();
    prepare();
    archive_reads();
    CHECK_EQ_INT(unwrap_compared, (7 * 3 + 2) * (NR - 1) * 5);
    CHECK_EQ_INT(unwrap_json_plans, 2);
    return tl_finish("pipeline");
}
