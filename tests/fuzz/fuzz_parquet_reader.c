/* fuzz_parquet_reader - pqt_file_open on arbitrary bytes (an S3 object
 * verify reads back), then every column read with CRC checks off so that
 * mutated pages reach the decoders: never reads outside the input, every
 * failure has a detail, and a decoded column is consistent (n rows, 0/1
 * null flags, null rows zero, string slices inside the bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_column(const pqt_file_t *f, const pqt_column_t *c) {
    if ((int64_t)c->n != pqt_file_rows(f) || !c->null || (!c->i64 == !c->off)) abort();
    for (size_t i = 0; i < c->n; i++) {
        if (c->null[i] > 1) abort();
        if (c->i64 && c->null[i] && c->i64[i] != 0) abort();
        if (c->off && (c->off[i] > c->bytes.len || c->len[i] > c->bytes.len - c->off[i])) abort();
        if (c->off && c->null[i] && c->len[i] != 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pqt_file_t *f = NULL;
    char err[256] = "";
    if (pqt_file_open(&f, data, size, err, sizeof err) != DP_OK) {
        if (!err[0] || f) abort();
        return 0;
    }
    pqt_file_set_crc_check(f, 0);
    for (size_t i = 0; i < pqt_file_ncols(f); i++) {
        const char *name = pqt_file_col_name(f, i);
        int at = pqt_file_col_index(f, name);
        if (at < 0 || (size_t)at > i) abort();
        pqt_column_t c;
        err[0] = 0;
        if (pqt_column_read(f, i, &c, err, sizeof err) == DP_OK) {
            check_column(f, &c);
        } else if (!err[0] || c.n || c.null) {
            abort();
        }
        pqt_column_fini(&c);
    }
    pqt_file_close(f);
    return 0;
}
