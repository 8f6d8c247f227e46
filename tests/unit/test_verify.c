/* test_verify - the pure logic of `datapipe verify`, without servers:
 * which keys are named as the archive names objects, what an object's
 * footer announces, and the plan: objects in offset order per partition,
 * the ranges between them that Kafka must be asked about (split where it
 * cannot answer), overlaps, whether the committed offset is reached, and
 * the verdict. */
#include <stdlib.h>

#include "common/buf.h"
#include "parquet/writer.h"
#include "testlib.h"
#include "verify/verify.h"

#define SHAPE "year=0000/month=00/day=00/hour=00"

static void test_strtab(void) {
    vfy_strtab_t t;
    vfy_strtab_init(&t);
    CHECK_EQ_INT(vfy_strtab_find(&t, "a"), UINT32_MAX);
    uint32_t a = vfy_strtab_add(&t, "alpha", 5), b = vfy_strtab_add(&t, "beta-and-more", 4);
    CHECK(a != b);
    CHECK_EQ_INT(vfy_strtab_add(&t, "alpha!", 5), a);
    CHECK_EQ_STR(vfy_strtab_get(&t, b), "beta");
    CHECK_EQ_INT(vfy_strtab_find(&t, "beta"), b);
    /* many strings: the table grows and keeps every index */
    char s[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "year=2026/hour=%d", i);
        CHECK_EQ_INT(vfy_strtab_add(&t, s, strlen(s)), i + 2);
    }
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "year=2026/hour=%d", i);
        ok &= vfy_strtab_find(&t, s) == (uint32_t)i + 2 &&
            strcmp(vfy_strtab_get(&t, (uint32_t)i + 2), s) == 0;
    }
    CHECK(ok);
    vfy_strtab_fini(&t);
}

static void test_shape(void) {
    char shape[128], err[256];
    CHECK(vfy_path_shape("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", 3600000, shape, sizeof shape,
                         err, sizeof err) == DP_OK);
    CHECK_EQ_STR(shape, "year=1970/month=01/day=01/hour=00");
    CHECK(vfy_path_shape("'year'=YYYY/xx", 3600000, shape, sizeof shape, err, sizeof err) ==
          DP_ERR_CONFIG);
    CHECK(strstr(err, "path.format") != NULL);
}

/* key_ok: key parses; returns its topic, partition, offset and ext through out */
static int key_ok(const char *key, int pad, vfy_key_t *out) {
    char err[256];
    return vfy_parse_key(key, "cdc-events", "year=1970/month=01/day=01/hour=00", pad, out, err,
                         sizeof err) == DP_OK;
}

static void test_keys(void) {
    vfy_key_t k;
    CHECK(key_ok("cdc-events/year=2026/month=11/day=24/hour=06/"
                 "cdc.postgres.users+3+0000001234.snappy.parquet",
                 10, &k));
    CHECK_EQ_MEM(k.topic, k.topic_len, "cdc.postgres.users", 18);
    CHECK_EQ_MEM(k.path, k.path_len, "year=2026/month=11/day=24/hour=06", 33);
    CHECK_EQ_INT(k.partition, 3);
    CHECK_EQ_INT(k.offset, 1234);
    CHECK_EQ_INT(k.ext, 1);
    /* every codec's extension; an offset wider than the padding */
    CHECK(key_ok("cdc-events/year=2026/month=11/day=24/hour=06/t+0+0000000000.parquet", 10, &k));
    CHECK_EQ_INT(k.ext, 0);
    CHECK(
        key_ok("cdc-events/year=2026/month=11/day=24/hour=06/t+0+0000000000.zstd.parquet", 10, &k));
    CHECK_EQ_INT(k.ext, 3);
    CHECK(key_ok("cdc-events/year=2026/month=11/day=24/hour=06/t+0+0000000000.gz.parquet", 10, &k));
    CHECK_EQ_INT(k.ext, 2);
    CHECK(key_ok("cdc-events/year=2026/month=11/day=24/hour=06/t+12+12345678901.snappy.parquet", 10,
                 &k));
    CHECK_EQ_INT(k.offset, 12345678901LL);
    CHECK_EQ_INT(k.partition, 12);
    /* the widest padding the configuration allows */
    CHECK(key_ok("cdc-events/year=2026/month=11/day=24/hour=06/t+0+00000000000000000042.parquet",
                 20, &k));
    CHECK_EQ_INT(k.offset, 42);
    /* not ours */
    const char *bad[] = {
        "other/year=2026/month=11/day=24/hour=06/t+3+0000001234.snappy.parquet", /* another dir */
        "cdc-events-2/year=2026/month=11/day=24/hour=06/t+3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/t+3+0000001234.snappy.parquet", /* path shape */
        "cdc-events/year=2026/month=1/day=24/hour=06/t+3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/extra/t+3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+3+0000001234.snappy.parquet.tmp",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+3+0000001234.csv",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+3+1234.snappy.parquet", /* padding */
        "cdc-events/year=2026/month=11/day=24/hour=06/t+3+00000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+03+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+x+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t++0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/+3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t 1+3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/t+3+000000123x.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/3+0000001234.snappy.parquet",
        "cdc-events/year=2026/month=11/day=24/hour=06/.snappy.parquet",
        "cdc-events/orphan.parquet",
        "cdc-events",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = key_ok(bad[i], 10, &k);
        if (ok) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!ok);
    }
    char err[256];
    CHECK(vfy_parse_key("cdc-events/year=2026/month=11/day=24/hour=06/t+3+1.parquet", "cdc-events",
                        SHAPE, 10, &k, err, sizeof err) == DP_ERR_INVALID);
    CHECK(strstr(err, "zero-padded") != NULL);
}

static dp_err_t mem_sink(void *ctx, const void *data, size_t len, char *errstr, size_t n) {
    (void)errstr;
    (void)n;
    return dp_buf_append(ctx, data, len);
}

/* write_file: a small Parquet file with the given key/value entries */
static void write_file(dp_buf_t *out, const char **keys, const char **vals, size_t nkv) {
    static const pqt_column_def_t cols[] = {{"n", PQT_INT64, 0}};
    pqt_writer_t *w = pqt_writer_new(cols, 1, NULL, mem_sink, out);
    char err[256];
    for (int i = 0; i < 10; i++) {
        pqt_write_int64(w, 0, i, err, sizeof err);
        pqt_end_row(w, err, sizeof err);
    }
    CHECK(pqt_writer_finish(w, keys, vals, nkv, err, sizeof err) == DP_OK);
    pqt_writer_destroy(w);
}

static void test_footer(void) {
    const char *keys[] = {"datapipe.kafka.topic", "datapipe.kafka.partition",
                          "datapipe.kafka.start.offset", "datapipe.kafka.end.offset"};
    const char *vals[] = {"cdc.t.users", "4", "100", "131"};
    dp_buf_t f;
    dp_buf_init(&f, 1 << 20);
    write_file(&f, keys, vals, 4);
    vfy_footer_t ft;
    size_t need = 0;
    char err[256];
    CHECK(vfy_read_footer(f.data, f.len, &ft, &need, err, sizeof err) == DP_OK);
    CHECK_EQ_STR(ft.topic, "cdc.t.users");
    CHECK_EQ_INT(ft.partition, 4);
    CHECK_EQ_INT(ft.start, 100);
    CHECK_EQ_INT(ft.end, 131);
    /* a tail shorter than the footer asks for more; that much works */
    CHECK(vfy_read_footer(f.data + f.len - 20, 20, &ft, &need, err, sizeof err) == DP_ERR_FULL);
    CHECK(need > 20 && need <= f.len);
    CHECK(vfy_read_footer(f.data + f.len - need, need, &ft, &need, err, sizeof err) == DP_OK);
    /* not Parquet */
    CHECK(vfy_read_footer((const uint8_t *)"hello, world, not parquet", 25, &ft, &need, err,
                          sizeof err) == DP_ERR_INVALID);
    /* an entry missing, not a number, backwards */
    dp_buf_reset(&f);
    write_file(&f, keys, vals, 3);
    CHECK(vfy_read_footer(f.data, f.len, &ft, &need, err, sizeof err) == DP_ERR_INVALID);
    CHECK(strstr(err, "datapipe.kafka.end.offset") != NULL);
    const char *nan[] = {"cdc.t.users", "4", "-1", "131"};
    dp_buf_reset(&f);
    write_file(&f, keys, nan, 4);
    CHECK(vfy_read_footer(f.data, f.len, &ft, &need, err, sizeof err) == DP_ERR_INVALID);
    const char *back[] = {"cdc.t.users", "4", "200", "131"};
    dp_buf_reset(&f);
    write_file(&f, keys, back, 4);
    CHECK(vfy_read_footer(f.data, f.len, &ft, &need, err, sizeof err) == DP_ERR_INVALID);
    CHECK(strstr(err, "backwards") != NULL);
    dp_buf_fini(&f);
}

static vfy_object_t obj(uint32_t topic, int32_t partition, int64_t start, int64_t end) {
    vfy_object_t o;
    memset(&o, 0, sizeof o);
    o.topic = topic, o.partition = partition, o.start = start, o.end = end;
    o.name = (uint32_t)start; /* tells objects apart after the sort */
    return o;
}

static vfy_facts_t fact(uint32_t topic, int32_t partition, int64_t lo, int64_t hi,
                        int64_t committed) {
    vfy_facts_t f = {topic, partition, lo, hi, committed};
    return f;
}

/* checked: mark every verifiable range read, with the given offsets as
 * the data records Kafka holds in them */
static void kafka_says(vfy_plan_t *pl, const int64_t *data, size_t n) {
    for (size_t i = 0; i < pl->nranges; i++) {
        vfy_range_t *r = &pl->ranges[i];
        if (r->unverified != VFY_UNV_NONE) continue;
        for (size_t k = 0; k < n; k++) vfy_range_note(r, data[k], 1);
        vfy_range_note(r, r->from, 0); /* a tombstone or marker counts for nothing */
        r->checked = 1;
    }
}

/* the usual case: files with transaction markers between them, complete */
static void test_plan_complete(void) {
    vfy_object_t o[] = {obj(0, 0, 11, 19), obj(0, 0, 0, 9), obj(0, 0, 20, 29)};
    vfy_facts_t f[] = {fact(0, 0, 0, 40, 31)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 3, f, 1);
    CHECK_EQ_INT(pl.nparts, 1);
    CHECK_EQ_INT(o[0].start, 0); /* sorted in place */
    CHECK_EQ_INT(pl.noverlaps, 0);
    CHECK_EQ_INT(pl.nranges, 2);
    CHECK_EQ_INT(pl.ranges[0].kind, VFY_GAP_BETWEEN);
    CHECK_EQ_INT(pl.ranges[0].from, 10);
    CHECK_EQ_INT(pl.ranges[0].to, 10);
    CHECK_EQ_INT(pl.ranges[0].before, 0);
    CHECK_EQ_INT(pl.ranges[0].after, 1);
    CHECK_EQ_INT(pl.ranges[1].kind, VFY_GAP_AFTER_LAST);
    CHECK_EQ_INT(pl.ranges[1].from, 30);
    CHECK_EQ_INT(pl.ranges[1].to, 30);
    CHECK_EQ_INT(pl.ranges[1].before, 2);
    CHECK_EQ_INT(pl.ranges[1].after, VFY_NONE);
    kafka_says(&pl, NULL, 0);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK(v.complete);
    CHECK_EQ_INT(v.gaps, 0);
    CHECK_EQ_INT(v.unverified, 0);
    CHECK_EQ_INT(pl.parts[0].first_offset, 0);
    CHECK_EQ_INT(pl.parts[0].last_offset, 29);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    CHECK_EQ_INT(pl.parts[0].behind, 10);
    vfy_plan_fini(&pl);

    /* a foreign object alone makes it incomplete */
    vfy_plan_build(&pl, o, 3, f, 1);
    kafka_says(&pl, NULL, 0);
    vfy_plan_finish(&pl, f, 1, &v);
    CHECK(!v.complete);
    CHECK_EQ_INT(v.foreign, 1);
    vfy_plan_fini(&pl);
}

/* a deleted object: the gap holds data records Kafka still has */
static void test_plan_gap(void) {
    vfy_object_t o[] = {obj(0, 2, 0, 9), obj(0, 2, 30, 39)};
    vfy_facts_t f[] = {fact(0, 2, 0, 40, 40)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 2, f, 1);
    CHECK_EQ_INT(pl.nranges, 1);
    CHECK_EQ_INT(pl.ranges[0].from, 10);
    CHECK_EQ_INT(pl.ranges[0].to, 29);
    int64_t data[] = {12, 13, 28, 35 /* in an object: not this range's */};
    kafka_says(&pl, data, 4);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK(!v.complete);
    CHECK_EQ_INT(v.gaps, 1);
    CHECK_EQ_INT(v.missing, 3);
    CHECK_EQ_INT(pl.ranges[0].first_data, 12);
    CHECK_EQ_INT(pl.ranges[0].last_data, 28);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    vfy_plan_fini(&pl);
}

/* a copy of an object, and an object inside another: overlaps */
static void test_plan_overlap(void) {
    vfy_object_t o[] = {obj(0, 1, 0, 9), obj(0, 1, 0, 9), obj(0, 1, 10, 29), obj(0, 1, 12, 15),
                        obj(0, 1, 25, 33)};
    vfy_facts_t f[] = {fact(0, 1, 0, 34, 34)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 5, f, 1);
    CHECK_EQ_INT(pl.nranges, 0);
    CHECK_EQ_INT(pl.noverlaps, 3);
    CHECK_EQ_INT(pl.overlaps[0].from, 0);
    CHECK_EQ_INT(pl.overlaps[0].to, 9);
    CHECK(pl.overlaps[0].a != pl.overlaps[0].b);
    CHECK_EQ_INT(pl.overlaps[1].from, 12);
    CHECK_EQ_INT(pl.overlaps[1].to, 15);
    CHECK_EQ_INT(o[pl.overlaps[1].a].start, 10);
    CHECK_EQ_INT(pl.overlaps[2].from, 25);
    CHECK_EQ_INT(pl.overlaps[2].to, 29);
    CHECK_EQ_INT(o[pl.overlaps[2].a].start, 10);
    CHECK_EQ_INT(o[pl.overlaps[2].b].start, 25);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK(!v.complete);
    CHECK_EQ_INT(v.overlaps, 3);
    CHECK_EQ_INT(v.gaps, 0);
    vfy_plan_fini(&pl);
}

/* records before the first object, and committed ones after the last */
static void test_plan_ends(void) {
    vfy_object_t o[] = {obj(0, 0, 5, 9)};
    vfy_facts_t f[] = {fact(0, 0, 0, 50, 20)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 1, f, 1);
    CHECK_EQ_INT(pl.nranges, 2);
    CHECK_EQ_INT(pl.ranges[0].kind, VFY_GAP_BEFORE_FIRST);
    CHECK_EQ_INT(pl.ranges[0].from, 0);
    CHECK_EQ_INT(pl.ranges[0].to, 4);
    CHECK_EQ_INT(pl.ranges[0].before, VFY_NONE);
    CHECK_EQ_INT(pl.ranges[0].after, 0);
    CHECK_EQ_INT(pl.ranges[1].kind, VFY_GAP_AFTER_LAST);
    CHECK_EQ_INT(pl.ranges[1].from, 10);
    CHECK_EQ_INT(pl.ranges[1].to, 19);
    int64_t data[] = {3, 15};
    kafka_says(&pl, data, 2);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK_EQ_INT(v.gaps, 2);
    CHECK_EQ_INT(v.missing, 2);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 0);
    CHECK_EQ_INT(pl.parts[0].behind, 40);
    vfy_plan_fini(&pl);

    /* only tombstones and markers there: complete, committed reached */
    vfy_plan_build(&pl, o, 1, f, 1);
    kafka_says(&pl, NULL, 0);
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK(v.complete);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    vfy_plan_fini(&pl);

    /* an object past the committed offset (uploaded, commit pending): reached */
    vfy_facts_t f2[] = {fact(0, 0, 5, 50, 7)};
    vfy_plan_build(&pl, o, 1, f2, 1);
    CHECK_EQ_INT(pl.nranges, 0);
    vfy_plan_finish(&pl, f2, 0, &v);
    CHECK(v.complete);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    vfy_plan_fini(&pl);
}

/* what Kafka cannot answer for is listed apart and does not fail */
static void test_plan_unverifiable(void) {
    /* retention: log start 15, inside the gap 10..19 */
    vfy_object_t o[] = {obj(0, 0, 0, 9), obj(0, 0, 20, 29), obj(0, 0, 60, 69)};
    vfy_facts_t f[] = {fact(0, 0, 15, 40, -1)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 3, f, 1);
    CHECK_EQ_INT(pl.nranges, 4);
    CHECK_EQ_INT(pl.ranges[0].unverified, VFY_UNV_BELOW_START);
    CHECK_EQ_INT(pl.ranges[0].from, 10);
    CHECK_EQ_INT(pl.ranges[0].to, 14);
    CHECK_EQ_INT(pl.ranges[1].unverified, VFY_UNV_NONE);
    CHECK_EQ_INT(pl.ranges[1].from, 15);
    CHECK_EQ_INT(pl.ranges[1].to, 19);
    /* 30..59: Kafka ends at 40 (a recreated topic?) */
    CHECK_EQ_INT(pl.ranges[2].unverified, VFY_UNV_NONE);
    CHECK_EQ_INT(pl.ranges[2].from, 30);
    CHECK_EQ_INT(pl.ranges[2].to, 39);
    CHECK_EQ_INT(pl.ranges[3].unverified, VFY_UNV_ABOVE_HIGH);
    CHECK_EQ_INT(pl.ranges[3].from, 40);
    CHECK_EQ_INT(pl.ranges[3].to, 59);
    /* no before-first range: the first object starts below the log start */
    kafka_says(&pl, NULL, 0);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK(v.complete);
    CHECK_EQ_INT(v.unverified, 2);
    vfy_plan_fini(&pl);

    /* a range the Kafka check never finished reading */
    vfy_plan_build(&pl, o, 3, f, 1);
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK_EQ_INT(v.unverified, 4);
    CHECK_EQ_INT(pl.ranges[1].unverified, VFY_UNV_UNREAD);
    CHECK(v.complete);
    vfy_plan_fini(&pl);

    /* between objects above the committed offset: in flight, not checked;
     * the part below it is */
    vfy_object_t q[] = {obj(0, 0, 0, 9), obj(0, 0, 20, 29), obj(0, 0, 40, 49)};
    vfy_facts_t fq[] = {fact(0, 0, 0, 60, 15)};
    vfy_plan_build(&pl, q, 3, fq, 1);
    CHECK_EQ_INT(pl.nranges, 3);
    CHECK_EQ_INT(pl.ranges[0].unverified, VFY_UNV_NONE);
    CHECK_EQ_INT(pl.ranges[0].from, 10);
    CHECK_EQ_INT(pl.ranges[0].to, 14);
    CHECK_EQ_INT(pl.ranges[1].unverified, VFY_UNV_IN_FLIGHT);
    CHECK_EQ_INT(pl.ranges[1].from, 15);
    CHECK_EQ_INT(pl.ranges[1].to, 19);
    CHECK_EQ_INT(pl.ranges[2].unverified, VFY_UNV_IN_FLIGHT);
    CHECK_EQ_INT(pl.ranges[2].from, 30);
    CHECK_EQ_INT(pl.ranges[2].to, 39);
    CHECK_EQ_INT(pl.ranges[2].before, 1);
    CHECK_EQ_INT(pl.ranges[2].after, 2);
    int64_t d2[] = {12, 33};
    kafka_says(&pl, d2, 2);
    vfy_plan_finish(&pl, fq, 0, &v);
    CHECK_EQ_INT(v.gaps, 1);
    CHECK_EQ_INT(v.missing, 1);
    CHECK_EQ_INT(v.unverified, 2);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    vfy_plan_fini(&pl);
    /* before the first object, above the committed offset: in flight too */
    vfy_object_t q1[] = {obj(0, 0, 20, 29)};
    vfy_facts_t fq1[] = {fact(0, 0, 0, 60, 15)};
    vfy_plan_build(&pl, q1, 1, fq1, 1);
    CHECK_EQ_INT(pl.nranges, 2);
    CHECK_EQ_INT(pl.ranges[0].kind, VFY_GAP_BEFORE_FIRST);
    CHECK_EQ_INT(pl.ranges[0].unverified, VFY_UNV_NONE);
    CHECK_EQ_INT(pl.ranges[0].to, 14);
    CHECK_EQ_INT(pl.ranges[1].kind, VFY_GAP_BEFORE_FIRST);
    CHECK_EQ_INT(pl.ranges[1].unverified, VFY_UNV_IN_FLIGHT);
    CHECK_EQ_INT(pl.ranges[1].from, 15);
    CHECK_EQ_INT(pl.ranges[1].to, 19);
    vfy_plan_fini(&pl);
    /* without a committed offset (no group) every gap is checked */
    fq[0].committed = -1;
    vfy_plan_build(&pl, q, 3, fq, 1);
    CHECK_EQ_INT(pl.nranges, 2);
    CHECK_EQ_INT(pl.ranges[1].unverified, VFY_UNV_NONE);
    vfy_plan_fini(&pl);

    /* objects of a topic Kafka no longer has */
    vfy_object_t g[] = {obj(1, 0, 0, 9), obj(1, 0, 12, 19)};
    vfy_plan_build(&pl, g, 2, NULL, 0);
    CHECK_EQ_INT(pl.nparts, 1);
    CHECK_EQ_INT(pl.nranges, 1);
    CHECK_EQ_INT(pl.ranges[0].unverified, VFY_UNV_NO_PARTITION);
    vfy_plan_finish(&pl, NULL, 0, &v);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, -1);
    CHECK(v.complete);
    vfy_plan_fini(&pl);
}

/* partitions from either side, interleaved and unsorted */
static void test_plan_parts(void) {
    vfy_object_t o[] = {obj(1, 0, 0, 3), obj(0, 2, 0, 3), obj(0, 0, 4, 7), obj(0, 0, 0, 3)};
    vfy_facts_t f[] = {fact(1, 0, 0, 4, 4), fact(0, 1, 0, 10, 10), fact(0, 0, 0, 8, 8),
                       fact(0, 3, 0, 0, -1), fact(0, 2, 0, 4, 4)};
    vfy_plan_t pl;
    vfy_plan_build(&pl, o, 4, f, 5);
    CHECK_EQ_INT(pl.nparts, 5);
    int32_t want[][3] = {{0, 0, 2}, {0, 1, 0}, {0, 2, 1}, {0, 3, 0}, {1, 0, 1}};
    for (size_t i = 0; i < 5; i++) {
        CHECK_EQ_INT(pl.parts[i].topic, want[i][0]);
        CHECK_EQ_INT(pl.parts[i].partition, want[i][1]);
        CHECK_EQ_INT(pl.parts[i].nobj, want[i][2]);
        CHECK(pl.parts[i].facts != VFY_NONE);
    }
    /* partition 1: nothing archived, ten offsets committed */
    CHECK_EQ_INT(pl.parts[1].nranges, 1);
    vfy_range_t *r = &pl.ranges[pl.parts[1].first_range];
    CHECK_EQ_INT(r->kind, VFY_GAP_AFTER_LAST);
    CHECK_EQ_INT(r->from, 0);
    CHECK_EQ_INT(r->to, 9);
    CHECK_EQ_INT(r->before, VFY_NONE);
    /* partition 3: empty and never committed */
    CHECK_EQ_INT(pl.parts[3].nranges, 0);
    int64_t data[] = {5};
    kafka_says(&pl, data, 1);
    vfy_verdict_t v;
    vfy_plan_finish(&pl, f, 0, &v);
    CHECK_EQ_INT(v.gaps, 1);
    CHECK_EQ_INT(pl.parts[1].reaches_committed, 0);
    CHECK_EQ_INT(pl.parts[1].behind, 10);
    CHECK_EQ_INT(pl.parts[3].reaches_committed, -1);
    CHECK_EQ_INT(pl.parts[0].reaches_committed, 1);
    vfy_plan_fini(&pl);

    /* nothing at all */
    vfy_plan_build(&pl, NULL, 0, NULL, 0);
    CHECK_EQ_INT(pl.nparts, 0);
    vfy_plan_finish(&pl, NULL, 0, &v);
    CHECK(v.complete);
    vfy_plan_fini(&pl);
}

/* ---- rows: the latest state per key ---- */

typedef struct seen {
    int missing, extra, differs;
    char last[128];
} seen_t;

static void on_row(void *ctx, uint32_t table, vfy_row_kind_t kind, const char *key) {
    (void)table;
    seen_t *s = ctx;
    if (kind == VFY_ROW_MISSING)
        s->missing++;
    else if (kind == VFY_ROW_EXTRA)
        s->extra++;
    else
        s->differs++;
    snprintf(s->last, sizeof s->last, "%s", key);
}

static size_t slen(const char *s) { return s ? strlen(s) : 0; }
#define FOLD(st, t, op, lsn, seq, b, a)                                                            \
    vfy_state_fold(st, t, op, lsn, seq, b, slen(b), a, slen(a), err, sizeof err)
#define LIVE(st, t, a, sn) vfy_state_check(st, t, a, strlen(a), on_row, sn, err, sizeof err)

static void test_state_latest(void) {
    char err[256];
    const char *pk[] = {"id"};
    vfy_state_t *st = vfy_state_new();
    uint32_t t = vfy_state_add_table(st, "public", "users", pk, 1);
    CHECK_EQ_INT(vfy_state_table(st, "public", "users"), 0);
    CHECK_EQ_INT(vfy_state_table(st, "public", "nope"), -1);
    /* a snapshot row, then a change whose LSN is lower than the snapshot's
     * (its transaction began before the snapshot): the change is later */
    CHECK_EQ_INT(FOLD(st, t, 'r', 500, 0, NULL, "{\"id\":1,\"name\":\"a\"}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'u', 400, 9, NULL, "{\"id\":1,\"name\":\"b\"}"), DP_OK);
    /* the same record again (an overlap) and an older change: no effect */
    CHECK_EQ_INT(FOLD(st, t, 'u', 400, 9, NULL, "{\"id\":1,\"name\":\"b\"}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 300, 2, NULL, "{\"id\":1,\"name\":\"z\"}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 600, 10, NULL, "{\"id\":2,\"name\":\"c\"}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'd', 700, 11, "{\"id\":2,\"name\":null}", NULL), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 800, 12, NULL, "{\"id\":3,\"name\":\"x\",\"n\":1.5}"), DP_OK);
    seen_t sn = {0};
    /* numbers by value: 1.50 is 1.5 */
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":1,\"name\":\"b\"}", &sn), DP_OK);
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":3,\"name\":\"x\",\"n\":1.50}", &sn), DP_OK);
    CHECK_EQ_INT(sn.missing + sn.differs, 0);
    /* id 2 was deleted: the table's row is missing from the archive */
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":2,\"name\":\"c\"}", &sn), DP_OK);
    CHECK_EQ_INT(sn.missing, 1);
    CHECK_EQ_STR(sn.last, "id=2");
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":4,\"name\":\"q\"}", &sn), DP_OK);
    CHECK_EQ_INT(sn.missing, 2);
    vfy_state_finish_table(st, t, on_row, &sn);
    CHECK_EQ_INT(sn.extra, 0);
    CHECK_EQ_INT(vfy_state_counts(st, t)->keys, 2);
    CHECK_EQ_INT(vfy_state_counts(st, t)->live, 4);
    CHECK_EQ_INT(vfy_state_counts(st, t)->changes, 7);
    vfy_state_free(st);
}

static void test_state_differs(void) {
    char err[256];
    const char *pk[] = {"k", "id"};
    vfy_state_t *st = vfy_state_new();
    uint32_t t = vfy_state_add_table(st, "s", "t", pk, 2);
    CHECK_EQ_INT(FOLD(st, t, 'c', 1, 1, NULL, "{\"id\":1,\"k\":\"a\\\"b\",\"v\":\"x\"}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 2, 2, NULL, "{\"id\":2,\"k\":\"a\",\"v\":\"x\"}"), DP_OK);
    /* an unchanged TOASTed value is not compared */
    CHECK_EQ_INT(FOLD(st, t, 'u', 3, 3, NULL,
                      "{\"id\":2,\"k\":\"a\",\"v\":\"__debezium_unavailable_value\"}"),
                 DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 4, 4, NULL, "{\"id\":3,\"k\":\"a\",\"v\":\"x\"}"), DP_OK);
    seen_t sn = {0};
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":1,\"k\":\"a\\u0022b\",\"v\":\"y\"}", &sn), DP_OK);
    CHECK_EQ_INT(sn.differs, 1);
    CHECK_EQ_STR(sn.last, "k=\"a\\\"b\",id=1");
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":2,\"k\":\"a\",\"v\":\"long text\"}", &sn), DP_OK);
    CHECK_EQ_INT(sn.differs, 1);
    vfy_state_finish_table(st, t, on_row, &sn);
    CHECK_EQ_INT(sn.extra, 1);
    CHECK_EQ_STR(sn.last, "k=\"a\",id=3");
    /* a row without its key column, or not an object */
    CHECK_EQ_INT(FOLD(st, t, 'c', 5, 5, NULL, "{\"id\":9}"), DP_ERR_INVALID);
    CHECK(strstr(err, "\"k\"") != NULL);
    CHECK_EQ_INT(FOLD(st, t, 'c', 5, 5, NULL, "[1]"), DP_ERR_INVALID);
    CHECK_EQ_INT(FOLD(st, t, 'x', 5, 5, NULL, "{}"), DP_ERR_INVALID);
    CHECK_EQ_INT(FOLD(st, t, 'd', 5, 5, NULL, NULL), DP_ERR_INVALID);
    vfy_state_free(st);
}

static void test_state_truncate(void) {
    char err[256];
    const char *pk[] = {"id"};
    vfy_state_t *st = vfy_state_new();
    uint32_t t = vfy_state_add_table(st, "public", "p", pk, 1);
    CHECK_EQ_INT(FOLD(st, t, 'r', 100, 0, NULL, "{\"id\":1}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 200, 1, NULL, "{\"id\":2}"), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 't', 300, 2, NULL, NULL), DP_OK);
    CHECK_EQ_INT(FOLD(st, t, 'c', 400, 3, NULL, "{\"id\":3}"), DP_OK);
    seen_t sn = {0};
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":3}", &sn), DP_OK);
    CHECK_EQ_INT(LIVE(st, t, "{\"id\":1}", &sn), DP_OK);
    CHECK_EQ_INT(sn.missing, 1);
    vfy_state_finish_table(st, t, on_row, &sn);
    CHECK_EQ_INT(sn.extra, 0);
    /* many keys: the table grows and finds them all again */
    for (int i = 10; i < 5000; i++) {
        char row[64];
        snprintf(row, sizeof row, "{\"id\":%d}", i);
        FOLD(st, t, 'c', 1000 + i, i, NULL, row);
    }
    sn = (seen_t){0};
    for (int i = 10; i < 5000; i += 2) {
        char row[64];
        snprintf(row, sizeof row, "{\"id\":%d}", i);
        LIVE(st, t, row, &sn);
    }
    vfy_state_finish_table(st, t, on_row, &sn);
    CHECK_EQ_INT(sn.missing, 0);
    CHECK_EQ_INT(sn.extra, 2495); /* the odd ids; id 3 was seen before */
    vfy_state_free(st);
}

int main(void) {
    test_state_latest();
    test_state_differs();
    test_state_truncate();
    test_strtab();
    test_shape();
    test_keys();
    test_footer();
    test_plan_complete();
    test_plan_gap();
    test_plan_overlap();
    test_plan_ends();
    test_plan_unverifiable();
    test_plan_parts();
    return tl_finish("test_verify");
}
