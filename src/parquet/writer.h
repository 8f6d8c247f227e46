/* writer.h - a streaming Parquet file writer for flat (non-nested) schemas.
 *
 * Rows go in one value at a time (pqt_write_* for every column, in any
 * order, then pqt_end_row). Values are buffered per column, PLAIN-encoded,
 * until the buffered bytes reach row_group_bytes; the row group is then
 * encoded, compressed and handed to the sink, page by page, in file order.
 * pqt_writer_finish flushes the last row group and writes the footer.
 *
 * Produced format: "PAR1", then per row group and column one column chunk
 * of DataPageHeader V1 pages (at most ~1 MiB of values or 20000 values
 * each, every page with a CRC), then the Thrift compact FileMetaData
 * (version 1, created_by "datapipe", column orders, statistics with
 * null_count and min_value/max_value), its length and "PAR1".
 *  - REQUIRED columns have no levels; OPTIONAL columns have definition
 *    levels (RLE/bit-packed hybrid, bit width 1, 4-byte length prefix).
 *  - Values are PLAIN, except STRING column chunks whose distinct values
 *    fit the dictionary limits (<= 10000 entries, <= 1 MiB) and make the
 *    chunk smaller: those get a PLAIN_DICTIONARY dictionary page and
 *    PLAIN_DICTIONARY data pages (bit-width byte + hybrid-encoded indices).
 *  - STRING min/max statistics are omitted when either is longer than
 *    PQT_STATS_MAX_BYTES (null_count is always written).
 *
 * Memory: the encoded row data buffered between flushes never exceeds
 * max_buffer_bytes; a value that would cross it first flushes the rows
 * completed so far, and fails with DP_ERR_NOMEM only when the row being
 * written does not fit on its own. On top of that come allocation slack
 * (buffers grow by doubling and are trimmed after each row group) and
 * flush scratch: about two pages (a page is ~1 MiB, or one larger value)
 * plus, for dictionary chunks, 4 bytes per value. Metadata kept for the
 * footer is bounded separately (64 MiB of row group metadata per file).
 *
 * Errors: a row always ends with pqt_end_row. When a pqt_write_* fails
 * (bad column, wrong type, value given twice, null in a REQUIRED column,
 * DP_ERR_NOMEM) the row in progress is dropped at once, later writes to
 * the same row return that first error and do nothing, and pqt_end_row
 * returns it once more and ends the row; so a caller may check only
 * pqt_end_row. A missing value also fails pqt_end_row (DP_ERR_INVALID).
 * After a failed row the writer is usable and the next write starts a new
 * row. A failure while flushing (sink error, codec error) is sticky: every
 * later call returns the same error and detail. Not thread-safe. */
#ifndef DP_PARQUET_WRITER_H
#define DP_PARQUET_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum {
    PQT_BOOLEAN,
    PQT_INT32,
    PQT_INT64,
    PQT_STRING, /* BYTE_ARRAY, logical String (converted UTF8); caller passes UTF-8 */
    PQT_TIMESTAMP_MILLIS /* INT64, logical Timestamp(isAdjustedToUTC=true, MILLIS),
                            converted TIMESTAMP_MILLIS */
} pqt_type_t;

typedef enum { PQT_CODEC_NONE, PQT_CODEC_SNAPPY, PQT_CODEC_GZIP, PQT_CODEC_ZSTD } pqt_codec_t;

typedef struct pqt_column_def {
    const char *name; /* non-empty, unique; copied */
    pqt_type_t type;
    int nullable; /* OPTIONAL when non-zero, else REQUIRED */
} pqt_column_def_t;

typedef struct pqt_options {
    pqt_codec_t codec;
    size_t row_group_bytes; /* flush a row group when buffered uncompressed bytes reach
                                this; 0 = PQT_DEFAULT_ROW_GROUP_BYTES */
    size_t max_buffer_bytes; /* hard bound on buffered row data, >= row_group_bytes;
                                0 = 2 * row_group_bytes */
} pqt_options_t;

#define PQT_DEFAULT_ROW_GROUP_BYTES ((size_t)64 << 20)
#define PQT_MAX_BUFFER_BYTES ((size_t)1 << 30) /* largest max_buffer_bytes accepted */
#define PQT_STATS_MAX_BYTES 64 /* longest string min/max written */
#define PQT_DICT_MAX_ENTRIES 10000
#define PQT_DICT_MAX_BYTES ((size_t)1 << 20) /* PLAIN size of the dictionary page */
#define PQT_PAGE_TARGET_BYTES ((size_t)1 << 20)
#define PQT_PAGE_MAX_VALUES 20000

/* sink: receives the file's bytes, in order; a non-zero return is passed
 * back to the caller of the writer function that produced the bytes and
 * makes the writer fail from then on. */
typedef dp_err_t (*pqt_sink_fn)(void *ctx, const void *data, size_t len, char *errstr,
                                size_t errstr_size);

typedef struct pqt_writer pqt_writer_t;

/* pqt_writer_new: a writer for the given columns (copied). opt may be NULL
 * for defaults. Returns NULL, after logging why, on an invalid schema
 * (no columns, empty or duplicate name, unknown type) or invalid options
 * (unknown codec, max_buffer_bytes < row_group_bytes or above
 * PQT_MAX_BUFFER_BYTES). Writes nothing until the first flush. */
pqt_writer_t *pqt_writer_new(const pqt_column_def_t *cols, size_t ncols, const pqt_options_t *opt,
                             pqt_sink_fn sink, void *sink_ctx);

/* Value setters for column col of the current row: exactly one per column
 * per row. write_null needs a nullable column; write_int64 serves INT64
 * and TIMESTAMP_MILLIS (milliseconds since the epoch); write_bytes serves
 * STRING (len up to max_buffer_bytes; p may be NULL when len is 0). */
dp_err_t pqt_write_null(pqt_writer_t *w, size_t col, char *errstr, size_t errstr_size);
dp_err_t pqt_write_int32(pqt_writer_t *w, size_t col, int32_t v, char *errstr, size_t errstr_size);
dp_err_t pqt_write_int64(pqt_writer_t *w, size_t col, int64_t v, char *errstr, size_t errstr_size);
dp_err_t pqt_write_bool(pqt_writer_t *w, size_t col, int v, char *errstr, size_t errstr_size);
dp_err_t pqt_write_bytes(pqt_writer_t *w, size_t col, const void *p, size_t len, char *errstr,
                         size_t errstr_size);

/* pqt_end_row: complete the current row. Fails, dropping the row, with
 * the first error of a failed write in it, or DP_ERR_INVALID when a column
 * has no value. May flush a row group through the sink. */
dp_err_t pqt_end_row(pqt_writer_t *w, char *errstr, size_t errstr_size);

/* pqt_writer_finish: flush the last row group and write the footer with
 * the nkv key/value pairs (a NULL value omits the value) and "PAR1".
 * A row in progress is an error (DP_ERR_INVALID, row discarded, writer
 * still open). After success, only the accessors and destroy are valid. */
dp_err_t pqt_writer_finish(pqt_writer_t *w, const char *const *kv_keys,
                           const char *const *kv_values, size_t nkv, char *errstr,
                           size_t errstr_size);

/* Completed rows, bytes handed to the sink, row data bytes buffered now. */
uint64_t pqt_writer_rows(const pqt_writer_t *w);
uint64_t pqt_writer_bytes_written(const pqt_writer_t *w);
size_t pqt_writer_buffered_bytes(const pqt_writer_t *w);

/* pqt_writer_destroy: free everything; NULL is a no-op. Does not finish. */
void pqt_writer_destroy(pqt_writer_t *w);

#endif
