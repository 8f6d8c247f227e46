/* test_parquet_reader - the Parquet reader and its pieces: the hybrid
 * decoder, the Thrift compact reader and page decompression against
 * their encoders; files of our writer read back value for value (every
 * codec, nulls, dictionary and PLAIN strings, several row groups and
 * pages); files written by pyarrow (tests/unit/data/parquet); refusals
 * that name what is not supported; and truncated or corrupted files,
 * which must fail cleanly and never yield wrong values once CRCs pass. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "parquet/codec.h"
#include "parquet/encoding.h"
#include "parquet/reader.h"
#include "parquet/thrift.h"
#include "parquet/writer.h"
#include "testlib.h"

#define DATA_DIR "tests/unit/data/parquet/"

static const pqt_codec_t codecs[] = {PQT_CODEC_NONE, PQT_CODEC_SNAPPY, PQT_CODEC_GZIP,
                                     PQT_CODEC_ZSTD};

static dp_err_t mem_sink(void *ctx, const void *data, size_t len, char *errstr,
                         size_t errstr_size) {
    dp_err_t err = dp_buf_append(ctx, data, len);
    if (err) return dp_seterr(errstr, errstr_size, err, "memory sink full");
    return DP_OK;
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void) { /* xorshift64* */
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * 0x2545F4914F6CDD1Du;
}

/* ---- the hybrid decoder ---- */

static void test_rle_decode_hand(void) {
    uint8_t out[16];
    uint32_t o32[16];
    /* RLE run of 8 ones, bit width 1 */
    static const uint8_t rle[] = {0x10, 0x01};
    CHECK(pqt_rle_decode_u8(rle, sizeof rle, 1, out, 8) == DP_OK);
    CHECK(out[0] == 1 && out[7] == 1);
    /* one bit-packed group: 0b10101010 -> 0,1,0,1,... */
    static const uint8_t bp[] = {0x03, 0xAA};
    CHECK(pqt_rle_decode_u8(bp, sizeof bp, 1, out, 8) == DP_OK);
    CHECK(out[0] == 0 && out[1] == 1 && out[6] == 0 && out[7] == 1);
    /* fewer values than the run holds; bytes after them are ignored */
    CHECK(pqt_rle_decode_u8(bp, sizeof bp, 1, out, 3) == DP_OK);
    /* a run of 2 groups cut after the bytes holding the values read */
    static const uint8_t cut[] = {0x05, 0xFF};
    CHECK(pqt_rle_decode_u8(cut, sizeof cut, 1, out, 8) == DP_OK);
    CHECK(pqt_rle_decode_u8(cut, sizeof cut, 1, out, 9) == DP_ERR_INVALID);
    /* bit width 0: every value 0, no value bytes */
    static const uint8_t zero[] = {0x10, 0x03};
    CHECK(pqt_rle_decode_u32(zero, sizeof zero, 0, o32, 16) == DP_OK);
    CHECK(o32[0] == 0 && o32[15] == 0);
    /* the runs end before n values, a value too wide, bad widths */
    CHECK(pqt_rle_decode_u8(rle, sizeof rle, 1, out, 9) == DP_ERR_INVALID);
    CHECK(pqt_rle_decode_u8(rle, 1, 1, out, 1) == DP_ERR_INVALID);
    static const uint8_t wide[] = {0x10, 0x02};
    CHECK(pqt_rle_decode_u8(wide, sizeof wide, 1, out, 8) == DP_ERR_INVALID);
    CHECK(pqt_rle_decode_u32(rle, sizeof rle, 33, o32, 1) == DP_ERR_INVALID);
    CHECK(pqt_rle_decode_u8(rle, sizeof rle, 9, out, 1) == DP_ERR_INVALID);
    CHECK(pqt_rle_decode_u8(rle, sizeof rle, -1, out, 1) == DP_ERR_INVALID);
    /* an endless varint header and a zero-length RLE run */
    static const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(pqt_rle_decode_u8(endless, sizeof endless, 1, out, 1) == DP_ERR_INVALID);
    static const uint8_t empty_run[] = {0x00, 0x01, 0x02, 0x01};
    CHECK(pqt_rle_decode_u8(empty_run, sizeof empty_run, 1, out, 1) == DP_OK && out[0] == 1);
    /* n == 0 needs no bytes */
    CHECK(pqt_rle_decode_u32(NULL, 0, 5, o32, 0) == DP_OK);
}

/* test_rle_round_trip: the decoder inverts the encoder for every width. */
static void test_rle_round_trip(void) {
    enum { N = 1500 };
    uint32_t *in = malloc(N * sizeof *in), *back = malloc(N * sizeof *back);
    uint8_t in8[N], back8[N];
    int bad = 0;
    for (int bw = 1; bw <= 32; bw++) {
        for (int shape = 0; shape < 3; shape++) {
            size_t n = 1 + rnd() % N;
            uint64_t mask = bw == 32 ? UINT32_MAX : ((uint64_t)1 << bw) - 1;
            for (size_t i = 0; i < n; i++) {
                uint64_t r = rnd();
                in[i] = (uint32_t)((shape == 0       ? r
                                        : shape == 1 ? (r % 16 == 0 ? r : i / 40)
                                                     : i % 3) &
                                   mask);
                in8[i] = (uint8_t)(in[i] & 0xff & mask);
            }
            dp_buf_t b;
            dp_buf_init(&b, 1 << 20);
            if (pqt_rle_encode_u32(&b, in, n, bw) != DP_OK ||
                pqt_rle_decode_u32(b.data, b.len, bw, back, n) != DP_OK ||
                memcmp(in, back, n * sizeof *in) != 0)
                bad++;
            if (bw <= 8) {
                dp_buf_reset(&b);
                if (pqt_rle_encode_u8(&b, in8, n, bw) != DP_OK ||
                    pqt_rle_decode_u8(b.data, b.len, bw, back8, n) != DP_OK ||
                    memcmp(in8, back8, n) != 0)
                    bad++;
            }
            /* every cut fails, but for the zero padding of the last group (< bw
             * bytes) */
            for (size_t cut = 0; cut < b.len; cut++)
                if (pqt_rle_decode_u32(b.data, cut, bw, back, n) == DP_OK &&
                    cut + (size_t)bw <= b.len)
                    bad++;
            dp_buf_fini(&b);
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(in);
    free(back);
}

/* ---- the Thrift compact reader ---- */

static void test_thrift_read(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 16);
    pqt_thrift_t t;
    pqt_thrift_init(&t, &b);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, -5);
    pqt_thrift_field_i64(&t, 2, INT64_MIN);
    pqt_thrift_field_string(&t, 3, "abc");
    pqt_thrift_field_bool(&t, 4, 1);
    pqt_thrift_field_i16(&t, 40, 7); /* long form header */
    pqt_thrift_field_list(&t, 41, PQT_TC_I32, 20);
    for (int i = 0; i < 20; i++) pqt_thrift_i32(&t, i - 10);
    pqt_thrift_field_struct(&t, 42);
    pqt_thrift_field_bool(&t, 1, 0);
    pqt_thrift_struct_end(&t);
    pqt_thrift_struct_end(&t);
    CHECK(pqt_thrift_error(&t) == DP_OK);

    pqt_trd_t r;
    pqt_trd_init(&r, b.data, b.len);
    int16_t id = 0;
    int type, et;
    int32_t v32;
    int64_t v64;
    const uint8_t *s;
    size_t n;
    uint64_t count;
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 1 && type == PQT_TC_I32);
    CHECK(pqt_trd_i32(&r, &v32) == 0 && v32 == -5);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 2 && type == PQT_TC_I64);
    CHECK(pqt_trd_i64(&r, &v64) == 0 && v64 == INT64_MIN);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 3 && type == PQT_TC_BINARY);
    CHECK(pqt_trd_binary(&r, &s, &n) == 0 && n == 3 && memcmp(s, "abc", 3) == 0);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 4 && type == PQT_TC_TRUE);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 40 && type == PQT_TC_I16);
    CHECK(pqt_trd_i32(&r, &v32) == 0 && v32 == 7);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 41 && type == PQT_TC_LIST);
    CHECK(pqt_trd_list_header(&r, &et, &count) == 0 && et == PQT_TC_I32 && count == 20);
    for (int i = 0; i < 20; i++) CHECK(pqt_trd_i32(&r, &v32) == 0 && v32 == i - 10);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && id == 42 && type == PQT_TC_STRUCT);
    CHECK(pqt_trd_skip(&r, type, 1) == 0);
    CHECK(pqt_trd_field(&r, &id, &type) == 0 && type == PQT_TC_STOP);
    CHECK(r.p == r.end);

    /* the whole struct skips; every cut of it fails */
    pqt_trd_init(&r, b.data, b.len);
    CHECK(pqt_trd_skip(&r, PQT_TC_STRUCT, 0) == 0 && r.p == r.end);
    int bad = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        pqt_trd_init(&r, b.data, cut);
        if (pqt_trd_skip(&r, PQT_TC_STRUCT, 0) == 0) bad++;
    }
    CHECK_EQ_INT(bad, 0);

    /* nesting past the bound, an i32 out of range, an 11-byte varint */
    uint8_t deep[200];
    for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x1C; /* field +1, struct */
    pqt_trd_init(&r, deep, sizeof deep);
    CHECK(pqt_trd_skip(&r, PQT_TC_STRUCT, 0) == -1);
    static const uint8_t big[] = {0x80, 0x80, 0x80, 0x80, 0x10};
    pqt_trd_init(&r, big, sizeof big);
    CHECK(pqt_trd_i32(&r, &v32) == -1);
    static const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01};
    uint64_t u;
    pqt_trd_init(&r, endless, sizeof endless);
    CHECK(pqt_trd_varint(&r, &u) == -1);
    /* a list claiming more elements than bytes */
    static const uint8_t list[] = {0xF5, 0x64, 0x00};
    pqt_trd_init(&r, list, sizeof list);
    CHECK(pqt_trd_list_header(&r, &et, &count) == -1);
    dp_buf_fini(&b);
}

/* ---- codecs ---- */

static void test_decompress(void) {
    enum { N = 5000 };
    uint8_t src[N], back[N + 1];
    for (size_t i = 0; i < N; i++) src[i] = (uint8_t)(i % 7 == 0 ? rnd() : i / 100);
    for (size_t k = 1; k < sizeof codecs / sizeof codecs[0]; k++) {
        pqt_codec_ctx_t c;
        pqt_codec_init(&c, codecs[k]);
        dp_buf_t z;
        dp_buf_init(&z, 1 << 20);
        char err[256];
        CHECK(pqt_codec_compress(&c, src, N, &z, err, sizeof err) == DP_OK);
        CHECK(pqt_codec_decompress(codecs[k], z.data, z.len, back, N, err, sizeof err) == DP_OK);
        CHECK(memcmp(src, back, N) == 0);
        /* a wrong size either way, a cut, garbage */
        CHECK(pqt_codec_decompress(codecs[k], z.data, z.len, back, N - 1, err, sizeof err) ==
              DP_ERR_INVALID);
        CHECK(pqt_codec_decompress(codecs[k], z.data, z.len, back, N + 1, err, sizeof err) ==
              DP_ERR_INVALID);
        CHECK(pqt_codec_decompress(codecs[k], z.data, z.len / 2, back, N, err, sizeof err) ==
              DP_ERR_INVALID);
        CHECK(pqt_codec_decompress(codecs[k], src, 100, back, N, err, sizeof err) ==
              DP_ERR_INVALID);
        /* an empty page */
        dp_buf_reset(&z);
        CHECK(pqt_codec_compress(&c, src, 0, &z, err, sizeof err) == DP_OK);
        CHECK(pqt_codec_decompress(codecs[k], z.data, z.len, back, 0, err, sizeof err) == DP_OK);
        dp_buf_fini(&z);
        pqt_codec_fini(&c);
    }
    char err[256];
    CHECK(pqt_codec_decompress(PQT_CODEC_NONE, src, 10, back, 10, err, sizeof err) == DP_OK);
    CHECK(pqt_codec_decompress(PQT_CODEC_NONE, src, 10, back, 11, err, sizeof err) ==
          DP_ERR_INVALID);
    pqt_codec_t codec;
    CHECK(pqt_codec_from_parquet_id(6, &codec) == 0 && codec == PQT_CODEC_ZSTD);
    CHECK(pqt_codec_from_parquet_id(5, &codec) == -1);
}

/* ---- files of our writer ---- */

enum { C_ID, C_I32, C_TS, C_B, C_S, C_U, C_I32R, C_BR, NCOLS };
static const pqt_column_def_t cols[NCOLS] = {
    {"id", PQT_INT64, 0},   {"i32", PQT_INT32, 1},  {"ts", PQT_TIMESTAMP_MILLIS, 1},
    {"b", PQT_BOOLEAN, 1},  {"s", PQT_STRING, 1},   {"u", PQT_STRING, 0},
    {"i32r", PQT_INT32, 0}, {"br", PQT_BOOLEAN, 0},
};

/* The value of every column at row i: returns 0 for a null; strings go
 * to buf, integers to *v. */
static int gen(int col, int64_t i, int64_t *v, char *buf, size_t *len) {
    switch (col) {
    case C_ID: *v = i; return 1;
    case C_I32: *v = (int32_t)(uint32_t)((uint64_t)i * 2654435761u); return i % 7 != 3;
    case C_TS: *v = i % 13 == 5 ? -i : INT64_C(1700000000000) + i * 1000; return i % 11 != 0;
    case C_B: *v = i % 3 == 0; return i % 5 != 4;
    case C_S: /* few distinct values, one of them empty: a dictionary chunk */
        *len = i % 17 == 0 ? 0 : (size_t)snprintf(buf, 64, "cat-%d", (int)(i % 17));
        return i % 4 != 1;
    case C_U: /* distinct and long: PLAIN; every 1000th empty */
        *len = i % 1000 == 999
            ? 0
            : (size_t)snprintf(buf, 128, "unique-%08" PRId64 "-%.*s", i, (int)(i % 50),
                               "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        return 1;
    case C_I32R: *v = i % 100 == 0 ? INT32_MIN : i % 100 == 1 ? INT32_MAX : -i; return 1;
    case C_BR: *v = (i / 3) % 2; return 1;
    }
    return 0;
}

/* write_file: rows rows of cols with codec into out. */
static void write_file(dp_buf_t *out, pqt_codec_t codec, int64_t rows, size_t row_group_bytes) {
    pqt_options_t opt = {codec, row_group_bytes, 0};
    pqt_writer_t *w = pqt_writer_new(cols, NCOLS, &opt, mem_sink, out);
    char err[256], buf[128];
    for (int64_t i = 0; i < rows; i++) {
        for (int c = 0; c < NCOLS; c++) {
            int64_t v = 0;
            size_t len = 0;
            if (!gen(c, i, &v, buf, &len))
                pqt_write_null(w, (size_t)c, err, sizeof err);
            else if (cols[c].type == PQT_STRING)
                pqt_write_bytes(w, (size_t)c, buf, len, err, sizeof err);
            else if (cols[c].type == PQT_INT32)
                pqt_write_int32(w, (size_t)c, (int32_t)v, err, sizeof err);
            else if (cols[c].type == PQT_BOOLEAN)
                pqt_write_bool(w, (size_t)c, (int)v, err, sizeof err);
            else
                pqt_write_int64(w, (size_t)c, v, err, sizeof err);
        }
        if (pqt_end_row(w, err, sizeof err) != DP_OK) fprintf(stderr, "end_row: %s\n", err);
    }
    const char *key = "k", *val = "v";
    CHECK(pqt_writer_finish(w, &key, &val, 1, err, sizeof err) == DP_OK);
    pqt_writer_destroy(w);
}

/* column_bad: rows of c that differ from gen(). */
static int64_t column_bad(int col, const pqt_column_t *c) {
    int64_t bad = 0;
    char buf[128];
    for (size_t i = 0; i < c->n; i++) {
        int64_t v = 0;
        size_t len = 0;
        int present = gen(col, (int64_t)i, &v, buf, &len);
        if (c->null[i] != !present) {
            bad++;
        } else if (!present) {
            continue;
        } else if (cols[col].type == PQT_STRING) {
            if (!c->off || c->len[i] != len || memcmp(c->bytes.data + c->off[i], buf, len) != 0)
                bad++;
        } else if (!c->i64 || c->i64[i] != v) {
            bad++;
        }
    }
    return bad;
}

/* check_file: the schema and every value of a file from write_file. */
static void check_file(const dp_buf_t *b, int64_t rows, const char *label) {
    pqt_file_t *f = NULL;
    char err[256];
    if (pqt_file_open(&f, b->data, b->len, err, sizeof err) != DP_OK) {
        fprintf(stderr, "%s: open: %s\n", label, err);
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(pqt_file_rows(f), rows);
    CHECK_EQ_INT(pqt_file_ncols(f), NCOLS);
    for (int c = 0; c < NCOLS; c++) {
        CHECK_EQ_STR(pqt_file_col_name(f, (size_t)c), cols[c].name);
        CHECK_EQ_INT(pqt_file_col_type(f, (size_t)c), cols[c].type);
        CHECK_EQ_INT(pqt_file_col_nullable(f, (size_t)c), cols[c].nullable);
        CHECK_EQ_INT(pqt_file_col_index(f, cols[c].name), c);
        pqt_column_t col;
        if (pqt_column_read(f, (size_t)c, &col, err, sizeof err) != DP_OK) {
            fprintf(stderr, "%s: column %s: %s\n", label, cols[c].name, err);
            CHECK(0);
            continue;
        }
        CHECK_EQ_INT(col.n, rows);
        int64_t bad = column_bad(c, &col);
        if (bad) fprintf(stderr, "%s: column %s: %" PRId64 " bad rows\n", label, cols[c].name, bad);
        CHECK_EQ_INT(bad, 0);
        /* a dictionary chunk keeps each distinct string once */
        if (c == C_S && rows > 1000) CHECK(col.bytes.len < 100 * pqt_file_ngroups(f));
        if (c == C_U && rows > 1000) CHECK(col.bytes.len > (size_t)rows * 16);
        pqt_column_fini(&col);
    }
    CHECK_EQ_INT(pqt_file_col_index(f, "nope"), -1);
    pqt_column_t col;
    CHECK(pqt_column_read(f, NCOLS, &col, err, sizeof err) == DP_ERR_INVALID);
    CHECK(col.n == 0 && col.null == NULL);
    pqt_file_close(f);
}

/* test_round_trip: 70000 rows in row groups of more than 20000 rows
 * (several pages each), every codec. */
static void test_round_trip(void) {
    const int64_t rows = 70000;
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        dp_buf_t b;
        dp_buf_init(&b, (size_t)1 << 30);
        write_file(&b, codecs[k], rows, (size_t)3 << 20);
        pqt_file_t *f = NULL;
        char err[256];
        CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
        if (f) {
            size_t g = pqt_file_ngroups(f);
            CHECK(g >= 2 && rows / (int64_t)g > 20000);
            pqt_file_close(f);
        }
        check_file(&b, rows, pqt_codec_name(codecs[k]));
        dp_buf_fini(&b);
    }
}

/* test_small_files: a few rows, no rows, one row group of all nulls. */
static void test_small_files(void) {
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        for (int64_t rows = 0; rows < 40; rows += 13) {
            dp_buf_t b;
            dp_buf_init(&b, 1 << 24);
            write_file(&b, codecs[k], rows, 0);
            check_file(&b, rows, "small");
            dp_buf_fini(&b);
        }
    }
    /* the writer's most compact chunks (a nullable column of nulls only,
     * a one-value dictionary: ~650 rows a byte) stay within
     * PQT_READ_MAX_ROWS_PER_BYTE; and a nullable column without nulls */
    static const pqt_column_def_t nc[] = {
        {"n", PQT_STRING, 1}, {"x", PQT_INT64, 1}, {"d", PQT_STRING, 0}};
    dp_buf_t b;
    dp_buf_init(&b, 1 << 24);
    pqt_writer_t *w = pqt_writer_new(nc, 3, NULL, mem_sink, &b);
    char err[256];
    for (int i = 0; i < 60000; i++) {
        pqt_write_null(w, 0, err, sizeof err);
        pqt_write_int64(w, 1, i, err, sizeof err);
        pqt_write_bytes(w, 2, "x", 1, err, sizeof err);
        pqt_end_row(w, err, sizeof err);
    }
    CHECK(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err) == DP_OK);
    pqt_writer_destroy(w);
    pqt_file_t *f;
    pqt_column_t c0, c1, c2;
    CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
    CHECK(pqt_column_read(f, 0, &c0, err, sizeof err) == DP_OK);
    CHECK(pqt_column_read(f, 1, &c1, err, sizeof err) == DP_OK);
    CHECK(pqt_column_read(f, 2, &c2, err, sizeof err) == DP_OK);
    int bad = 0;
    for (size_t i = 0; i < 60000; i++)
        bad += !c0.null[i] || c0.len[i] != 0 || c1.null[i] || c1.i64[i] != (int64_t)i ||
            c2.null[i] || c2.len[i] != 1 || c2.bytes.data[c2.off[i]] != 'x';
    CHECK_EQ_INT(bad, 0);
    CHECK(c2.bytes.len == 1); /* the dictionary entry, once */
    pqt_column_fini(&c0);
    pqt_column_fini(&c1);
    pqt_column_fini(&c1); /* twice is harmless */
    pqt_column_fini(&c2);
    pqt_file_close(f);
    pqt_file_close(NULL);
    dp_buf_fini(&b);
}

/* ---- files of pyarrow ---- */

static int load(const char *name, dp_buf_t *b) {
    char path[256];
    snprintf(path, sizeof path, DATA_DIR "%s", name);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    uint8_t tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0) dp_buf_append(b, tmp, n);
    fclose(fp);
    return 0;
}

/* read_col: column name of f, or a failed CHECK. */
static int read_col(pqt_file_t *f, const char *name, pqt_column_t *c) {
    char err[256];
    int i = pqt_file_col_index(f, name);
    if (i < 0 || pqt_column_read(f, (size_t)i, c, err, sizeof err) != DP_OK) {
        fprintf(stderr, "column %s: %s\n", name, i < 0 ? "missing" : err);
        CHECK(0);
        return -1;
    }
    CHECK_EQ_INT(c->n, 5);
    return 0;
}

static void check_ints(pqt_file_t *f, const char *name, const int64_t *want, const uint8_t *null) {
    pqt_column_t c;
    if (read_col(f, name, &c)) return;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(c.null[i], null[i]);
        if (!null[i]) CHECK_EQ_INT(c.i64[i], want[i]);
    }
    pqt_column_fini(&c);
}

static void check_pyarrow(const char *name) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    if (load(name, &b)) {
        CHECK(0);
        return;
    }
    pqt_file_t *f;
    char err[256];
    CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
    if (!f) {
        fprintf(stderr, "%s: %s\n", name, err);
        dp_buf_fini(&b);
        return;
    }
    CHECK_EQ_INT(pqt_file_rows(f), 5);
    CHECK_EQ_INT(pqt_file_ncols(f), 6);
    CHECK_EQ_INT(pqt_file_col_type(f, 1), PQT_INT32);
    CHECK_EQ_INT(pqt_file_col_type(f, 2), PQT_STRING);
    CHECK_EQ_INT(pqt_file_col_type(f, 4), PQT_TIMESTAMP_MILLIS);
    CHECK_EQ_INT(pqt_file_col_nullable(f, 0), 0);
    static const uint8_t none[5] = {0}, third[5] = {0, 0, 1, 0, 0}, second[5] = {0, 1, 0, 0, 0};
    static const int64_t id[] = {1, 2, 3, 4, 5};
    static const int64_t n[] = {10, 0, -3, INT32_MAX, INT32_MIN};
    static const int64_t bo[] = {1, 0, 0, 1, 0};
    static const int64_t ts[] = {0, INT64_C(1700000000123), 0, -1, 86400000};
    static const int64_t big[] = {INT64_MIN, INT64_MAX, 0, 0, 42};
    check_ints(f, "id", id, none);
    check_ints(f, "n", n, second);
    check_ints(f, "b", bo, third);
    check_ints(f, "ts", ts, third);
    check_ints(f, "big", big, third);
    pqt_column_t c;
    if (!read_col(f, "s", &c)) {
        static const char *const want[] = {"a", "", NULL, "h\xc3\xa9llo",
                                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
        for (int i = 0; i < 5; i++) {
            CHECK_EQ_INT(c.null[i], want[i] == NULL);
            if (want[i]) CHECK_EQ_MEM(c.bytes.data + c.off[i], c.len[i], want[i], strlen(want[i]));
        }
        pqt_column_fini(&c);
    }
    pqt_file_close(f);
    dp_buf_fini(&b);
}

/* refused: name fails to open or to read, with an error naming what. */
static void refused(const uint8_t *data, size_t len, const char *what, const char *label) {
    pqt_file_t *f = NULL;
    char err[256] = "";
    dp_err_t e = pqt_file_open(&f, data, len, err, sizeof err);
    for (size_t i = 0; !e && i < pqt_file_ncols(f); i++) {
        pqt_column_t c;
        e = pqt_column_read(f, i, &c, err, sizeof err);
        pqt_column_fini(&c);
    }
    pqt_file_close(f);
    CHECK_EQ_INT(e, DP_ERR_INVALID);
    if (!strstr(err, what)) fprintf(stderr, "%s: \"%s\" does not name %s\n", label, err, what);
    CHECK(strstr(err, what) != NULL);
}

static void test_pyarrow(void) {
    check_pyarrow("pa_plain.parquet");
    check_pyarrow("pa_dict_snappy.parquet");
    static const struct {
        const char *file, *what;
    } refusals[] = {{"pa_v2.parquet", "DATA_PAGE_V2"},
                    {"pa_lz4.parquet", "LZ4"},
                    {"pa_delta.parquet", "DELTA_BINARY_PACKED"},
                    {"pa_nested.parquet", "nested"}};
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        dp_buf_t b;
        dp_buf_init(&b, 1 << 20);
        CHECK(load(refusals[i].file, &b) == 0);
        refused(b.data, b.len, refusals[i].what, refusals[i].file);
        dp_buf_fini(&b);
    }
}

/* ---- hand-made files ---- */

/* What craft() changes in a good file of one REQUIRED INT32 column "v"
 * holding 7, -8, 9 in one PLAIN data page; with dict set, a dictionary
 * page of those values comes first and the data page holds indices. */
typedef struct craft {
    int ptype, rep, page_type, encoding, codec, nested, groups, dict;
    int64_t rows, comp_extra, unc;
    const char *file_path;
} craft_t;

static const craft_t good = {1, 0, 0, 0, 0, 0, 1, 0, 3, 0, -1, NULL};

static const uint8_t plain3[12] = {7, 0, 0, 0, 0xf8, 0xff, 0xff, 0xff, 9, 0, 0, 0};
/* bit width 2, one bit-packed group: 0, 1, 2 */
static const uint8_t idx3[4] = {0x02, 0x03, 0x24, 0x00};

static void craft_dict_page(dp_buf_t *out) {
    pqt_thrift_t t;
    pqt_thrift_init(&t, out);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, 2);
    pqt_thrift_field_i32(&t, 2, (int32_t)sizeof plain3);
    pqt_thrift_field_i32(&t, 3, (int32_t)sizeof plain3);
    pqt_thrift_field_struct(&t, 7);
    pqt_thrift_field_i32(&t, 1, 3);
    pqt_thrift_field_i32(&t, 2, 2);
    pqt_thrift_struct_end(&t);
    pqt_thrift_struct_end(&t);
    dp_buf_append(out, plain3, sizeof plain3);
}

/* craft_page: the pages; returns the data page's offset. */
static int64_t craft_page(dp_buf_t *out, const craft_t *k) {
    const uint8_t *body = k->dict ? idx3 : plain3;
    int32_t len = k->dict ? (int32_t)sizeof idx3 : (int32_t)sizeof plain3;
    if (k->dict) craft_dict_page(out);
    int64_t data_at = (int64_t)out->len;
    pqt_thrift_t t;
    pqt_thrift_init(&t, out);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, k->page_type);
    pqt_thrift_field_i32(&t, 2, k->unc >= 0 ? (int32_t)k->unc : len);
    pqt_thrift_field_i32(&t, 3, len);
    if (k->page_type == 3) {
        pqt_thrift_field_struct(&t, 8); /* DataPageHeaderV2 */
        pqt_thrift_field_i32(&t, 1, 3);
        pqt_thrift_field_i32(&t, 2, 0);
        pqt_thrift_field_i32(&t, 3, 3);
        pqt_thrift_field_i32(&t, 4, k->encoding);
        pqt_thrift_field_i32(&t, 5, 0);
        pqt_thrift_field_i32(&t, 6, 0);
    } else {
        pqt_thrift_field_struct(&t, 5);
        pqt_thrift_field_i32(&t, 1, 3);
        pqt_thrift_field_i32(&t, 2, k->dict ? 8 : k->encoding);
        pqt_thrift_field_i32(&t, 3, 3);
        pqt_thrift_field_i32(&t, 4, 3);
    }
    pqt_thrift_struct_end(&t);
    pqt_thrift_struct_end(&t);
    dp_buf_append(out, body, (size_t)len);
    return data_at;
}

static void craft_schema(pqt_thrift_t *t, const craft_t *k) {
    pqt_thrift_field_list(t, 2, PQT_TC_STRUCT, k->nested ? 3 : 2);
    pqt_thrift_struct_begin(t);
    pqt_thrift_field_string(t, 4, "schema");
    pqt_thrift_field_i32(t, 5, 1);
    pqt_thrift_struct_end(t);
    if (k->nested) {
        pqt_thrift_struct_begin(t);
        pqt_thrift_field_i32(t, 3, 0);
        pqt_thrift_field_string(t, 4, "g");
        pqt_thrift_field_i32(t, 5, 1);
        pqt_thrift_struct_end(t);
    }
    pqt_thrift_struct_begin(t);
    pqt_thrift_field_i32(t, 1, k->ptype);
    pqt_thrift_field_i32(t, 3, k->rep);
    pqt_thrift_field_string(t, 4, "v");
    pqt_thrift_struct_end(t);
}

/* craft: "PAR1", the page, FileMetaData, its length, "PAR1". */
static void craft(dp_buf_t *out, const craft_t *k) {
    dp_buf_reset(out);
    dp_buf_append(out, "PAR1", 4);
    int64_t data_at = craft_page(out, k);
    int64_t page_len = (int64_t)out->len - 4;
    size_t footer = out->len;
    pqt_thrift_t t;
    pqt_thrift_init(&t, out);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, 1);
    craft_schema(&t, k);
    pqt_thrift_field_i64(&t, 3, k->rows * k->groups);
    pqt_thrift_field_list(&t, 4, PQT_TC_STRUCT, (size_t)k->groups);
    for (int g = 0; g < k->groups; g++) { /* extra row groups share the chunk */
        pqt_thrift_struct_begin(&t);
        pqt_thrift_field_list(&t, 1, PQT_TC_STRUCT, 1);
        pqt_thrift_struct_begin(&t);
        if (k->file_path) pqt_thrift_field_string(&t, 1, k->file_path);
        pqt_thrift_field_i64(&t, 2, 0);
        pqt_thrift_field_struct(&t, 3);
        pqt_thrift_field_i32(&t, 1, k->ptype);
        pqt_thrift_field_list(&t, 2, PQT_TC_I32, 1);
        pqt_thrift_i32(&t, 0);
        pqt_thrift_field_list(&t, 3, PQT_TC_BINARY, 1);
        pqt_thrift_string(&t, "v");
        pqt_thrift_field_i32(&t, 4, k->codec);
        pqt_thrift_field_i64(&t, 5, k->rows);
        pqt_thrift_field_i64(&t, 6, page_len);
        pqt_thrift_field_i64(&t, 7, page_len + k->comp_extra);
        pqt_thrift_field_i64(&t, 9, data_at);
        if (k->dict) pqt_thrift_field_i64(&t, 11, 4);
        pqt_thrift_struct_end(&t);
        pqt_thrift_struct_end(&t);
        pqt_thrift_field_i64(&t, 2, page_len);
        pqt_thrift_field_i64(&t, 3, k->rows);
        pqt_thrift_struct_end(&t);
    }
    pqt_thrift_struct_end(&t);
    CHECK(pqt_thrift_error(&t) == DP_OK);
    uint32_t flen = (uint32_t)(out->len - footer);
    uint8_t tail[8] = {(uint8_t)flen,
                       (uint8_t)(flen >> 8),
                       (uint8_t)(flen >> 16),
                       (uint8_t)(flen >> 24),
                       'P',
                       'A',
                       'R',
                       '1'};
    dp_buf_append(out, tail, 8);
}

static void test_crafted(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 16);
    craft(&b, &good);
    pqt_file_t *f;
    pqt_column_t c;
    char err[256];
    CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
    CHECK(pqt_column_read(f, 0, &c, err, sizeof err) == DP_OK);
    CHECK(c.n == 3 && c.i64[0] == 7 && c.i64[1] == -8 && c.i64[2] == 9);
    pqt_column_fini(&c);
    pqt_file_close(f);
    craft_t k = good;
    k.dict = 1; /* the same values through an INT32 dictionary */
    craft(&b, &k);
    CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
    CHECK(pqt_column_read(f, 0, &c, err, sizeof err) == DP_OK);
    CHECK(c.n == 3 && c.i64[0] == 7 && c.i64[1] == -8 && c.i64[2] == 9);
    pqt_column_fini(&c);
    pqt_file_close(f);
    k.ptype = 0;
    craft(&b, &k);
    refused(b.data, b.len, "dictionary page for BOOLEAN", "bool dict");

#define REFUSE(field, value, what)                                                                 \
    do {                                                                                           \
        k = good;                                                                                  \
        k.field = value;                                                                           \
        craft(&b, &k);                                                                             \
        refused(b.data, b.len, what, #field "=" #value);                                           \
    } while (0)
    REFUSE(rep, 2, "repeated column \"v\"");
    REFUSE(ptype, 3, "INT96");
    REFUSE(ptype, 5, "DOUBLE");
    REFUSE(nested, 1, "nested schema");
    REFUSE(page_type, 3, "DATA_PAGE_V2");
    REFUSE(page_type, 9, "page type 9");
    REFUSE(encoding, 5, "DELTA_BINARY_PACKED");
    REFUSE(encoding, 7, "DELTA_BYTE_ARRAY");
    REFUSE(encoding, 9, "BYTE_STREAM_SPLIT");
    REFUSE(encoding, 2, "without a dictionary page");
    REFUSE(codec, 3, "LZO");
    REFUSE(codec, 4, "BROTLI");
    REFUSE(codec, 7, "LZ4_RAW");
    REFUSE(file_path, "other.parquet", "file_path");
    REFUSE(rows, 4, "ends after 3 of 4 values");
    REFUSE(rows, 2, "3 values, 2 left");
    REFUSE(rows, (int64_t)1 << 40, "over the limit");
    REFUSE(rows, 100000, "100000 values in");
    REFUSE(comp_extra, 1000, "outside the data");
    REFUSE(groups, 2, "overlap");
    REFUSE(unc, 13, "says it holds 13");
    k = good;
    k.codec = 1; /* snappy page that claims 1 MiB from 12 bytes */
    k.unc = 1 << 20;
    craft(&b, &k);
    refused(b.data, b.len, "over the limit", "snappy ratio");
    k.codec = 2;
    k.unc = 12;
    craft(&b, &k);
    refused(b.data, b.len, "gzip data is corrupt", "not gzip");
#undef REFUSE
    /* not Parquet at all, encrypted, a footer longer than the file */
    refused((const uint8_t *)"PAR1", 4, "too short", "short");
    refused((const uint8_t *)"PAR1xxxxxxxxPARE", 16, "encrypted", "PARE");
    refused((const uint8_t *)"PAR1xxxxxxxxPAR2", 16, "no PAR1 at the end", "PAR2");
    refused((const uint8_t *)"PAR0xxxxxxxxPAR1", 16, "no PAR1 at the start", "PAR0");
    refused((const uint8_t *)"PAR1xxxx\x05\x00\x00\x00PAR1", 16, "footer length 5", "flen");
    refused((const uint8_t *)"PAR1xxxx\x00\x00\x00\x00PAR1", 16, "not a readable FileMetaData",
            "empty");
    dp_buf_fini(&b);
}

/* ---- damaged files ---- */

/* read_all: open and read every column; DP_OK only when all succeed. With
 * want set, also compare every value with want's columns. */
static dp_err_t read_all(const uint8_t *data, size_t len, int crc, pqt_column_t *cols_out,
                         int *differs) {
    pqt_file_t *f = NULL;
    char err[256];
    dp_err_t e = pqt_file_open(&f, data, len, err, sizeof err);
    if (e) return e;
    pqt_file_set_crc_check(f, crc);
    for (size_t i = 0; !e && i < pqt_file_ncols(f); i++) {
        pqt_column_t c;
        e = pqt_column_read(f, i, &c, err, sizeof err);
        if (!e && cols_out && differs) {
            const pqt_column_t *w = &cols_out[i];
            if (pqt_file_ncols(f) != NCOLS || c.n != w->n) {
                *differs = 1;
            } else {
                for (size_t r = 0; r < c.n; r++) {
                    if (c.null[r] != w->null[r] || (c.i64 && c.i64[r] != w->i64[r]) ||
                        (c.off &&
                         (c.len[r] != w->len[r] ||
                          memcmp(c.bytes.data + c.off[r], w->bytes.data + w->off[r], c.len[r]) !=
                              0)))
                        *differs = 1;
                }
            }
        }
        pqt_column_fini(&c);
    }
    pqt_file_close(f);
    return e;
}

/* test_damage: small files of each codec cut at every length, cut in the
 * data with the footer kept, and with every byte flipped: errors, never a
 * crash; with CRCs checked, a flip in the pages never changes a value. */
static void test_damage(void) {
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        dp_buf_t b;
        dp_buf_init(&b, 1 << 20);
        write_file(&b, codecs[k], 30, 0);
        pqt_column_t want[NCOLS];
        pqt_file_t *f;
        char err[256];
        CHECK(pqt_file_open(&f, b.data, b.len, err, sizeof err) == DP_OK);
        for (size_t i = 0; i < NCOLS; i++)
            CHECK(pqt_column_read(f, i, &want[i], err, sizeof err) == DP_OK);
        pqt_file_close(f);
        size_t flen = (size_t)b.data[b.len - 8] | (size_t)b.data[b.len - 7] << 8;
        size_t data_end = b.len - 8 - flen;
        int bad_cut = 0, bad_hole = 0, silent = 0, flips_failed = 0;
        uint8_t *copy = malloc(b.len);
        for (size_t cut = 0; cut < b.len; cut++) {
            memcpy(copy, b.data, cut);
            if (read_all(copy, cut, 1, NULL, NULL) == DP_OK) bad_cut++;
        }
        for (size_t keep = 0; keep < data_end; keep++) { /* data[0..keep) + the footer */
            memcpy(copy, b.data, keep);
            memcpy(copy + keep, b.data + data_end, b.len - data_end);
            if (read_all(copy, keep + b.len - data_end, 1, NULL, NULL) == DP_OK) bad_hole++;
        }
        static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
        for (size_t pos = 0; pos < b.len; pos++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(copy, b.data, b.len);
                copy[pos] ^= masks[m];
                int differs = 0;
                dp_err_t e = read_all(copy, b.len, 1, want, &differs);
                if (e) flips_failed++;
                if (!e && differs && pos >= 4 && pos < data_end) silent++;
                read_all(copy, b.len, 0, NULL, NULL); /* no crc: the decoders see it */
            }
        }
        CHECK_EQ_INT(bad_cut, 0);
        CHECK_EQ_INT(bad_hole, 0);
        CHECK_EQ_INT(silent, 0);
        CHECK(flips_failed > (int)b.len); /* most flips are caught */
        free(copy);
        for (size_t i = 0; i < NCOLS; i++) pqt_column_fini(&want[i]);
        dp_buf_fini(&b);
    }
}

int main(void) {
    test_rle_decode_hand();
    test_rle_round_trip();
    test_thrift_read();
    test_decompress();
    test_small_files();
    test_round_trip();
    test_pyarrow();
    test_crafted();
    test_damage();
    return tl_finish("parquet_reader");
}
