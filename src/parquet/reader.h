/* reader.h - read back a whole Parquet object held in memory, for the
 * subset of Parquet that writer.h produces (verify reads archived objects
 * with it, one object at a time).
 *
 * Supported: flat schemas (a root and REQUIRED or OPTIONAL leaves of
 * physical type BOOLEAN, INT32, INT64 or BYTE_ARRAY); any number of row
 * groups; codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD; DICTIONARY_PAGE and
 * DATA_PAGE (V1) pages; definition levels in the RLE/bit-packed hybrid
 * with a 4-byte length prefix; values PLAIN, PLAIN_DICTIONARY or
 * RLE_DICTIONARY. Page CRCs are checked when present (see
 * pqt_file_set_crc_check). INDEX_PAGEs are skipped. Everything else
 * (nested or repeated columns, other physical types, DATA_PAGE_V2, DELTA
 * or BYTE_STREAM_SPLIT encodings, other codecs, encrypted files, column
 * chunks in other files) is refused with DP_ERR_INVALID and a message
 * naming it.
 *
 * The bytes are outside input: every length, offset and count is checked
 * against the buffer and nothing is read outside it. Memory is bounded by
 * the limits below: a file may claim at most PQT_READ_MAX_ROWS rows and a
 * column chunk at most PQT_READ_MAX_ROWS_PER_BYTE rows per byte of it
 * (our writer needs about 700 at most, for an all-null column), column
 * chunks may not overlap, and a page decompresses to at most
 * PQT_READ_MAX_PAGE_BYTES and no more than its codec can expand its bytes.
 *
 * Errors are DP_ERR_INVALID with a lowercase detail that names the column
 * and row group where one is involved. Not thread-safe per file; distinct
 * files are independent. */
#ifndef DP_PARQUET_READER_H
#define DP_PARQUET_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "parquet/writer.h" /* pqt_type_t */

/* Limits on what a file may claim (see above). */
#define PQT_READ_MAX_ROWS ((int64_t)1 << 27) /* > flush.size's maximum, 1e8 */
#define PQT_READ_MAX_ROWS_PER_BYTE 1024 /* rows of a row group per chunk byte */
#define PQT_READ_MAX_PAGE_BYTES ((size_t)256 << 20) /* uncompressed size of a page */
#define PQT_READ_MAX_COLUMN_BYTES ((size_t)1 << 31) /* BYTE_ARRAY bytes of one column */

typedef struct pqt_file pqt_file_t; /* the parsed footer: flat schema, row groups, chunks */

/* pqt_file_open: parse the footer of the whole object data[0..len). The
 * bytes stay owned by the caller and must outlive the file. Checks the
 * magic at both ends, the footer length, the FileMetaData and every
 * column chunk's place in the file. */
dp_err_t pqt_file_open(pqt_file_t **out, const uint8_t *data, size_t len, char *errstr,
                       size_t errstr_size);

/* pqt_file_close: free the file; NULL is a no-op. */
void pqt_file_close(pqt_file_t *f);

/* pqt_file_set_crc_check: check page CRCs where present (the default,
 * on) or not (off: a fuzzer's mutations then reach the decoders). */
void pqt_file_set_crc_check(pqt_file_t *f, int on);

int64_t pqt_file_rows(const pqt_file_t *f);
size_t pqt_file_ngroups(const pqt_file_t *f);
size_t pqt_file_ncols(const pqt_file_t *f);

/* Column col (0-based, < ncols): its name, writer type (BYTE_ARRAY is
 * PQT_STRING, INT64 with converted type TIMESTAMP_MILLIS is
 * PQT_TIMESTAMP_MILLIS) and whether it is OPTIONAL. */
const char *pqt_file_col_name(const pqt_file_t *f, size_t col);
pqt_type_t pqt_file_col_type(const pqt_file_t *f, size_t col);
int pqt_file_col_nullable(const pqt_file_t *f, size_t col);

/* pqt_file_col_index: the first column named name, -1 if absent. */
int pqt_file_col_index(const pqt_file_t *f, const char *name);

/* One whole column of the file (all row groups), decoded. A null row has
 * null[i] = 1 and zero value fields. */
typedef struct pqt_column {
    size_t n; /* values == rows of the file */
    uint8_t *null; /* n flags */
    int64_t *i64; /* BOOLEAN (0/1), INT32, INT64, TIMESTAMP columns: the values;
                            else NULL */
    uint32_t *off, *len; /* BYTE_ARRAY: value i is bytes.data[off[i] .. +len[i]];
                            else NULL */
    dp_buf_t bytes; /* BYTE_ARRAY value bytes (dictionary entries once) */
} pqt_column_t;

/* pqt_column_read: decode column col of every row group into *out (which
 * is overwritten; call pqt_column_fini when done). On failure *out is
 * left empty (n 0, pointers NULL). */
dp_err_t pqt_column_read(const pqt_file_t *f, size_t col, pqt_column_t *out, char *errstr,
                         size_t errstr_size);

/* pqt_column_fini: free a column's arrays and bytes; leaves it empty. */
void pqt_column_fini(pqt_column_t *c);

#endif
