/* test_parquet - the Parquet writer's pieces against hand-computed bytes
 * (varints, zigzag, Thrift compact field headers, the RLE/bit-packed
 * hybrid), the file frame (magic, footer length), the row contract
 * (one value per column, discarded rows) and the memory bound.
 *
 * With DP_PARQUET_OUT_DIR set it also writes sample files there, each
 * NAME.parquet with a NAME.json describing exactly the rows it holds,
 * for tests/integration/test_parquet_readback.py. DP_PARQUET_SEEDS
 * (comma-separated, default "1,2,3") picks the seeds of the random files. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "parquet/encoding.h"
#include "parquet/thrift.h"
#include "parquet/writer.h"
#include "testlib.h"

/* ---- helpers ---- */

/* mem_sink: append to the dp_buf_t ctx. */
static dp_err_t mem_sink(void *ctx, const void *data, size_t len, char *errstr,
                         size_t errstr_size) {
    dp_err_t err = dp_buf_append(ctx, data, len);
    if (err) return dp_seterr(errstr, errstr_size, err, "memory sink full");
    return DP_OK;
}

/* failing_sink: accepts *ctx bytes in total, then fails with DP_ERR_IO. */
static dp_err_t failing_sink(void *ctx, const void *data, size_t len, char *errstr,
                             size_t errstr_size) {
    (void)data;
    size_t *left = ctx;
    if (len > *left) return dp_seterr(errstr, errstr_size, DP_ERR_IO, "disk full (test)");
    *left -= len;
    return DP_OK;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* rle_decode: a straightforward reader of the hybrid encoding, to check
 * the encoder by round trip; returns the number of values decoded (at
 * most n), or -1 on malformed input. */
static long rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n) {
    size_t pos = 0, got = 0;
    while (got < n && pos < len) {
        uint64_t hdr = 0;
        int shift = 0;
        for (;;) {
            if (pos >= len || shift > 56) return -1;
            uint8_t b = p[pos++];
            hdr |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80)) break;
        }
        if (hdr & 1) {
            size_t count = (size_t)(hdr >> 1) * 8;
            size_t nbytes = (size_t)(hdr >> 1) * (size_t)bw;
            if (pos + nbytes > len) return -1;
            for (size_t i = 0; i < count; i++) {
                uint32_t v = 0;
                for (int b = 0; b < bw; b++) {
                    size_t bit = i * (size_t)bw + (size_t)b;
                    if (p[pos + bit / 8] >> (bit % 8) & 1) v |= 1u << b;
                }
                if (got < n) out[got++] = v;
            }
            pos += nbytes;
        } else {
            size_t count = (size_t)(hdr >> 1);
            int nb = (bw + 7) / 8;
            if (pos + (size_t)nb > len) return -1;
            uint32_t v = 0;
            for (int b = 0; b < nb; b++) v |= (uint32_t)p[pos + (size_t)b] << (8 * b);
            pos += (size_t)nb;
            for (size_t i = 0; i < count && got < n; i++) out[got++] = v;
        }
    }
    return (long)got;
}

/* prng: splitmix64, deterministic across platforms. */
typedef struct prng {
    uint64_t s;
} prng_t;

static uint64_t rnd(prng_t *r) {
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* rnd_below: uniform-enough integer in [0, n), n > 0. */
static uint64_t rnd_below(prng_t *r, uint64_t n) { return rnd(r) % n; }

/* ---- varint, zigzag, thrift ---- */

static void test_varint_zigzag(void) {
    uint8_t b[10];
    CHECK_EQ_INT(pqt_varint_encode(0, b), 1);
    CHECK_EQ_INT(b[0], 0);
    CHECK_EQ_INT(pqt_varint_encode(127, b), 1);
    CHECK_EQ_INT(b[0], 0x7f);
    CHECK_EQ_INT(pqt_varint_encode(128, b), 2);
    CHECK_EQ_MEM(b, 2, "\x80\x01", 2);
    CHECK_EQ_INT(pqt_varint_encode(300, b), 2);
    CHECK_EQ_MEM(b, 2, "\xac\x02", 2);
    CHECK_EQ_INT(pqt_varint_encode(UINT64_MAX, b), 10);
    CHECK_EQ_MEM(b, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);

    CHECK_EQ_INT(pqt_zigzag32(0), 0);
    CHECK_EQ_INT(pqt_zigzag32(-1), 1);
    CHECK_EQ_INT(pqt_zigzag32(1), 2);
    CHECK_EQ_INT(pqt_zigzag32(-2), 3);
    CHECK_EQ_INT(pqt_zigzag32(INT32_MAX), 0xfffffffeu);
    CHECK_EQ_INT(pqt_zigzag32(INT32_MIN), 0xffffffffu);
    CHECK(pqt_zigzag64(INT64_MAX) == UINT64_C(0xfffffffffffffffe));
    CHECK(pqt_zigzag64(INT64_MIN) == UINT64_MAX);
    CHECK(pqt_zigzag64(-3) == 5);
}

static void test_thrift_fields(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1024);
    pqt_thrift_t t;
    pqt_thrift_init(&t, &b);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, 1); /* 15 02: delta 1, type 5, zigzag(1) = 2 */
    pqt_thrift_field_i64(&t, 3, -1); /* 26 01: delta 2, type 6, zigzag(-1) = 1 */
    pqt_thrift_field_binary(&t, 4, "ab", 2); /* 18 02 61 62 */
    pqt_thrift_field_bool(&t, 5, 1); /* 11 */
    pqt_thrift_field_bool(&t, 6, 0); /* 12 */
    pqt_thrift_field_i32(&t, 30, 150); /* 05 3c ac 02: long form, zigzag(30) = 60 */
    pqt_thrift_field_struct(&t, 31); /* 1c: nested struct, ids restart */
    pqt_thrift_field_i16(&t, 1, -2); /* 14 03 */
    pqt_thrift_struct_end(&t); /* 00 */
    pqt_thrift_field_list(&t, 32, PQT_TC_I32, 3); /* 19 35 */
    pqt_thrift_i32(&t, 0);
    pqt_thrift_i32(&t, -64); /* 7f */
    pqt_thrift_i32(&t, 64); /* 80 01 */
    pqt_thrift_field_list(&t, 33, PQT_TC_BINARY, 15); /* 19 f8 0f */
    for (int i = 0; i < 15; i++) pqt_thrift_string(&t, "");
    pqt_thrift_field_list(&t, 34, PQT_TC_BOOL_ELEM, 2); /* 19 21 01 02 */
    pqt_thrift_bool(&t, 1);
    pqt_thrift_bool(&t, 0);
    pqt_thrift_struct_end(&t);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_OK);
    static const uint8_t want[] = {0x15, 0x02, 0x26, 0x01, 0x18, 0x02, 'a',  'b',  0x11, 0x12,
                                   0x05, 0x3c, 0xac, 0x02, 0x1c, 0x14, 0x03, 0x00, 0x19, 0x35,
                                   0x00, 0x7f, 0x80, 0x01, 0x19, 0xf8, 0x0f, 0,    0,    0,
                                   0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
                                   0,    0,    0x19, 0x21, 0x01, 0x02, 0x00};
    CHECK_EQ_MEM(b.data, b.len, want, sizeof want);

    /* field ids must increase; the error is sticky and writes nothing more */
    dp_buf_reset(&b);
    pqt_thrift_init(&t, &b);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 2, 0);
    pqt_thrift_field_i32(&t, 2, 0);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_ERR_INVALID);
    size_t len = b.len;
    pqt_thrift_field_i32(&t, 3, 0);
    CHECK_EQ_INT(b.len, len);
    /* a field outside any struct, and a struct_end too many */
    pqt_thrift_init(&t, &b);
    pqt_thrift_field_i32(&t, 1, 0);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_ERR_INVALID);
    pqt_thrift_init(&t, &b);
    pqt_thrift_struct_end(&t);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_ERR_INVALID);
    dp_buf_fini(&b);

    /* the output bound: exactly full is fine, one more byte is NOMEM */
    dp_buf_init(&b, 4);
    pqt_thrift_init(&t, &b);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_binary(&t, 1, "ab", 2);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_OK);
    CHECK_EQ_INT(b.len, 4);
    pqt_thrift_struct_end(&t);
    CHECK_EQ_INT(pqt_thrift_error(&t), DP_ERR_NOMEM);
    dp_buf_fini(&b);
}

/* ---- RLE/bit-packed hybrid ---- */

static void test_rle_hand_computed(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    /* Encodings.md example: 0..7 at bit width 3 */
    uint8_t seq[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, seq, 8, 3), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\x03\x88\xc6\xfa", 4);

    /* 100 ones: one RLE run, header varint(200) */
    uint8_t ones[100];
    memset(ones, 1, sizeof ones);
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, ones, 100, 1), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\xc8\x01\x01", 3);

    /* 10 alternating-ish values: 2 bit-packed groups, last one padded */
    uint8_t alt[10] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 1};
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, alt, 10, 1), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\x05\x55\x03", 3);

    /* 3 zeros then 20 ones: one bit-packed group, then RLE of the 15 left */
    uint8_t mix[23] = {0, 0, 0};
    memset(mix + 3, 1, 20);
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, mix, 23, 1), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\x03\xf8\x1e\x01", 4);

    /* a 10-bit RLE value takes 2 bytes, little endian */
    uint32_t wide[9];
    for (int i = 0; i < 9; i++) wide[i] = 513;
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_rle_encode_u32(&b, wide, 9, 10), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\x12\x01\x02", 3);

    /* empty input encodes to nothing */
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, seq, 0, 1), DP_OK);
    CHECK_EQ_INT(b.len, 0);

    /* values must fit the width; widths are 1..32 */
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, seq, 8, 2), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, seq, 8, 0), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_rle_encode_u32(&b, wide, 9, 33), DP_ERR_INVALID);

    /* booleans: LSB first, zero padded */
    uint8_t bools[10] = {1, 1, 0, 0, 0, 0, 0, 1, 0, 7};
    dp_buf_reset(&b);
    CHECK_EQ_INT(pqt_bitpack_bools(&b, bools, 10), DP_OK);
    CHECK_EQ_MEM(b.data, b.len, "\x83\x02", 2);

    CHECK_EQ_INT(pqt_bit_width(0), 1);
    CHECK_EQ_INT(pqt_bit_width(1), 1);
    CHECK_EQ_INT(pqt_bit_width(2), 2);
    CHECK_EQ_INT(pqt_bit_width(255), 8);
    CHECK_EQ_INT(pqt_bit_width(256), 9);
    CHECK_EQ_INT(pqt_bit_width(UINT32_MAX), 32);
    dp_buf_fini(&b);

    /* the output bound is honoured */
    dp_buf_init(&b, 2);
    CHECK_EQ_INT(pqt_rle_encode_u8(&b, seq, 8, 3), DP_ERR_NOMEM);
    dp_buf_fini(&b);
}

static void test_rle_round_trip(void) {
    prng_t r = {7};
    dp_buf_t b;
    dp_buf_init(&b, 1 << 22);
    enum { N = 5000 };
    static uint32_t in[N], out[N];
    int ok = 1;
    for (int iter = 0; iter < 200; iter++) {
        int bw = 1 + (int)rnd_below(&r, 32);
        size_t n = (size_t)rnd_below(&r, N);
        uint64_t mask = bw == 32 ? UINT32_MAX : (UINT64_C(1) << bw) - 1;
        for (size_t i = 0; i < n;) { /* runs of random length, to mix both run kinds */
            uint32_t v = (uint32_t)(rnd(&r) & mask);
            size_t len = 1 + (size_t)rnd_below(&r, rnd_below(&r, 2) ? 3 : 40);
            for (size_t k = 0; k < len && i < n; k++)
                in[i++] = rnd_below(&r, 4) ? v : (uint32_t)(rnd(&r) & mask);
        }
        dp_buf_reset(&b);
        if (pqt_rle_encode_u32(&b, in, n, bw) != DP_OK) ok = 0;
        long got = rle_decode(b.data, b.len, bw, out, n);
        if (got != (long)n || (n && memcmp(in, out, n * sizeof *in) != 0)) {
            ok = 0;
            fprintf(stderr, "rle round trip failed: iter %d bw %d n %zu got %ld\n", iter, bw, n,
                    got);
        }
    }
    CHECK(ok);
    dp_buf_fini(&b);
}

/* ---- the writer ---- */

static const pqt_column_def_t small_cols[] = {
    {"id", PQT_INT64, 0},
    {"name", PQT_STRING, 1},
    {"ok", PQT_BOOLEAN, 1},
};

/* write_small_row: id, name (NULL for null), ok, the way the archive
 * module writes rows: only pqt_end_row is checked. */
static dp_err_t write_small_row(pqt_writer_t *w, int64_t id, const char *name, int ok, char *err,
                                size_t n) {
    pqt_write_int64(w, 0, id, err, n);
    if (name)
        pqt_write_bytes(w, 1, name, strlen(name), err, n);
    else
        pqt_write_null(w, 1, err, n);
    pqt_write_bool(w, 2, ok, err, n);
    return pqt_end_row(w, err, n);
}

static void test_tiny_file_frame(void) {
    dp_buf_t out;
    dp_buf_init(&out, 1 << 20);
    char err[256] = "";
    pqt_options_t opt = {PQT_CODEC_SNAPPY, 1 << 20, 2 << 20};
    pqt_writer_t *w = pqt_writer_new(small_cols, 3, &opt, mem_sink, &out);
    CHECK(w != NULL);
    CHECK_EQ_INT(write_small_row(w, 1, "a", 1, err, sizeof err), DP_OK);
    CHECK_EQ_INT(write_small_row(w, -5, NULL, 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(write_small_row(w, INT64_MAX, "", 1, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_rows(w), 3);
    CHECK_EQ_INT(pqt_writer_bytes_written(w), 0); /* nothing until a flush */
    CHECK(pqt_writer_buffered_bytes(w) > 0);
    const char *keys[] = {"k1", "k2"}, *vals[] = {"v1", NULL};
    CHECK_EQ_INT(pqt_writer_finish(w, keys, vals, 2, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_bytes_written(w), out.len);
    CHECK(out.len > 12);
    CHECK_EQ_MEM(out.data, 4, "PAR1", 4);
    CHECK_EQ_MEM(out.data + out.len - 4, 4, "PAR1", 4);
    uint32_t flen = le32(out.data + out.len - 8);
    CHECK(flen > 0 && flen <= out.len - 12);
    /* the footer is a FileMetaData: field 1 (version, i32) = 1 first, stop byte last */
    const uint8_t *footer = out.data + out.len - 8 - flen;
    CHECK_EQ_MEM(footer, 2, "\x15\x02", 2);
    CHECK_EQ_INT(footer[flen - 1], 0);
    CHECK(memmem(footer, flen, "datapipe", 8) != NULL);
    CHECK(memmem(footer, flen, "k2", 2) != NULL);
    /* finished: no more rows, no second finish */
    CHECK_EQ_INT(pqt_write_int64(w, 0, 1, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_ERR_INVALID);
    pqt_writer_destroy(w);
    pqt_writer_destroy(NULL);
    dp_buf_fini(&out);
}

static void test_empty_file(void) {
    dp_buf_t out;
    dp_buf_init(&out, 1 << 20);
    char err[256];
    pqt_writer_t *w = pqt_writer_new(small_cols, 3, NULL, mem_sink, &out);
    CHECK(w != NULL);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_OK);
    CHECK_EQ_MEM(out.data, 4, "PAR1", 4);
    CHECK_EQ_MEM(out.data + out.len - 4, 4, "PAR1", 4);
    CHECK_EQ_INT(le32(out.data + out.len - 8), out.len - 12);
    CHECK_EQ_INT(pqt_writer_rows(w), 0);
    pqt_writer_destroy(w);
    dp_buf_fini(&out);
}

static void test_row_contract(void) {
    dp_buf_t out;
    dp_buf_init(&out, 1 << 20);
    char err[256] = "";
    pqt_writer_t *w = pqt_writer_new(small_cols, 3, NULL, mem_sink, &out);
    CHECK(w != NULL);
    CHECK_EQ_INT(write_small_row(w, 1, "x", 1, err, sizeof err), DP_OK);
    size_t before = pqt_writer_buffered_bytes(w);

    /* missing column: error names it, the partial row is gone */
    CHECK_EQ_INT(pqt_write_int64(w, 0, 2, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_write_bool(w, 2, 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"name\" has no value in this row");
    CHECK_EQ_INT(pqt_writer_rows(w), 1);
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), before);

    /* a value twice fails the row: it is dropped at once, later writes in
     * it return the same error, end_row reports it once more and ends it */
    CHECK_EQ_INT(pqt_write_int64(w, 0, 3, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_write_int64(w, 0, 3, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" already has a value in this row");
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), before);
    err[0] = 0;
    CHECK_EQ_INT(pqt_write_bytes(w, 1, "late", 4, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" already has a value in this row");
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), before);
    err[0] = 0;
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" already has a value in this row");
    CHECK_EQ_INT(pqt_writer_rows(w), 1);

    /* wrong type, null in a required column, bad index, NULL bytes */
    CHECK_EQ_INT(pqt_write_int32(w, 0, 3, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" is int64");
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" is int64");
    CHECK_EQ_INT(pqt_write_null(w, 0, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" is not nullable");
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_write_bool(w, 3, 1, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column 3 out of range (3 columns)");
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_write_int64(w, 0, 3, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_write_bytes(w, 1, NULL, 5, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "string value of 5 bytes at NULL");
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), before);
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_writer_rows(w), 1);
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), before);

    /* an empty row is a row with every value missing */
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "column \"id\" has no value in this row");

    /* after the errors a whole row still goes in */
    CHECK_EQ_INT(write_small_row(w, 4, "y", 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_rows(w), 2);
    /* an empty string may come as NULL, 0; columns in any order */
    CHECK_EQ_INT(pqt_write_bool(w, 2, 1, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_write_bytes(w, 1, NULL, 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_write_int64(w, 0, 9, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_rows(w), 3);

    /* finish with a row in progress (or a failed one) fails and drops the
     * row, then works */
    CHECK_EQ_INT(pqt_write_int64(w, 0, 5, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "row in progress at finish");
    CHECK_EQ_INT(pqt_write_null(w, 0, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_STR(err, "row in progress at finish");
    const char *nokey[] = {NULL};
    CHECK_EQ_INT(pqt_writer_finish(w, nokey, NULL, 1, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_rows(w), 3);
    pqt_writer_destroy(w);

    /* NULL writer and bad schemas / options */
    CHECK_EQ_INT(pqt_end_row(NULL, err, sizeof err), DP_ERR_INVALID);
    CHECK(pqt_writer_new(small_cols, 0, NULL, mem_sink, &out) == NULL);
    CHECK(pqt_writer_new(small_cols, 3, NULL, NULL, &out) == NULL);
    pqt_column_def_t dup[] = {{"a", PQT_INT32, 0}, {"a", PQT_INT64, 0}};
    CHECK(pqt_writer_new(dup, 2, NULL, mem_sink, &out) == NULL);
    pqt_column_def_t noname[] = {{"", PQT_INT32, 0}};
    CHECK(pqt_writer_new(noname, 1, NULL, mem_sink, &out) == NULL);
    pqt_column_def_t badtype[] = {{"a", (pqt_type_t)42, 0}};
    CHECK(pqt_writer_new(badtype, 1, NULL, mem_sink, &out) == NULL);
    pqt_options_t small_max = {PQT_CODEC_NONE, 1000, 999};
    CHECK(pqt_writer_new(small_cols, 3, &small_max, mem_sink, &out) == NULL);
    pqt_options_t huge_max = {PQT_CODEC_NONE, 1000, PQT_MAX_BUFFER_BYTES + 1};
    CHECK(pqt_writer_new(small_cols, 3, &huge_max, mem_sink, &out) == NULL);
    pqt_options_t badcodec = {(pqt_codec_t)9, 0, 0};
    CHECK(pqt_writer_new(small_cols, 3, &badcodec, mem_sink, &out) == NULL);
    dp_buf_fini(&out);
}

static void test_memory_bound(void) {
    dp_buf_t out;
    dp_buf_init(&out, 1 << 24);
    char err[256] = "";
    /* row groups flush at 4 KiB, the hard bound is 8 KiB */
    pqt_options_t opt = {PQT_CODEC_ZSTD, 4096, 8192};
    pqt_writer_t *w = pqt_writer_new(small_cols, 3, &opt, mem_sink, &out);
    CHECK(w != NULL);
    char big[9000];
    memset(big, 'z', sizeof big);

    /* a row of exactly the bound fits (id 8, name 4 + len + 1 def, ok 1 + 1 def
     * = 15 + len bytes), one byte more does not and leaves nothing behind */
    size_t room = 8192 - 15;
    big[room + 1] = 0;
    CHECK_EQ_INT(write_small_row(w, 1, big, 1, err, sizeof err), DP_ERR_NOMEM);
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), 0);
    CHECK_EQ_INT(pqt_writer_rows(w), 0);
    big[room + 1] = 'z';
    big[room] = 0;
    CHECK_EQ_INT(write_small_row(w, 1, big, 1, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), 0); /* 8192 >= 4096: flushed */
    CHECK(pqt_writer_bytes_written(w) > 0);
    big[room] = 'z';
    /* a single value over the bound fails on its own; end_row repeats it */
    CHECK_EQ_INT(pqt_write_bytes(w, 1, big, sizeof big, err, sizeof err), DP_ERR_NOMEM);
    CHECK_EQ_INT(pqt_writer_buffered_bytes(w), 0);
    CHECK_EQ_INT(pqt_end_row(w, err, sizeof err), DP_ERR_NOMEM);
    CHECK(strstr(err, "max_buffer_bytes 8192") != NULL);

    /* many rows: buffered never exceeds the bound, row groups keep flushing */
    size_t peak = 0;
    int ok = 1;
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(i * 37) % 3000;
        big[len] = 0;
        if (write_small_row(w, i, big, i & 1, err, sizeof err) != DP_OK) ok = 0;
        big[len] = 'z';
        if (pqt_writer_buffered_bytes(w) > peak) peak = pqt_writer_buffered_bytes(w);
    }
    CHECK(ok);
    CHECK(peak <= 8192);
    CHECK(peak < 4096 + 3000 + 32);

    /* a row that crosses the bound mid-row flushes the completed rows first */
    pqt_writer_destroy(w);
    dp_buf_reset(&out);
    pqt_options_t tight = {PQT_CODEC_NONE, 8192, 8192};
    w = pqt_writer_new(small_cols, 3, &tight, mem_sink, &out);
    CHECK(w != NULL);
    big[5000] = 0;
    CHECK_EQ_INT(write_small_row(w, 1, big, 1, err, sizeof err), DP_OK);
    CHECK_EQ_INT(pqt_writer_bytes_written(w), 0);
    CHECK_EQ_INT(write_small_row(w, 2, big, 1, err, sizeof err), DP_OK);
    CHECK(pqt_writer_bytes_written(w) > 5000);
    CHECK_EQ_INT(pqt_writer_rows(w), 2);
    CHECK(pqt_writer_buffered_bytes(w) > 5000);
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_OK);
    pqt_writer_destroy(w);
    dp_buf_fini(&out);
}

static void test_sink_failure_is_sticky(void) {
    char err[256] = "";
    size_t left = 100; /* the magic and not much more */
    pqt_options_t opt = {PQT_CODEC_GZIP, 1024, 4096};
    pqt_writer_t *w = pqt_writer_new(small_cols, 3, &opt, failing_sink, &left);
    CHECK(w != NULL);
    dp_err_t e = DP_OK;
    for (int i = 0; i < 1000 && e == DP_OK; i++)
        e = write_small_row(w, i, "some text value", 1, err, sizeof err);
    CHECK_EQ_INT(e, DP_ERR_IO);
    CHECK_EQ_STR(err, "disk full (test)");
    err[0] = 0;
    CHECK_EQ_INT(pqt_write_int64(w, 0, 1, err, sizeof err), DP_ERR_IO);
    CHECK_EQ_STR(err, "disk full (test)");
    CHECK_EQ_INT(pqt_writer_finish(w, NULL, NULL, 0, err, sizeof err), DP_ERR_IO);
    pqt_writer_destroy(w);
}

/* ---- sample files for the readback test ---- */

typedef struct outf {
    FILE *f;
    int failed;
} outf_t;

static dp_err_t file_sink(void *ctx, const void *data, size_t len, char *errstr,
                          size_t errstr_size) {
    outf_t *o = ctx;
    if (fwrite(data, 1, len, o->f) != len) {
        o->failed = 1;
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "write failed: %s", strerror(errno));
    }
    return DP_OK;
}

/* json_string: s[0..n) as a JSON string; control characters escaped,
 * everything else (including non-ASCII UTF-8) copied raw. */
static void json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (ch < 0x20)
                fprintf(f, "\\u%04x", ch);
            else
                fputc(ch, f);
        }
    }
    fputc('"', f);
}

/* put_utf8: append code point cp as UTF-8. */
static size_t put_utf8(char *p, uint32_t cp) {
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | cp >> 12);
        p[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | cp >> 18);
    p[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    p[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#define HUGE_LEN (300 * 1024)

/* rnd_string: a random valid UTF-8 string into buf (HUGE_LEN + 4 bytes):
 * empty, short, medium or (with probability 1/huge_one_in) ~300 KB, mixing
 * ASCII, quotes, backslashes, control characters, NULs and 2/3/4-byte
 * characters. Returns its length in bytes. */
static size_t rnd_string(prng_t *r, char *buf, unsigned huge_one_in) {
    static const uint32_t pool[] = {'a',  'b',   'Z',    '0',    ' ',    '"',     '\\',
                                    '/',  '\n',  '\t',   0x01,   0x1f,   0x00,    0x7f,
                                    0xe9, 0x3b1, 0x20ac, 0x4e2d, 0xfffd, 0x1f600, 0x10ffff};
    size_t target;
    uint64_t k = rnd_below(r, 100);
    if (huge_one_in && rnd_below(r, huge_one_in) == 0)
        target = HUGE_LEN - 8 + rnd_below(r, 8);
    else if (k < 10)
        target = 0;
    else if (k < 60)
        target = 1 + rnd_below(r, 12);
    else
        target = 10 + rnd_below(r, 190);
    size_t n = 0;
    int ascii_only = rnd_below(r, 3) == 0;
    while (n < target) {
        uint32_t cp = ascii_only ? (uint32_t)('a' + rnd_below(r, 26))
                                 : pool[rnd_below(r, sizeof pool / sizeof pool[0])];
        n += put_utf8(buf + n, cp);
    }
    return n;
}

static int64_t rnd_i64(prng_t *r) {
    switch (rnd_below(r, 8)) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return 0;
    case 3: return -1 - (int64_t)rnd_below(r, 1000);
    case 4: return (int64_t)rnd_below(r, 1000);
    default: return (int64_t)rnd(r);
    }
}

static int32_t rnd_i32(prng_t *r) {
    switch (rnd_below(r, 8)) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return 0;
    case 3: return -1 - (int32_t)rnd_below(r, 1000);
    case 4: return (int32_t)rnd_below(r, 1000);
    default: return (int32_t)(uint32_t)rnd(r);
    }
}

/* A sample file: its schema, how rows are made, and what the readback
 * test should expect beyond the rows. */
enum gen { G_ID, G_I32, G_I64, G_BOOL, G_TS, G_STR, G_OP, G_TABLE, G_UNIQ, G_NULL, G_TEXT };

typedef struct sample_col {
    pqt_column_def_t def;
    enum gen gen;
} sample_col_t;

typedef struct sample {
    const char *name;
    const sample_col_t *cols;
    size_t ncols;
    pqt_codec_t codec;
    size_t nrows, row_group_bytes;
    uint64_t seed;
    unsigned huge_one_in; /* 0: no huge strings */
    unsigned null_pct; /* chance of null in nullable columns */
    const char *expect_json; /* extra "expect" object members, JSON */
    size_t max_buffer_bytes; /* 0: 2 * row_group_bytes + HUGE_LEN */
} sample_t;

static const sample_col_t random_cols[] = {
    {{"id", PQT_INT64, 0}, G_ID},
    {{"i32", PQT_INT32, 1}, G_I32},
    {{"i32_req", PQT_INT32, 0}, G_I32},
    {{"i64", PQT_INT64, 1}, G_I64},
    {{"flag", PQT_BOOLEAN, 1}, G_BOOL},
    {{"b_req", PQT_BOOLEAN, 0}, G_BOOL},
    {{"ts", PQT_TIMESTAMP_MILLIS, 1}, G_TS},
    {{"ts_req", PQT_TIMESTAMP_MILLIS, 0}, G_TS},
    {{"s", PQT_STRING, 1}, G_STR},
    {{"s_req", PQT_STRING, 0}, G_STR},
    {{"op", PQT_STRING, 0}, G_OP},
    {{"always_null", PQT_INT32, 1}, G_NULL},
};

static const sample_col_t dict_cols[] = {
    {{"id", PQT_INT64, 0}, G_ID},        {{"op", PQT_STRING, 0}, G_OP},
    {{"tbl", PQT_STRING, 1}, G_TABLE},   {{"uniq", PQT_STRING, 0}, G_UNIQ},
    {{"payload", PQT_STRING, 1}, G_STR},
};

static const sample_col_t page_cols[] = {
    {{"id", PQT_INT64, 0}, G_ID},
    {{"flag", PQT_BOOLEAN, 1}, G_BOOL},
    {{"txt", PQT_STRING, 1}, G_TEXT},
    {{"n", PQT_INT32, 0}, G_I32},
};

static const char *codec_label(pqt_codec_t c) {
    switch (c) {
    case PQT_CODEC_NONE: return "none";
    case PQT_CODEC_SNAPPY: return "snappy";
    case PQT_CODEC_GZIP: return "gzip";
    case PQT_CODEC_ZSTD: return "zstd";
    }
    return "?";
}

static const char *type_label(pqt_type_t t) {
    switch (t) {
    case PQT_BOOLEAN: return "bool";
    case PQT_INT32: return "int32";
    case PQT_INT64: return "int64";
    case PQT_STRING: return "string";
    case PQT_TIMESTAMP_MILLIS: return "timestamp_ms_utc";
    }
    return "?";
}

/* write_sample: NAME.parquet and NAME.json in dir; 0 on success. */
static int write_sample(const char *dir, const sample_t *s) {
    static char strbuf[HUGE_LEN + 8];
    static const char *const ops[] = {"c", "u", "d", "r"};
    static const char *const tables[] = {"public.users", "public.orders", "public.line_items",
                                         "billing.invoices", "audit.\xc3\xa9v\xc3\xa9nements"};
    char path[4096], err[256] = "";
    prng_t r = {s->seed};
    outf_t pf = {NULL, 0};
    FILE *jf = NULL;
    pqt_writer_t *w = NULL;
    pqt_column_def_t defs[16];
    int rc = -1;

    for (size_t i = 0; i < s->ncols; i++) defs[i] = s->cols[i].def;
    snprintf(path, sizeof path, "%s/%s.parquet", dir, s->name);
    if (!(pf.f = fopen(path, "wb"))) goto out;
    snprintf(path, sizeof path, "%s/%s.json", dir, s->name);
    if (!(jf = fopen(path, "w"))) goto out;
    size_t max = s->max_buffer_bytes ? s->max_buffer_bytes : 2 * s->row_group_bytes + HUGE_LEN;
    pqt_options_t opt = {s->codec, s->row_group_bytes, max};
    if (!(w = pqt_writer_new(defs, s->ncols, &opt, file_sink, &pf))) goto out;

    fprintf(jf,
            "{\"file\": \"%s.parquet\", \"codec\": \"%s\", \"seed\": %" PRIu64
            ", \"row_group_bytes\": %zu,\n \"columns\": [",
            s->name, codec_label(s->codec), s->seed, s->row_group_bytes);
    for (size_t i = 0; i < s->ncols; i++)
        fprintf(jf, "%s{\"name\": \"%s\", \"type\": \"%s\", \"nullable\": %s}", i ? ", " : "",
                defs[i].name, type_label(defs[i].type), defs[i].nullable ? "true" : "false");
    fprintf(jf, "],\n \"expect\": {%s},\n \"rows\": [\n", s->expect_json ? s->expect_json : "");

    for (size_t row = 0; row < s->nrows; row++) {
        fputs(row ? ",\n[" : "[", jf);
        for (size_t c = 0; c < s->ncols; c++) {
            dp_err_t e = DP_OK;
            if (c) fputs(", ", jf);
            enum gen g = s->cols[c].gen;
            int is_null =
                g == G_NULL || (defs[c].nullable && g != G_ID && rnd_below(&r, 100) < s->null_pct);
            if (is_null) {
                e = pqt_write_null(w, c, err, sizeof err);
                fputs("null", jf);
            } else if (g == G_ID) {
                e = pqt_write_int64(w, c, (int64_t)row, err, sizeof err);
                fprintf(jf, "%zu", row);
            } else if (g == G_I32) {
                int32_t v = rnd_i32(&r);
                e = pqt_write_int32(w, c, v, err, sizeof err);
                fprintf(jf, "%" PRId32, v);
            } else if (g == G_I64) {
                int64_t v = rnd_i64(&r);
                e = pqt_write_int64(w, c, v, err, sizeof err);
                fprintf(jf, "%" PRId64, v);
            } else if (g == G_TS) {
                /* -2e12 .. 4e12 ms: 1906 .. 2096 */
                int64_t v =
                    (int64_t)rnd_below(&r, UINT64_C(6000000000000)) - INT64_C(2000000000000);
                e = pqt_write_int64(w, c, v, err, sizeof err);
                fprintf(jf, "%" PRId64, v);
            } else if (g == G_BOOL) {
                int v = (int)rnd_below(&r, 2);
                e = pqt_write_bool(w, c, v, err, sizeof err);
                fputs(v ? "true" : "false", jf);
            } else {
                const char *p = strbuf;
                size_t n;
                if (g == G_OP) {
                    p = ops[rnd_below(&r, 4)];
                    n = strlen(p);
                } else if (g == G_TABLE) {
                    p = tables[rnd_below(&r, 5)];
                    n = strlen(p);
                } else if (g == G_UNIQ) {
                    n = (size_t)snprintf(strbuf, sizeof strbuf, "key-%zu-%016" PRIx64, row,
                                         rnd(&r));
                } else if (g == G_TEXT) {
                    n = 60 + rnd_below(&r, 60);
                    for (size_t k = 0; k < n; k++) strbuf[k] = (char)('a' + rnd_below(&r, 26));
                } else {
                    n = rnd_string(&r, strbuf, s->huge_one_in);
                }
                e = pqt_write_bytes(w, c, p, n, err, sizeof err);
                json_string(jf, p, n);
            }
            if (e) {
                fprintf(stderr, "%s: row %zu column %zu: %s\n", s->name, row, c, err);
                goto out;
            }
        }
        fputc(']', jf);
        if (pqt_end_row(w, err, sizeof err)) {
            fprintf(stderr, "%s: end_row %zu: %s\n", s->name, row, err);
            goto out;
        }
    }
    char seedstr[32];
    snprintf(seedstr, sizeof seedstr, "%" PRIu64, s->seed);
    const char *keys[] = {"datapipe.file", "datapipe.seed", "k\xc3\xa9y \xe2\x9c\x93"};
    const char *vals[] = {s->name, seedstr, "v\xc3\xa4lue\n\"quoted\""};
    if (pqt_writer_finish(w, keys, vals, 3, err, sizeof err)) {
        fprintf(stderr, "%s: finish: %s\n", s->name, err);
        goto out;
    }
    fputs("],\n \"kv\": {", jf);
    for (int i = 0; i < 3; i++) {
        if (i) fputs(", ", jf);
        json_string(jf, keys[i], strlen(keys[i]));
        fputs(": ", jf);
        json_string(jf, vals[i], strlen(vals[i]));
    }
    fprintf(jf, "},\n \"num_rows\": %zu, \"bytes\": %" PRIu64 "}\n", s->nrows,
            pqt_writer_bytes_written(w));
    rc = pf.failed ? -1 : 0;
out:
    pqt_writer_destroy(w);
    if (pf.f && fclose(pf.f) != 0) rc = -1;
    if (jf && fclose(jf) != 0) rc = -1;
    return rc;
}

static void write_samples(const char *dir) {
    static const pqt_codec_t codecs[] = {PQT_CODEC_NONE, PQT_CODEC_SNAPPY, PQT_CODEC_GZIP,
                                         PQT_CODEC_ZSTD};
    const size_t nrandom = sizeof random_cols / sizeof random_cols[0];
    char name[128];
    /* every codec; a few ~300 KB strings; one row group */
    for (int c = 0; c < 4; c++) {
        snprintf(name, sizeof name, "codec_%s", codec_label(codecs[c]));
        sample_t s = {.name = name,
                      .cols = random_cols,
                      .ncols = nrandom,
                      .codec = codecs[c],
                      .nrows = 600,
                      .row_group_bytes = 64 << 20,
                      .seed = 42,
                      .huge_one_in = 120,
                      .null_pct = 15,
                      .expect_json = "\"min_row_groups\": 1, \"max_row_groups\": 1"};
        CHECK_EQ_INT(write_sample(dir, &s), 0);
    }
    sample_t multi = {.name = "multi_rg",
                      .cols = random_cols,
                      .ncols = nrandom,
                      .codec = PQT_CODEC_SNAPPY,
                      .nrows = 20000,
                      .row_group_bytes = 256 << 10,
                      .seed = 5,
                      .null_pct = 20,
                      .expect_json = "\"min_row_groups\": 5"};
    CHECK_EQ_INT(write_sample(dir, &multi), 0);
    sample_t dict = {.name = "dict",
                     .cols = dict_cols,
                     .ncols = 5,
                     .codec = PQT_CODEC_ZSTD,
                     .nrows = 6000,
                     .row_group_bytes = 200 << 10,
                     .seed = 11,
                     .huge_one_in = 2000,
                     .null_pct = 10,
                     .expect_json = "\"min_row_groups\": 2, \"dictionary\": [\"op\", \"tbl\"], "
                                    "\"plain\": [\"uniq\"]"};
    CHECK_EQ_INT(write_sample(dir, &dict), 0);
    /* > 20000 values and > 1 MiB of text per column chunk: several pages */
    sample_t pages = {.name = "pages",
                      .cols = page_cols,
                      .ncols = 4,
                      .codec = PQT_CODEC_GZIP,
                      .nrows = 70000,
                      .row_group_bytes = 64 << 20,
                      .seed = 3,
                      .null_pct = 10,
                      .expect_json = "\"min_row_groups\": 1, \"max_row_groups\": 1, "
                                     "\"min_data_pages\": {\"id\": 4, \"flag\": 4, \"txt\": 5, "
                                     "\"n\": 4}"};
    CHECK_EQ_INT(write_sample(dir, &pages), 0);
    /* row_group_bytes == max_buffer_bytes: nearly every flush happens in
     * the middle of a row, when a value would cross the bound */
    sample_t midrow = {.name = "midrow_flush",
                       .cols = random_cols,
                       .ncols = nrandom,
                       .codec = PQT_CODEC_SNAPPY,
                       .nrows = 3000,
                       .row_group_bytes = 64 << 10,
                       .max_buffer_bytes = 64 << 10,
                       .seed = 9,
                       .null_pct = 25,
                       .expect_json = "\"min_row_groups\": 5"};
    CHECK_EQ_INT(write_sample(dir, &midrow), 0);
    sample_t empty = {.name = "empty",
                      .cols = random_cols,
                      .ncols = nrandom,
                      .codec = PQT_CODEC_SNAPPY,
                      .nrows = 0,
                      .row_group_bytes = 1 << 20,
                      .seed = 1,
                      .expect_json = "\"min_row_groups\": 0, \"max_row_groups\": 0"};
    CHECK_EQ_INT(write_sample(dir, &empty), 0);

    /* the property loop: every seed with every codec, sizes from the seed */
    const char *seeds = getenv("DP_PARQUET_SEEDS");
    if (!seeds || !*seeds) seeds = "1,2,3";
    const char *p = seeds;
    while (*p) {
        char *end;
        unsigned long long seed = strtoull(p, &end, 10);
        if (end == p) break;
        prng_t r = {seed * 7919 + 1};
        size_t nrows = (size_t)rnd_below(&r, 3000);
        size_t rg = (size_t)(16 << 10) + (size_t)rnd_below(&r, 1 << 20);
        unsigned null_pct = (unsigned)rnd_below(&r, 101);
        for (int c = 0; c < 4; c++) {
            snprintf(name, sizeof name, "random_s%llu_%s", seed, codec_label(codecs[c]));
            sample_t s = {.name = name,
                          .cols = random_cols,
                          .ncols = nrandom,
                          .codec = codecs[c],
                          .nrows = nrows,
                          .row_group_bytes = rg,
                          .seed = seed,
                          .huge_one_in = 400,
                          .null_pct = null_pct};
            CHECK_EQ_INT(write_sample(dir, &s), 0);
        }
        p = *end == ',' ? end + 1 : end;
    }
}

int main(void) {
    test_varint_zigzag();
    test_thrift_fields();
    test_rle_hand_computed();
    test_rle_round_trip();
    test_tiny_file_frame();
    test_empty_file();
    test_row_contract();
    test_memory_bound();
    test_sink_failure_is_sticky();
    const char *dir = getenv("DP_PARQUET_OUT_DIR");
    if (dir && *dir) write_samples(dir);
    return tl_finish("test_parquet");
}
