/* bench_parquet - writer throughput for a typical CDC row.
 *
 * The row: 10 string columns of 10-200 bytes (two low-cardinality ones,
 * op and table, as in a Debezium envelope; JSON-ish before/after images;
 * the rest random text), a timestamp, two int64 and an int32. Rows are
 * generated up front so only the writer is timed; the sink counts bytes.
 *
 * Not built by CMake; build and run optimized, without sanitizers:
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -Isrc -o /tmp/bench_parquet bench/bench_parquet.c
 *       src/parquet/[a-z]*.c src/common/buf.c src/common/err.c src/common/log.c
 *       -lsnappy -lz -lzstd
 *   /tmp/bench_parquet [rows]        (default 300000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/writer.h"

#define NSTR 10
#define POOL_ROWS 65536 /* > PQT_DICT_MAX_ENTRIES: text columns stay PLAIN */

static const pqt_column_def_t cols[] = {
    {"event_timestamp", PQT_TIMESTAMP_MILLIS, 1},
    {"operation_type", PQT_STRING, 0},
    {"table_name", PQT_STRING, 0},
    {"connector_version", PQT_STRING, 1},
    {"database_name", PQT_STRING, 1},
    {"schema_name", PQT_STRING, 1},
    {"before_data", PQT_STRING, 1},
    {"after_data", PQT_STRING, 1},
    {"source_file", PQT_STRING, 1},
    {"kafka_topic", PQT_STRING, 0},
    {"note", PQT_STRING, 1},
    {"transaction_id", PQT_INT64, 1},
    {"kafka_partition", PQT_INT32, 0},
    {"kafka_offset", PQT_INT64, 0},
};
#define NCOLS (sizeof cols / sizeof cols[0])

typedef struct row {
    char *s[NSTR];
    size_t len[NSTR];
} row_t;

static uint64_t rng = 88172645463325252u;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* make_text: n bytes of JSON-looking ASCII text. */
static char *make_text(size_t n) {
    static const char *words[] = {
        "\"id\":", "123",         "\"name\":", "\"alice\"",   ",",        "{",
        "}",       "\"amount\":", "42.50",     "\"status\":", "\"paid\"", "null"};
    char *p = malloc(n + 1);
    size_t k = 0;
    while (k < n) {
        const char *w = words[next() % 12];
        for (; *w && k < n; w++) p[k++] = *w;
    }
    p[n] = 0;
    return p;
}

static size_t total;

static dp_err_t count_sink(void *ctx, const void *data, size_t len, char *errstr, size_t n) {
    (void)ctx, (void)data, (void)errstr, (void)n;
    total += len;
    return DP_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    size_t nrows = argc > 1 ? strtoul(argv[1], NULL, 10) : 300000;
    static const char *ops[] = {"c", "u", "d", "r"};
    static const char *tables[] = {"public.users", "public.orders", "public.line_items",
                                   "billing.invoices", "public.sessions"};
    static row_t pool[POOL_ROWS];
    size_t raw_per_row = 0;
    for (size_t i = 0; i < POOL_ROWS; i++) {
        row_t *r = &pool[i];
        r->s[0] = (char *)ops[next() % 4];
        r->s[1] = (char *)tables[next() % 5];
        r->s[2] = "2.7.3.Final";
        r->s[3] = "inventory";
        r->s[4] = "public";
        r->s[5] = make_text(100 + next() % 101);
        r->s[6] = make_text(100 + next() % 101);
        r->s[7] = make_text(10 + next() % 40);
        r->s[8] = "dbserver1.public.orders";
        r->s[9] = make_text(10 + next() % 191);
        for (int k = 0; k < NSTR; k++) {
            r->len[k] = strlen(r->s[k]);
            raw_per_row += r->len[k];
        }
    }
    raw_per_row = raw_per_row / POOL_ROWS + 8 + 8 + 4 + 8;
    printf("%zu rows, 14 columns, ~%zu bytes of values per row\n", nrows, raw_per_row);
    static const pqt_codec_t codecs[] = {PQT_CODEC_NONE, PQT_CODEC_SNAPPY, PQT_CODEC_GZIP,
                                         PQT_CODEC_ZSTD};
    static const char *names[] = {"none", "snappy", "gzip", "zstd"};
    char err[256];
    for (int c = 0; c < 4; c++) {
        pqt_options_t opt = {codecs[c], 64 << 20, 128 << 20};
        total = 0;
        pqt_writer_t *w = pqt_writer_new(cols, NCOLS, &opt, count_sink, NULL);
        if (!w) return 1;
        double t0 = now_s();
        for (size_t i = 0; i < nrows; i++) {
            const row_t *r = &pool[i % POOL_ROWS];
            pqt_write_int64(w, 0, 1700000000000 + (int64_t)i, err, sizeof err);
            for (int k = 0; k < NSTR; k++)
                pqt_write_bytes(w, 1 + (size_t)k, r->s[k], r->len[k], err, sizeof err);
            if (i % 7 == 0)
                pqt_write_null(w, 11, err, sizeof err);
            else
                pqt_write_int64(w, 11, 5000 + (int64_t)(i / 3), err, sizeof err);
            pqt_write_int32(w, 12, (int32_t)(i % 12), err, sizeof err);
            pqt_write_int64(w, 13, (int64_t)i, err, sizeof err);
            if (pqt_end_row(w, err, sizeof err)) {
                fprintf(stderr, "end_row: %s\n", err);
                return 1;
            }
        }
        if (pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err)) {
            fprintf(stderr, "finish: %s\n", err);
            return 1;
        }
        double dt = now_s() - t0;
        printf("%-7s %9.0f rows/s  %6.1f MB/s of values  %6.1f bytes/row in file\n", names[c],
               (double)nrows / dt, (double)nrows * (double)raw_per_row / dt / 1e6,
               (double)total / (double)nrows);
        pqt_writer_destroy(w);
    }
    return 0;
}
