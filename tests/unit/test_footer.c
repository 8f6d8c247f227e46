/* test_footer - pqt_footer_kv reads back the key/value metadata our writer
 * puts in the footer, asks for more bytes when the tail is too short, and
 * refuses what is not a Parquet footer. */
#include <stdlib.h>

#include "common/buf.h"
#include "parquet/footer.h"
#include "parquet/writer.h"
#include "testlib.h"

static dp_err_t mem_sink(void *ctx, const void *data, size_t len, char *errstr, size_t n) {
    (void)errstr;
    (void)n;
    return dp_buf_append(ctx, data, len);
}

/* a file of rows rows (two columns) with the archive's four offsets entries */
static void write_file(dp_buf_t *out, int rows) {
    static const pqt_column_def_t cols[] = {{"s", PQT_STRING, 1}, {"n", PQT_INT64, 0}};
    pqt_writer_t *w = pqt_writer_new(cols, 2, NULL, mem_sink, out);
    char err[256], v[32];
    for (int i = 0; i < rows; i++) {
        snprintf(v, sizeof v, "row %d", i);
        if (i % 3)
            pqt_write_bytes(w, 0, v, strlen(v), err, sizeof err);
        else
            pqt_write_null(w, 0, err, sizeof err);
        pqt_write_int64(w, 1, i, err, sizeof err);
        pqt_end_row(w, err, sizeof err);
    }
    const char *keys[] = {"datapipe.kafka.topic", "datapipe.kafka.partition", "empty",
                          "datapipe.kafka.end.offset"};
    const char *vals[] = {"cdc.t", "3", NULL, "123456789"};
    CHECK(pqt_writer_finish(w, keys, vals, 4, err, sizeof err) == DP_OK);
    pqt_writer_destroy(w);
}

int main(void) {
    dp_buf_t f;
    dp_buf_init(&f, 1 << 24);
    write_file(&f, 1000);
    char out[64], err[256];
    size_t need = 0;
    CHECK(pqt_footer_kv(f.data, f.len, "datapipe.kafka.end.offset", out, sizeof out, &need, err,
                        sizeof err) == DP_OK);
    CHECK_EQ_STR(out, "123456789");
    CHECK(pqt_footer_kv(f.data, f.len, "datapipe.kafka.topic", out, sizeof out, &need, err,
                        sizeof err) == DP_OK);
    CHECK_EQ_STR(out, "cdc.t");
    /* a value-less entry and a missing one */
    CHECK(pqt_footer_kv(f.data, f.len, "empty", out, sizeof out, &need, err, sizeof err) ==
          DP_ERR_INVALID);
    CHECK(pqt_footer_kv(f.data, f.len, "nope", out, sizeof out, &need, err, sizeof err) ==
          DP_ERR_INVALID);
    CHECK(strstr(err, "nope") != NULL);
    /* too small for the value */
    CHECK(pqt_footer_kv(f.data, f.len, "datapipe.kafka.end.offset", out, 5, &need, err,
                        sizeof err) == DP_ERR_INVALID);

    /* a short tail: DP_ERR_FULL and the size to read; that size works */
    size_t tail = 40;
    const uint8_t *end = f.data + f.len;
    CHECK(pqt_footer_kv(end - tail, tail, "datapipe.kafka.end.offset", out, sizeof out, &need, err,
                        sizeof err) == DP_ERR_FULL);
    CHECK(need > tail && need < f.len);
    CHECK(pqt_footer_kv(end - need, need, "datapipe.kafka.end.offset", out, sizeof out, &need, err,
                        sizeof err) == DP_OK);
    CHECK_EQ_STR(out, "123456789");

    /* not Parquet, truncated, corrupted */
    CHECK(pqt_footer_kv((const uint8_t *)"hello world!", 12, "k", out, sizeof out, &need, err,
                        sizeof err) == DP_ERR_INVALID);
    CHECK(pqt_footer_kv(f.data, 8, "k", out, sizeof out, &need, err, sizeof err) == DP_ERR_INVALID);
    uint8_t *bad = malloc(f.len);
    memcpy(bad, f.data, f.len);
    size_t flen = (size_t)bad[f.len - 8] | (size_t)bad[f.len - 7] << 8;
    memset(bad + f.len - 8 - flen, 0xff, flen); /* endless varints */
    CHECK(pqt_footer_kv(bad, f.len, "datapipe.kafka.end.offset", out, sizeof out, &need, err,
                        sizeof err) == DP_ERR_INVALID);
    free(bad);
    dp_buf_fini(&f);
    return tl_finish("footer");
}
