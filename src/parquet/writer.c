/* writer.c - Parquet file writer (see writer.h for the produced format). */
#include "parquet/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h> /* crc32 */

#include "common/buf.h"
#include "common/log.h"
#include "parquet/codec.h"
#include "parquet/encoding.h"
#include "parquet/thrift.h"

#define MAGIC "PAR1"
#define CREATED_BY "datapipe"
#define ROOT_NAME "schema"
#define ERRLEN 256
#define DICT_SLOTS 32768 /* power of two, > 3 * PQT_DICT_MAX_ENTRIES */
#define GROUPS_MAX ((size_t)64 << 20) /* serialized RowGroup metadata of one file */
#define CHUNKS_MAX ((size_t)16 << 20) /* serialized ColumnChunks of one row group */
#define FOOTER_MAX ((size_t)128 << 20) /* serialized FileMetaData */
#define MAX_COLUMNS 32767

/* parquet.thrift enum values */
enum { T_BOOLEAN = 0, T_INT32 = 1, T_INT64 = 2, T_BYTE_ARRAY = 6 };
enum { CT_UTF8 = 0, CT_TIMESTAMP_MILLIS = 9 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };

typedef struct col {
    char *name;
    pqt_type_t type;
    int nullable;
    dp_buf_t values; /* PLAIN values of non-null rows; booleans one byte each */
    dp_buf_t defs; /* nullable only: one byte per row, 1 = value present */
    size_t committed; /* values.len at the end of the last completed row */
    size_t nnull; /* nulls among the completed rows of the row group */
    int has_value; /* got its value in the row in progress */
} col_t;

typedef struct dict_entry {
    size_t off; /* of the PLAIN value (length prefix) in col.values */
    uint32_t len; /* of the string, without the prefix */
    uint32_t hash;
} dict_entry_t;

/* What one column chunk contributed, for the ColumnMetaData. */
typedef struct chunk_info {
    int use_dict;
    uint64_t dict_off, data_off;
    uint64_t unc, comp; /* total_uncompressed_size, total_compressed_size */
    size_t npages;
    int has_minmax;
    const uint8_t *min, *max; /* PLAIN bytes without length prefix */
    size_t min_len, max_len;
    uint8_t min_fixed[8], max_fixed[8];
} chunk_info_t;

struct pqt_writer {
    col_t *cols;
    size_t ncols;
    pqt_options_t opt;
    pqt_sink_fn sink;
    void *sink_ctx;
    pqt_codec_ctx_t codec;
    size_t buffered; /* sum of values.len + defs.len over the columns */
    size_t group_rows; /* completed rows in the row group being buffered */
    size_t row_cols; /* columns that have a value in the row in progress */
    uint64_t rows; /* completed rows in the file */
    uint64_t written; /* bytes handed to the sink */
    uint64_t ngroups;
    dp_buf_t groups; /* serialized RowGroup structs written so far */
    dp_buf_t chunks; /* serialized ColumnChunks of the row group being flushed */
    dp_buf_t page; /* uncompressed page body */
    dp_buf_t cpage; /* compressed page body */
    dp_buf_t hdr; /* serialized PageHeader, or the footer */
    dp_buf_t idx; /* uint32 dictionary indices of the chunk being flushed */
    uint32_t *slots; /* dictionary hash table: entry index + 1, 0 = free */
    dict_entry_t *dict;
    size_t ndict;
    dp_err_t row_err; /* first failure in the row in progress, reported by end_row */
    char row_errmsg[ERRLEN];
    int finished;
    dp_err_t failed; /* sticky flush failure */
    char failmsg[ERRLEN];
};

/* ---- small helpers ---- */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static const char *type_name(pqt_type_t t) {
    switch (t) {
    case PQT_BOOLEAN: return "boolean";
    case PQT_INT32: return "int32";
    case PQT_INT64: return "int64";
    case PQT_STRING: return "string";
    case PQT_TIMESTAMP_MILLIS: return "timestamp_millis";
    }
    return "unknown";
}

static int physical_type(pqt_type_t t) {
    switch (t) {
    case PQT_BOOLEAN: return T_BOOLEAN;
    case PQT_INT32: return T_INT32;
    case PQT_INT64:
    case PQT_TIMESTAMP_MILLIS: return T_INT64;
    case PQT_STRING: return T_BYTE_ARRAY;
    }
    return -1;
}

/* value_size: bytes of the buffered PLAIN value at p. */
static size_t value_size(pqt_type_t t, const uint8_t *p) {
    switch (t) {
    case PQT_BOOLEAN: return 1;
    case PQT_INT32: return 4;
    case PQT_INT64:
    case PQT_TIMESTAMP_MILLIS: return 8;
    case PQT_STRING: return 4 + (size_t)get_le32(p);
    }
    return 0;
}

/* hash_bytes: a fast 32-bit hash for the dictionary table (8 bytes a step). */
static uint32_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ n;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ k) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    if (n) memcpy(&k, p, n);
    h = (h ^ k) * UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- errors ---- */

/* fail: make err sticky; the detail is whatever was written to failmsg. */
static dp_err_t fail(pqt_writer_t *w, dp_err_t err) {
    if (!w->failmsg[0])
        snprintf(w->failmsg, sizeof w->failmsg, "parquet writer failed (%s)", dp_err_name(err));
    w->failed = err;
    return err;
}

/* sticky: the stored failure, with its detail copied to the caller. */
static dp_err_t sticky(const pqt_writer_t *w, char *errstr, size_t errstr_size) {
    return dp_seterr(errstr, errstr_size, w->failed, "%s", w->failmsg);
}

/* ---- output ---- */

/* emit: hand n bytes to the sink and count them; failure is sticky. */
static dp_err_t emit(pqt_writer_t *w, const void *p, size_t n) {
    if (n == 0) return DP_OK;
    w->failmsg[0] = 0;
    dp_err_t err = w->sink(w->sink_ctx, p, n, w->failmsg, sizeof w->failmsg);
    if (err) {
        if (!w->failmsg[0])
            snprintf(w->failmsg, sizeof w->failmsg, "parquet sink failed (%s)", dp_err_name(err));
        return fail(w, err);
    }
    w->written += n;
    return DP_OK;
}

/* thrift_done: turn an encoder failure into a sticky writer failure. */
static dp_err_t thrift_done(pqt_writer_t *w, const pqt_thrift_t *t, const char *what) {
    dp_err_t err = pqt_thrift_error(t);
    if (!err) return DP_OK;
    snprintf(w->failmsg, sizeof w->failmsg, "%s metadata: %s", what,
             err == DP_ERR_NOMEM ? "over its size limit" : "encoding error");
    return fail(w, err);
}

/* write_page: compress the body in w->page, then emit its PageHeader and
 * the (compressed) body; ci gets the sizes. num_values is the values of a
 * data page (nulls included) or the entries of a dictionary page. */
static dp_err_t write_page(pqt_writer_t *w, int page_type, size_t num_values, int encoding,
                           chunk_info_t *ci) {
    const uint8_t *out = w->page.data;
    size_t raw_len = w->page.len, out_len = raw_len;
    if (w->codec.codec != PQT_CODEC_NONE) {
        dp_buf_reset(&w->cpage);
        w->failmsg[0] = 0;
        dp_err_t err = pqt_codec_compress(&w->codec, w->page.data, raw_len, &w->cpage, w->failmsg,
                                          sizeof w->failmsg);
        if (err) return fail(w, err);
        out = w->cpage.data;
        out_len = w->cpage.len;
    }
    if (raw_len > INT32_MAX || out_len > INT32_MAX || num_values > INT32_MAX) {
        snprintf(w->failmsg, sizeof w->failmsg, "page of %zu bytes too big", raw_len);
        return fail(w, DP_ERR_INVALID);
    }
    uint32_t crc = (uint32_t)crc32(0L, out_len ? out : Z_NULL, (uInt)out_len);
    int32_t crc_field;
    memcpy(&crc_field, &crc, sizeof crc_field); /* thrift i32 carries the bits */

    dp_buf_reset(&w->hdr);
    pqt_thrift_t t;
    pqt_thrift_init(&t, &w->hdr);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, page_type);
    pqt_thrift_field_i32(&t, 2, (int32_t)raw_len);
    pqt_thrift_field_i32(&t, 3, (int32_t)out_len);
    pqt_thrift_field_i32(&t, 4, crc_field);
    if (page_type == PAGE_DATA) {
        pqt_thrift_field_struct(&t, 5); /* DataPageHeader */
        pqt_thrift_field_i32(&t, 1, (int32_t)num_values);
        pqt_thrift_field_i32(&t, 2, encoding);
        pqt_thrift_field_i32(&t, 3, ENC_RLE); /* definition levels */
        pqt_thrift_field_i32(&t, 4, ENC_RLE); /* repetition levels */
        pqt_thrift_struct_end(&t);
    } else {
        pqt_thrift_field_struct(&t, 7); /* DictionaryPageHeader */
        pqt_thrift_field_i32(&t, 1, (int32_t)num_values);
        pqt_thrift_field_i32(&t, 2, encoding);
        pqt_thrift_field_bool(&t, 3, 0);
        pqt_thrift_struct_end(&t);
    }
    pqt_thrift_struct_end(&t);
    dp_err_t err = thrift_done(w, &t, "page header");
    if (err) return err;
    if ((err = emit(w, w->hdr.data, w->hdr.len)) || (err = emit(w, out, out_len))) return err;
    ci->unc += w->hdr.len + raw_len;
    ci->comp += w->hdr.len + out_len;
    return DP_OK;
}

/* ---- statistics ---- */

/* string_less: unsigned lexicographic order, shorter prefix first. */
static int string_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c < 0 || (c == 0 && alen < blen);
}

/* compute_stats: min/max over the committed values of c into ci (nulls
 * are counted in c->nnull already). Strings longer than
 * PQT_STATS_MAX_BYTES at either end leave has_minmax unset. */
static void compute_stats(const col_t *c, chunk_info_t *ci) {
    const uint8_t *p = c->values.data, *end = p + c->committed;
    ci->has_minmax = 0;
    if (p == end) return;
    switch (c->type) {
    case PQT_BOOLEAN: {
        uint8_t mn = 1, mx = 0;
        for (; p < end; p++) {
            if (*p < mn) mn = *p;
            if (*p > mx) mx = *p;
        }
        ci->min_fixed[0] = mn;
        ci->max_fixed[0] = mx;
        ci->min_len = ci->max_len = 1;
        break;
    }
    case PQT_INT32: {
        int32_t mn = INT32_MAX, mx = INT32_MIN;
        for (; p < end; p += 4) {
            int32_t v = (int32_t)get_le32(p);
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        put_le32(ci->min_fixed, (uint32_t)mn);
        put_le32(ci->max_fixed, (uint32_t)mx);
        ci->min_len = ci->max_len = 4;
        break;
    }
    case PQT_INT64:
    case PQT_TIMESTAMP_MILLIS: {
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (; p < end; p += 8) {
            int64_t v = (int64_t)get_le64(p);
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        for (int i = 0; i < 8; i++) {
            ci->min_fixed[i] = (uint8_t)((uint64_t)mn >> (8 * i));
            ci->max_fixed[i] = (uint8_t)((uint64_t)mx >> (8 * i));
        }
        ci->min_len = ci->max_len = 8;
        break;
    }
    case PQT_STRING: {
        const uint8_t *mn = NULL, *mx = NULL;
        size_t mnl = 0, mxl = 0;
        while (p < end) {
            size_t len = get_le32(p);
            const uint8_t *s = p + 4;
            if (!mn || string_less(s, len, mn, mnl)) mn = s, mnl = len;
            if (!mx || string_less(mx, mxl, s, len)) mx = s, mxl = len;
            p = s + len;
        }
        if (mnl > PQT_STATS_MAX_BYTES || mxl > PQT_STATS_MAX_BYTES) return;
        ci->min = mn;
        ci->max = mx;
        ci->min_len = mnl;
        ci->max_len = mxl;
        ci->has_minmax = 1;
        return;
    }
    }
    ci->min = ci->min_fixed;
    ci->max = ci->max_fixed;
    ci->has_minmax = 1;
}

/* ---- dictionary ---- */

/* build_dict: try to dictionary-encode the committed values of STRING
 * column c: fills w->dict and the per-value indices in w->idx. Returns 1
 * when the dictionary stays within the limits and makes the chunk smaller
 * than PLAIN, else 0 (the chunk is then written PLAIN). */
static int build_dict(pqt_writer_t *w, const col_t *c, size_t nvalues) {
    w->ndict = 0;
    if (nvalues == 0) return 0;
    dp_buf_reset(&w->idx);
    if (dp_buf_reserve(&w->idx, nvalues * sizeof(uint32_t)) != DP_OK) return 0;
    if (!w->slots) {
        w->slots = dp_xcalloc(DICT_SLOTS, sizeof *w->slots);
        w->dict = dp_xcalloc(PQT_DICT_MAX_ENTRIES, sizeof *w->dict);
    } else {
        memset(w->slots, 0, DICT_SLOTS * sizeof *w->slots);
    }
    uint32_t *idx = (uint32_t *)(void *)w->idx.data;
    const uint8_t *base = c->values.data;
    size_t off = 0, dict_bytes = 0, i = 0;
    while (off < c->committed) {
        uint32_t len = get_le32(base + off);
        const uint8_t *s = base + off + 4;
        uint32_t h = hash_bytes(s, len);
        size_t slot = h & (DICT_SLOTS - 1);
        for (;;) {
            uint32_t e = w->slots[slot];
            if (e == 0) {
                if (w->ndict == PQT_DICT_MAX_ENTRIES || dict_bytes + 4 + len > PQT_DICT_MAX_BYTES)
                    return 0;
                w->dict[w->ndict] = (dict_entry_t){off, len, h};
                w->slots[slot] = (uint32_t)++w->ndict;
                idx[i] = (uint32_t)(w->ndict - 1);
                dict_bytes += 4 + (size_t)len;
                break;
            }
            const dict_entry_t *d = &w->dict[e - 1];
            if (d->hash == h && d->len == len && memcmp(base + d->off + 4, s, len) == 0) {
                idx[i] = e - 1;
                break;
            }
            slot = (slot + 1) & (DICT_SLOTS - 1);
        }
        i++;
        off += 4 + (size_t)len;
    }
    w->idx.len = nvalues * sizeof(uint32_t);
    int bw = pqt_bit_width((uint32_t)(w->ndict - 1));
    size_t est = dict_bytes + (nvalues * (size_t)bw + 7) / 8 + 1;
    return est < c->committed;
}

/* ---- column chunks and row groups ---- */

/* write_dict_page: the PLAIN dictionary entries of w->dict as one page. */
static dp_err_t write_dict_page(pqt_writer_t *w, const col_t *c, chunk_info_t *ci) {
    dp_buf_reset(&w->page);
    for (size_t k = 0; k < w->ndict; k++) {
        const dict_entry_t *d = &w->dict[k];
        if (dp_buf_append(&w->page, c->values.data + d->off, 4 + (size_t)d->len) != DP_OK) {
            snprintf(w->failmsg, sizeof w->failmsg, "dictionary page over the scratch limit");
            return fail(w, DP_ERR_NOMEM);
        }
    }
    ci->dict_off = w->written;
    ci->npages++;
    return write_page(w, PAGE_DICTIONARY, w->ndict, ENC_PLAIN_DICTIONARY, ci);
}

/* write_data_pages: the nrows completed rows of c as data pages of at
 * most PQT_PAGE_MAX_VALUES rows and about PQT_PAGE_TARGET_BYTES of PLAIN
 * values each. */
static dp_err_t write_data_pages(pqt_writer_t *w, const col_t *c, size_t nrows, chunk_info_t *ci) {
    const uint8_t *defs = c->nullable ? c->defs.data : NULL;
    const uint8_t *vals = c->values.data;
    const uint32_t *idx = (const uint32_t *)(const void *)w->idx.data;
    int bw = ci->use_dict ? pqt_bit_width((uint32_t)(w->ndict - 1)) : 0;
    size_t row = 0, voff = 0, vi = 0;
    ci->data_off = w->written;
    while (row < nrows) {
        size_t r0 = row, v0 = voff, i0 = vi;
        while (row < nrows && row - r0 < PQT_PAGE_MAX_VALUES && voff - v0 < PQT_PAGE_TARGET_BYTES) {
            if (!defs || defs[row]) {
                voff += value_size(c->type, vals + voff);
                vi++;
            }
            row++;
        }
        dp_buf_reset(&w->page);
        dp_err_t err = DP_OK;
        if (defs) {
            err = dp_buf_reserve(&w->page, 4);
            if (!err) {
                w->page.len = 4;
                err = pqt_rle_encode_u8(&w->page, defs + r0, row - r0, 1);
            }
            if (!err) put_le32(w->page.data, (uint32_t)(w->page.len - 4));
        }
        if (!err && ci->use_dict) {
            err = dp_buf_putc(&w->page, (char)bw);
            if (!err) err = pqt_rle_encode_u32(&w->page, idx + i0, vi - i0, bw);
        } else if (!err && c->type == PQT_BOOLEAN) {
            err = pqt_bitpack_bools(&w->page, vals + v0, voff - v0);
        } else if (!err) {
            err = dp_buf_append(&w->page, vals + v0, voff - v0);
        }
        if (err) {
            snprintf(w->failmsg, sizeof w->failmsg, "encoding a page of column \"%s\" failed (%s)",
                     c->name, dp_err_name(err));
            return fail(w, err);
        }
        ci->npages++;
        int enc = ci->use_dict ? ENC_PLAIN_DICTIONARY : ENC_PLAIN;
        err = write_page(w, PAGE_DATA, row - r0, enc, ci);
        if (err) return err;
    }
    return DP_OK;
}

/* put_column_chunk: serialize the ColumnChunk (with its ColumnMetaData)
 * of c into w->chunks. */
static dp_err_t put_column_chunk(pqt_writer_t *w, const col_t *c, size_t nrows,
                                 const chunk_info_t *ci) {
    pqt_thrift_t t;
    pqt_thrift_init(&t, &w->chunks);
    int enc = ci->use_dict ? ENC_PLAIN_DICTIONARY : ENC_PLAIN;
    int is_signed = c->type == PQT_INT32 || c->type == PQT_INT64 || c->type == PQT_TIMESTAMP_MILLIS;
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i64(&t, 2, 0); /* file_offset: no ColumnMetaData outside the footer */
    pqt_thrift_field_struct(&t, 3);
    pqt_thrift_field_i32(&t, 1, physical_type(c->type));
    pqt_thrift_field_list(&t, 2, PQT_TC_I32, 2);
    pqt_thrift_i32(&t, enc);
    pqt_thrift_i32(&t, ENC_RLE);
    pqt_thrift_field_list(&t, 3, PQT_TC_BINARY, 1);
    pqt_thrift_string(&t, c->name);
    pqt_thrift_field_i32(&t, 4, pqt_codec_parquet_id(w->codec.codec));
    pqt_thrift_field_i64(&t, 5, (int64_t)nrows);
    pqt_thrift_field_i64(&t, 6, (int64_t)ci->unc);
    pqt_thrift_field_i64(&t, 7, (int64_t)ci->comp);
    pqt_thrift_field_i64(&t, 9, (int64_t)ci->data_off);
    if (ci->use_dict) pqt_thrift_field_i64(&t, 11, (int64_t)ci->dict_off);
    pqt_thrift_field_struct(&t, 12); /* Statistics */
    if (ci->has_minmax && is_signed) { /* legacy signed-order fields for old readers */
        pqt_thrift_field_binary(&t, 1, ci->max, ci->max_len);
        pqt_thrift_field_binary(&t, 2, ci->min, ci->min_len);
    }
    pqt_thrift_field_i64(&t, 3, (int64_t)c->nnull);
    if (ci->has_minmax) {
        pqt_thrift_field_binary(&t, 5, ci->max, ci->max_len);
        pqt_thrift_field_binary(&t, 6, ci->min, ci->min_len);
        pqt_thrift_field_bool(&t, 7, 1);
        pqt_thrift_field_bool(&t, 8, 1);
    }
    pqt_thrift_struct_end(&t);
    pqt_thrift_field_list(&t, 13, PQT_TC_STRUCT, ci->use_dict ? 2 : 1); /* encoding_stats */
    if (ci->use_dict) {
        pqt_thrift_struct_begin(&t);
        pqt_thrift_field_i32(&t, 1, PAGE_DICTIONARY);
        pqt_thrift_field_i32(&t, 2, ENC_PLAIN_DICTIONARY);
        pqt_thrift_field_i32(&t, 3, 1);
        pqt_thrift_struct_end(&t);
    }
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, PAGE_DATA);
    pqt_thrift_field_i32(&t, 2, enc);
    pqt_thrift_field_i32(&t, 3, (int32_t)(ci->npages - (ci->use_dict ? 1 : 0)));
    pqt_thrift_struct_end(&t);
    pqt_thrift_struct_end(&t); /* ColumnMetaData */
    pqt_thrift_struct_end(&t); /* ColumnChunk */
    return thrift_done(w, &t, "column chunk");
}

/* write_chunk: encode and emit the completed rows of column c. */
static dp_err_t write_chunk(pqt_writer_t *w, const col_t *c, size_t nrows, uint64_t *unc,
                            uint64_t *comp) {
    chunk_info_t ci;
    memset(&ci, 0, sizeof ci);
    compute_stats(c, &ci);
    if (c->type == PQT_STRING) ci.use_dict = build_dict(w, c, nrows - c->nnull);
    dp_err_t err;
    if (ci.use_dict && (err = write_dict_page(w, c, &ci))) return err;
    if ((err = write_data_pages(w, c, nrows, &ci))) return err;
    if ((err = put_column_chunk(w, c, nrows, &ci))) return err;
    *unc += ci.unc;
    *comp += ci.comp;
    return DP_OK;
}

/* recount: recompute w->buffered from the column buffers. */
static void recount(pqt_writer_t *w) {
    w->buffered = 0;
    for (size_t i = 0; i < w->ncols; i++)
        w->buffered += w->cols[i].values.len + w->cols[i].defs.len;
}

/* trim: give back buffer memory far above the used bytes the last row
 * group needed, so that what columns retain between row groups stays near
 * the bound however the data moves between columns. */
static void trim(dp_buf_t *b, size_t used) {
    size_t want = used + used / 2 + 4096;
    if (b->cap > 2 * want) {
        b->data = dp_xrealloc(b->data, want);
        b->cap = want;
    }
}

/* flush_group: write the completed rows as one row group and keep only the
 * row in progress (at most one value per column) in the buffers. Failure
 * is sticky. */
static dp_err_t flush_group(pqt_writer_t *w) {
    size_t n = w->group_rows;
    if (n == 0) return DP_OK;
    dp_err_t err;
    if (w->written == 0 && (err = emit(w, MAGIC, 4))) return err;
    uint64_t start = w->written, unc = 0, comp = 0;
    dp_buf_reset(&w->chunks);
    for (size_t i = 0; i < w->ncols; i++)
        if ((err = write_chunk(w, &w->cols[i], n, &unc, &comp))) return err;

    pqt_thrift_t t;
    pqt_thrift_init(&t, &w->groups);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_list(&t, 1, PQT_TC_STRUCT, w->ncols);
    pqt_thrift_raw(&t, w->chunks.data, w->chunks.len);
    pqt_thrift_field_i64(&t, 2, (int64_t)unc);
    pqt_thrift_field_i64(&t, 3, (int64_t)n);
    pqt_thrift_field_i64(&t, 5, (int64_t)start);
    pqt_thrift_field_i64(&t, 6, (int64_t)comp);
    if (w->ngroups <= INT16_MAX) pqt_thrift_field_i16(&t, 7, (int16_t)w->ngroups);
    pqt_thrift_struct_end(&t);
    if ((err = thrift_done(w, &t, "row group"))) return err;
    w->ngroups++;

    for (size_t i = 0; i < w->ncols; i++) {
        col_t *c = &w->cols[i];
        size_t used = c->values.len, tail = used - c->committed;
        if (tail) memmove(c->values.data, c->values.data + c->committed, tail);
        c->values.len = tail;
        c->committed = 0;
        trim(&c->values, used);
        if (c->nullable) {
            used = c->defs.len;
            tail = used - n;
            if (tail) memmove(c->defs.data, c->defs.data + n, tail);
            c->defs.len = tail;
            trim(&c->defs, used);
        }
        c->nnull = 0;
    }
    w->group_rows = 0;
    recount(w);
    return DP_OK;
}

/* ---- the public API ---- */

pqt_writer_t *pqt_writer_new(const pqt_column_def_t *cols, size_t ncols, const pqt_options_t *opt,
                             pqt_sink_fn sink, void *sink_ctx) {
    pqt_options_t o = {PQT_CODEC_NONE, 0, 0};
    if (opt) o = *opt;
    if (o.row_group_bytes == 0) o.row_group_bytes = PQT_DEFAULT_ROW_GROUP_BYTES;
    if (o.max_buffer_bytes == 0) o.max_buffer_bytes = 2 * o.row_group_bytes;
    if (!sink || !cols || ncols == 0 || ncols > MAX_COLUMNS) {
        dp_error("parquet", "invalid writer arguments (%zu columns)", ncols);
        return NULL;
    }
    if (!pqt_codec_name(o.codec)) {
        dp_error("parquet", "unknown codec %d", (int)o.codec);
        return NULL;
    }
    if (o.max_buffer_bytes < o.row_group_bytes || o.max_buffer_bytes > PQT_MAX_BUFFER_BYTES) {
        dp_error("parquet", "max_buffer_bytes %zu must be >= row_group_bytes %zu and <= %zu",
                 o.max_buffer_bytes, o.row_group_bytes, PQT_MAX_BUFFER_BYTES);
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name || !cols[i].name[0]) {
            dp_error("parquet", "column %zu has no name", i);
            return NULL;
        }
        if (physical_type(cols[i].type) < 0) {
            dp_error("parquet", "column \"%s\" has unknown type %d", cols[i].name,
                     (int)cols[i].type);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0) {
                dp_error("parquet", "duplicate column \"%s\"", cols[i].name);
                return NULL;
            }
    }
    pqt_writer_t *w = dp_xcalloc(1, sizeof *w);
    w->cols = dp_xcalloc(ncols, sizeof *w->cols);
    w->ncols = ncols;
    w->opt = o;
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    pqt_codec_init(&w->codec, o.codec);
    for (size_t i = 0; i < ncols; i++) {
        col_t *c = &w->cols[i];
        c->name = dp_xstrdup(cols[i].name);
        c->type = cols[i].type;
        c->nullable = cols[i].nullable != 0;
        dp_buf_init(&c->values, o.max_buffer_bytes);
        dp_buf_init(&c->defs, c->nullable ? o.max_buffer_bytes : 0);
    }
    size_t scratch = o.max_buffer_bytes + o.max_buffer_bytes / 4 + ((size_t)4 << 20);
    dp_buf_init(&w->groups, GROUPS_MAX);
    dp_buf_init(&w->chunks, CHUNKS_MAX);
    dp_buf_init(&w->page, scratch);
    dp_buf_init(&w->cpage, scratch);
    dp_buf_init(&w->hdr, FOOTER_MAX);
    dp_buf_init(&w->idx, o.max_buffer_bytes);
    return w;
}

void pqt_writer_destroy(pqt_writer_t *w) {
    if (!w) return;
    for (size_t i = 0; i < w->ncols; i++) {
        free(w->cols[i].name);
        dp_buf_fini(&w->cols[i].values);
        dp_buf_fini(&w->cols[i].defs);
    }
    free(w->cols);
    pqt_codec_fini(&w->codec);
    dp_buf_fini(&w->groups);
    dp_buf_fini(&w->chunks);
    dp_buf_fini(&w->page);
    dp_buf_fini(&w->cpage);
    dp_buf_fini(&w->hdr);
    dp_buf_fini(&w->idx);
    free(w->slots);
    free(w->dict);
    free(w);
}

/* discard_row: drop the values of the row in progress. */
static void discard_row(pqt_writer_t *w) {
    for (size_t i = 0; i < w->ncols; i++) {
        col_t *c = &w->cols[i];
        if (!c->has_value) continue;
        c->values.len = c->committed;
        if (c->nullable) c->defs.len = w->group_rows;
        c->has_value = 0;
    }
    w->row_cols = 0;
    recount(w);
}

/* Type masks for accept(). */
#define M(t) (1u << (t))
#define MASK_NULL 0u

/* row_error: the row in progress cannot be completed: drop its values,
 * remember err and its detail for the rest of the row and for end_row. */
static dp_err_t row_error(pqt_writer_t *w, dp_err_t err, char *errstr, size_t errstr_size) {
    discard_row(w);
    w->row_err = err;
    return dp_seterr(errstr, errstr_size, err, "%s", w->row_errmsg);
}

/* usable: DP_OK when values may be written now, else the error to return
 * (no writer, sticky failure, finished, or a failed row in progress). */
static dp_err_t usable(const pqt_writer_t *w, char *errstr, size_t errstr_size) {
    if (!w) return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no parquet writer");
    if (w->failed) return sticky(w, errstr, errstr_size);
    if (w->finished)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "parquet writer already finished");
    if (w->row_err) return dp_seterr(errstr, errstr_size, w->row_err, "%s", w->row_errmsg);
    return DP_OK;
}

/* accept: check that column col may take a value allowed by mask (MASK_NULL
 * for a null) now and make room for its need bytes of PLAIN value, flushing
 * the completed rows first when the buffer bound would be crossed. On
 * success c->has_value is set and the caller must append exactly need
 * bytes to c->values (nothing for a null). On failure the row in progress
 * fails (row_error). */
static dp_err_t accept(pqt_writer_t *w, size_t col, unsigned mask, size_t need, col_t **out,
                       char *errstr, size_t errstr_size) {
    dp_err_t err = usable(w, errstr, errstr_size);
    if (err) return err;
    char *msg = w->row_errmsg;
    size_t msz = sizeof w->row_errmsg;
    err = DP_ERR_INVALID;
    if (col >= w->ncols) {
        snprintf(msg, msz, "column %zu out of range (%zu columns)", col, w->ncols);
        return row_error(w, err, errstr, errstr_size);
    }
    col_t *c = &w->cols[col];
    if (mask == MASK_NULL && !c->nullable) {
        snprintf(msg, msz, "column \"%s\" is not nullable", c->name);
        return row_error(w, err, errstr, errstr_size);
    }
    if (mask != MASK_NULL && !(mask & M(c->type))) {
        snprintf(msg, msz, "column \"%s\" is %s", c->name, type_name(c->type));
        return row_error(w, err, errstr, errstr_size);
    }
    if (c->has_value) {
        snprintf(msg, msz, "column \"%s\" already has a value in this row", c->name);
        return row_error(w, err, errstr, errstr_size);
    }
    size_t total = need + (c->nullable ? 1 : 0);
    if (total > w->opt.max_buffer_bytes - w->buffered && w->group_rows > 0) {
        if ((err = flush_group(w))) return sticky(w, errstr, errstr_size);
    }
    if (total > w->opt.max_buffer_bytes - w->buffered) {
        snprintf(msg, msz, "row does not fit in max_buffer_bytes %zu (column \"%s\", %zu bytes)",
                 w->opt.max_buffer_bytes, c->name, need);
        return row_error(w, DP_ERR_NOMEM, errstr, errstr_size);
    }
    if ((err = dp_buf_reserve(&c->values, need)) ||
        (c->nullable && (err = dp_buf_putc(&c->defs, mask != MASK_NULL)))) {
        snprintf(msg, msz, "column \"%s\" buffer full", c->name);
        return row_error(w, err, errstr, errstr_size);
    }
    c->has_value = 1;
    w->row_cols++;
    w->buffered += total;
    *out = c;
    return DP_OK;
}

dp_err_t pqt_write_null(pqt_writer_t *w, size_t col, char *errstr, size_t errstr_size) {
    col_t *c;
    return accept(w, col, MASK_NULL, 0, &c, errstr, errstr_size);
}

/* append_fixed: the little-endian bytes of v (n of them) after accept(). */
static dp_err_t append_fixed(pqt_writer_t *w, size_t col, unsigned mask, uint64_t v, size_t n,
                             char *errstr, size_t errstr_size) {
    col_t *c;
    dp_err_t err = accept(w, col, mask, n, &c, errstr, errstr_size);
    if (err) return err;
    uint8_t *p = c->values.data + c->values.len;
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
    c->values.len += n;
    return DP_OK;
}

dp_err_t pqt_write_int32(pqt_writer_t *w, size_t col, int32_t v, char *errstr, size_t errstr_size) {
    return append_fixed(w, col, M(PQT_INT32), (uint32_t)v, 4, errstr, errstr_size);
}

dp_err_t pqt_write_int64(pqt_writer_t *w, size_t col, int64_t v, char *errstr, size_t errstr_size) {
    return append_fixed(w, col, M(PQT_INT64) | M(PQT_TIMESTAMP_MILLIS), (uint64_t)v, 8, errstr,
                        errstr_size);
}

dp_err_t pqt_write_bool(pqt_writer_t *w, size_t col, int v, char *errstr, size_t errstr_size) {
    return append_fixed(w, col, M(PQT_BOOLEAN), v != 0, 1, errstr, errstr_size);
}

dp_err_t pqt_write_bytes(pqt_writer_t *w, size_t col, const void *p, size_t len, char *errstr,
                         size_t errstr_size) {
    col_t *c;
    dp_err_t err;
    if (len > PQT_MAX_BUFFER_BYTES || (len && !p)) {
        if ((err = usable(w, errstr, errstr_size))) return err;
        snprintf(w->row_errmsg, sizeof w->row_errmsg, "string value of %zu bytes %s", len,
                 p ? "too big" : "at NULL");
        return row_error(w, p ? DP_ERR_NOMEM : DP_ERR_INVALID, errstr, errstr_size);
    }
    err = accept(w, col, M(PQT_STRING), 4 + len, &c, errstr, errstr_size);
    if (err) return err;
    uint8_t *d = c->values.data + c->values.len;
    put_le32(d, (uint32_t)len);
    if (len) memcpy(d + 4, p, len);
    c->values.len += 4 + len;
    return DP_OK;
}

dp_err_t pqt_end_row(pqt_writer_t *w, char *errstr, size_t errstr_size) {
    dp_err_t err = usable(w, errstr, errstr_size);
    if (err) {
        if (w && !w->failed && !w->finished) w->row_err = DP_OK; /* the failed row ends here */
        return err;
    }
    if (w->row_cols != w->ncols) {
        size_t i = 0;
        while (i < w->ncols && w->cols[i].has_value) i++;
        dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "column \"%s\" has no value in this row",
                  i < w->ncols ? w->cols[i].name : "?");
        discard_row(w);
        return DP_ERR_INVALID;
    }
    for (size_t i = 0; i < w->ncols; i++) {
        col_t *c = &w->cols[i];
        c->committed = c->values.len;
        if (c->nullable && c->defs.data[w->group_rows] == 0) c->nnull++;
        c->has_value = 0;
    }
    w->group_rows++;
    w->rows++;
    w->row_cols = 0;
    if (w->buffered >= w->opt.row_group_bytes && flush_group(w))
        return sticky(w, errstr, errstr_size);
    return DP_OK;
}

/* put_schema: the SchemaElement list (root, then one leaf per column). */
static void put_schema(pqt_thrift_t *t, const pqt_writer_t *w) {
    pqt_thrift_field_list(t, 2, PQT_TC_STRUCT, w->ncols + 1);
    pqt_thrift_struct_begin(t);
    pqt_thrift_field_string(t, 4, ROOT_NAME);
    pqt_thrift_field_i32(t, 5, (int32_t)w->ncols);
    pqt_thrift_struct_end(t);
    for (size_t i = 0; i < w->ncols; i++) {
        const col_t *c = &w->cols[i];
        pqt_thrift_struct_begin(t);
        pqt_thrift_field_i32(t, 1, physical_type(c->type));
        pqt_thrift_field_i32(t, 3, c->nullable ? REP_OPTIONAL : REP_REQUIRED);
        pqt_thrift_field_string(t, 4, c->name);
        if (c->type == PQT_STRING) {
            pqt_thrift_field_i32(t, 6, CT_UTF8);
            pqt_thrift_field_struct(t, 10); /* LogicalType */
            pqt_thrift_field_struct(t, 1); /* STRING: StringType {} */
            pqt_thrift_struct_end(t);
            pqt_thrift_struct_end(t);
        } else if (c->type == PQT_TIMESTAMP_MILLIS) {
            pqt_thrift_field_i32(t, 6, CT_TIMESTAMP_MILLIS);
            pqt_thrift_field_struct(t, 10); /* LogicalType */
            pqt_thrift_field_struct(t, 8); /* TIMESTAMP: TimestampType */
            pqt_thrift_field_bool(t, 1, 1); /* isAdjustedToUTC */
            pqt_thrift_field_struct(t, 2); /* unit: TimeUnit */
            pqt_thrift_field_struct(t, 1); /* MILLIS: MilliSeconds {} */
            pqt_thrift_struct_end(t);
            pqt_thrift_struct_end(t);
            pqt_thrift_struct_end(t);
            pqt_thrift_struct_end(t);
        }
        pqt_thrift_struct_end(t);
    }
}

dp_err_t pqt_writer_finish(pqt_writer_t *w, const char *const *kv_keys,
                           const char *const *kv_values, size_t nkv, char *errstr,
                           size_t errstr_size) {
    if (!w) return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no parquet writer");
    if (w->failed) return sticky(w, errstr, errstr_size);
    if (w->finished)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "parquet writer already finished");
    if (w->row_cols || w->row_err) {
        discard_row(w);
        w->row_err = DP_OK;
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "row in progress at finish");
    }
    for (size_t i = 0; i < nkv; i++)
        if (!kv_keys || !kv_keys[i])
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "key/value metadata %zu has no key", i);
    if (flush_group(w)) return sticky(w, errstr, errstr_size);
    if (w->written == 0 && emit(w, MAGIC, 4)) return sticky(w, errstr, errstr_size);

    dp_buf_reset(&w->hdr);
    pqt_thrift_t t;
    pqt_thrift_init(&t, &w->hdr);
    pqt_thrift_struct_begin(&t);
    pqt_thrift_field_i32(&t, 1, 1); /* version */
    put_schema(&t, w);
    pqt_thrift_field_i64(&t, 3, (int64_t)w->rows);
    pqt_thrift_field_list(&t, 4, PQT_TC_STRUCT, w->ngroups);
    pqt_thrift_raw(&t, w->groups.data, w->groups.len);
    if (nkv) {
        pqt_thrift_field_list(&t, 5, PQT_TC_STRUCT, nkv);
        for (size_t i = 0; i < nkv; i++) {
            pqt_thrift_struct_begin(&t);
            pqt_thrift_field_string(&t, 1, kv_keys[i]);
            if (kv_values && kv_values[i]) pqt_thrift_field_string(&t, 2, kv_values[i]);
            pqt_thrift_struct_end(&t);
        }
    }
    pqt_thrift_field_string(&t, 6, CREATED_BY);
    pqt_thrift_field_list(&t, 7, PQT_TC_STRUCT, w->ncols); /* column_orders */
    for (size_t i = 0; i < w->ncols; i++) {
        pqt_thrift_struct_begin(&t);
        pqt_thrift_field_struct(&t, 1); /* TYPE_ORDER: TypeDefinedOrder {} */
        pqt_thrift_struct_end(&t);
        pqt_thrift_struct_end(&t);
    }
    pqt_thrift_struct_end(&t);
    if (thrift_done(w, &t, "file")) return sticky(w, errstr, errstr_size);
    if (w->hdr.len > UINT32_MAX) {
        snprintf(w->failmsg, sizeof w->failmsg, "footer of %zu bytes too big", w->hdr.len);
        fail(w, DP_ERR_NOMEM);
        return sticky(w, errstr, errstr_size);
    }
    uint8_t tail[8];
    put_le32(tail, (uint32_t)w->hdr.len);
    memcpy(tail + 4, MAGIC, 4);
    if (emit(w, w->hdr.data, w->hdr.len) || emit(w, tail, sizeof tail))
        return sticky(w, errstr, errstr_size);
    w->finished = 1;
    return DP_OK;
}

uint64_t pqt_writer_rows(const pqt_writer_t *w) { return w ? w->rows : 0; }
uint64_t pqt_writer_bytes_written(const pqt_writer_t *w) { return w ? w->written : 0; }
size_t pqt_writer_buffered_bytes(const pqt_writer_t *w) { return w ? w->buffered : 0; }
