/* reader.c - Parquet reader for the subset writer.c produces (see reader.h).
 *
 * pqt_file_open parses the FileMetaData into a flat column list and a
 * ngroups x ncols table of column chunks and checks every chunk's place
 * in the file once; pqt_column_read then walks the pages of one column,
 * chunk by chunk, writing each page's values at their rows. */
#include "parquet/reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h> /* crc32 */

#include "parquet/codec.h"
#include "parquet/encoding.h"
#include "parquet/thrift.h"

#define MAGIC "PAR1"
#define ERRLEN 256
#define NAME_SHOWN 64 /* bytes of a name quoted from the footer before it is parsed */

/* parquet.thrift enum values */
enum { T_BOOLEAN = 0, T_INT32 = 1, T_INT64 = 2, T_BYTE_ARRAY = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { CT_TIMESTAMP_MILLIS = 9 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };

typedef struct col {
    char *name;
    int ptype; /* physical type */
    int optional;
    int ts_millis; /* INT64 with converted type TIMESTAMP_MILLIS */
} col_t;

/* One column chunk as the footer describes it; checked by check_chunks. */
typedef struct chunk {
    int32_t ptype, codec_id;
    int64_t num_values, comp_size, data_off, dict_off;
    int has_meta, has_type, has_codec, has_nv, has_comp, has_data_off, has_dict_off;
    pqt_codec_t codec; /* set by check_chunks */
    int64_t start; /* first page: the dictionary page's offset, else
                          data_page_offset */
} chunk_t;

struct pqt_file {
    const uint8_t *data;
    size_t len;
    size_t data_end; /* offset of the footer: chunks lie in [4, data_end) */
    col_t *cols;
    size_t ncols;
    int64_t rows;
    size_t ngroups;
    int64_t *group_rows;
    chunk_t *chunks; /* ngroups * ncols, row group after row group */
    int crc_check;
};

/* ---- small helpers ---- */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int shown(size_t n) { return n > NAME_SHOWN ? NAME_SHOWN : (int)n; }

static const char *ptype_name(int t) {
    static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? names[t] : "unknown";
}

static const char *enc_name(int e) {
    static const char *const names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return e >= 0 && e < 10 ? names[e] : "unknown";
}

static const char *codec_id_name(int c) {
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                        "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return c >= 0 && c < 8 ? names[c] : "unknown";
}

/* get_i32 / get_i64: an integer field whose header said type. */
static int get_i32(pqt_trd_t *r, int type, int32_t *v) {
    if (type != PQT_TC_I32 && type != PQT_TC_I16) return -1;
    return pqt_trd_i32(r, v);
}

static int get_i64(pqt_trd_t *r, int type, int64_t *v) {
    if (type != PQT_TC_I64 && type != PQT_TC_I32 && type != PQT_TC_I16) return -1;
    return pqt_trd_i64(r, v);
}

static dp_err_t bad_footer(char *errstr, size_t errstr_size, const char *where) {
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                     "the footer is not a readable FileMetaData (%s)", where);
}

/* ---- schema ---- */

typedef struct elem {
    int32_t type, rep, nchildren, converted;
    int has_type, has_rep, has_children, has_name;
    const uint8_t *name;
    size_t name_len;
} elem_t;

/* read_elem: one SchemaElement; fields other than those of elem_t are
 * skipped. */
static int read_elem(pqt_trd_t *r, elem_t *e) {
    memset(e, 0, sizeof *e);
    e->converted = -1;
    int16_t id = 0;
    for (;;) {
        int t, rc;
        if (pqt_trd_field(r, &id, &t)) return -1;
        if (t == PQT_TC_STOP) return 0;
        switch (id) {
        case 1: rc = get_i32(r, t, &e->type), e->has_type = 1; break;
        case 3: rc = get_i32(r, t, &e->rep), e->has_rep = 1; break;
        case 4:
            rc = t == PQT_TC_BINARY ? pqt_trd_binary(r, &e->name, &e->name_len) : -1;
            e->has_name = 1;
            break;
        case 5: rc = get_i32(r, t, &e->nchildren), e->has_children = 1; break;
        case 6: rc = get_i32(r, t, &e->converted); break;
        default: rc = pqt_trd_skip(r, t, 3);
        }
        if (rc) return -1;
    }
}

/* check_leaf: a leaf SchemaElement that this reader can read, into c. */
static dp_err_t check_leaf(const elem_t *e, size_t i, col_t *c, char *errstr, size_t errstr_size) {
    if (!e->has_name || memchr(e->name, 0, e->name_len))
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "schema element %zu has no usable name", i + 1);
    int nl = shown(e->name_len);
    const char *nm = (const char *)e->name;
    if ((e->has_children && e->nchildren > 0) || !e->has_type)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "nested schema: group \"%.*s\" is not supported", nl, nm);
    if (!e->has_rep || (e->rep != REP_REQUIRED && e->rep != REP_OPTIONAL))
        return dp_seterr(
            errstr, errstr_size, DP_ERR_INVALID, "%s column \"%.*s\" is not supported",
            e->has_rep && e->rep == REP_REPEATED ? "repeated" : "unknown repetition of", nl, nm);
    if (e->type != T_BOOLEAN && e->type != T_INT32 && e->type != T_INT64 && e->type != T_BYTE_ARRAY)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%.*s\" has physical type %s (%d), not supported", nl, nm,
                         ptype_name(e->type), (int)e->type);
    c->name = dp_xmalloc(e->name_len + 1);
    if (e->name_len) memcpy(c->name, e->name, e->name_len);
    c->name[e->name_len] = 0;
    c->ptype = e->type;
    c->optional = e->rep == REP_OPTIONAL;
    c->ts_millis = e->type == T_INT64 && e->converted == CT_TIMESTAMP_MILLIS;
    return DP_OK;
}

/* parse_schema: the schema list (at its list header): a root group whose
 * children are all the other elements, each a supported leaf. */
static dp_err_t parse_schema(pqt_file_t *f, pqt_trd_t *r, char *errstr, size_t errstr_size) {
    int et;
    uint64_t count;
    elem_t e;
    if (f->cols)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "the footer has two schemas");
    if (pqt_trd_list_header(r, &et, &count) || et != PQT_TC_STRUCT)
        return bad_footer(errstr, errstr_size, "schema");
    if (count < 2)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "the schema has no columns");
    if (read_elem(r, &e)) return bad_footer(errstr, errstr_size, "schema root");
    if (e.has_type || !e.has_children || e.nchildren < 0 || (uint64_t)e.nchildren != count - 1)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "nested schema: the root has %d children of %llu elements, "
                         "not supported",
                         e.has_children ? (int)e.nchildren : 0, (unsigned long long)count - 1);
    f->ncols = (size_t)count - 1;
    f->cols = dp_xcalloc(f->ncols, sizeof *f->cols);
    for (size_t i = 0; i < f->ncols; i++) {
        if (read_elem(r, &e)) return bad_footer(errstr, errstr_size, "schema element");
        dp_err_t err = check_leaf(&e, i, &f->cols[i], errstr, errstr_size);
        if (err) return err;
    }
    return DP_OK;
}

/* ---- row groups and column chunks ---- */

/* check_path: path_in_schema (at its list header) is the one name of
 * column c. */
static int check_path(pqt_trd_t *r, const col_t *c) {
    int et;
    uint64_t count;
    const uint8_t *s;
    size_t n;
    if (pqt_trd_list_header(r, &et, &count) || et != PQT_TC_BINARY || count != 1) return -1;
    if (pqt_trd_binary(r, &s, &n)) return -1;
    return n == strlen(c->name) && (n == 0 || memcmp(s, c->name, n) == 0) ? 0 : -1;
}

/* parse_col_meta: a ColumnMetaData into ch. */
static dp_err_t parse_col_meta(pqt_trd_t *r, const col_t *c, chunk_t *ch, char *errstr,
                               size_t errstr_size) {
    int16_t id = 0;
    for (;;) {
        int t, rc;
        if (pqt_trd_field(r, &id, &t)) return bad_footer(errstr, errstr_size, "column metadata");
        if (t == PQT_TC_STOP) break;
        switch (id) {
        case 1: rc = get_i32(r, t, &ch->ptype), ch->has_type = 1; break;
        case 3:
            if (t != PQT_TC_LIST || check_path(r, c))
                return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                 "a column chunk's path_in_schema is not \"%s\"", c->name);
            rc = 0;
            break;
        case 4: rc = get_i32(r, t, &ch->codec_id), ch->has_codec = 1; break;
        case 5: rc = get_i64(r, t, &ch->num_values), ch->has_nv = 1; break;
        case 7: rc = get_i64(r, t, &ch->comp_size), ch->has_comp = 1; break;
        case 9: rc = get_i64(r, t, &ch->data_off), ch->has_data_off = 1; break;
        case 11: rc = get_i64(r, t, &ch->dict_off), ch->has_dict_off = 1; break;
        default: rc = pqt_trd_skip(r, t, 5);
        }
        if (rc) return bad_footer(errstr, errstr_size, "column metadata");
    }
    ch->has_meta = 1;
    return DP_OK;
}

/* parse_chunk: a ColumnChunk of column c. */
static dp_err_t parse_chunk(pqt_trd_t *r, const col_t *c, chunk_t *ch, char *errstr,
                            size_t errstr_size) {
    int16_t id = 0;
    for (;;) {
        int t;
        if (pqt_trd_field(r, &id, &t)) return bad_footer(errstr, errstr_size, "column chunk");
        if (t == PQT_TC_STOP) return DP_OK;
        if (id == 1)
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "column \"%s\" has a chunk in another file (file_path), not "
                             "supported",
                             c->name);
        if (id == 8 || id == 9)
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "column \"%s\" is encrypted, not supported", c->name);
        if (id == 3 && t == PQT_TC_STRUCT) {
            if (ch->has_meta) return bad_footer(errstr, errstr_size, "two column metadata");
            dp_err_t err = parse_col_meta(r, c, ch, errstr, errstr_size);
            if (err) return err;
        } else if (pqt_trd_skip(r, t, 4)) {
            return bad_footer(errstr, errstr_size, "column chunk");
        }
    }
}

/* parse_row_group: RowGroup g: its num_rows and its ncols column chunks. */
static dp_err_t parse_row_group(pqt_file_t *f, pqt_trd_t *r, size_t g, char *errstr,
                                size_t errstr_size) {
    int16_t id = 0;
    int have_cols = 0, have_rows = 0;
    for (;;) {
        int t, et;
        uint64_t count;
        if (pqt_trd_field(r, &id, &t)) return bad_footer(errstr, errstr_size, "row group");
        if (t == PQT_TC_STOP) break;
        if (id == 1 && t == PQT_TC_LIST && !have_cols) {
            if (pqt_trd_list_header(r, &et, &count) || et != PQT_TC_STRUCT)
                return bad_footer(errstr, errstr_size, "row group columns");
            if (count != f->ncols)
                return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                 "row group %zu has %llu column chunks for %zu columns", g,
                                 (unsigned long long)count, f->ncols);
            for (size_t c = 0; c < f->ncols; c++) {
                dp_err_t err =
                    parse_chunk(r, &f->cols[c], &f->chunks[g * f->ncols + c], errstr, errstr_size);
                if (err) return err;
            }
            have_cols = 1;
        } else if (id == 3) {
            if (get_i64(r, t, &f->group_rows[g]))
                return bad_footer(errstr, errstr_size, "row group");
            have_rows = 1;
        } else if (pqt_trd_skip(r, t, 3)) {
            return bad_footer(errstr, errstr_size, "row group");
        }
    }
    if (!have_cols || !have_rows || f->group_rows[g] < 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "row group %zu lacks its columns or a row count", g);
    return DP_OK;
}

/* parse_row_groups: the row_groups list (at its list header); their rows
 * must add up to the file's. */
static dp_err_t parse_row_groups(pqt_file_t *f, pqt_trd_t *r, char *errstr, size_t errstr_size) {
    int et;
    uint64_t count;
    if (pqt_trd_list_header(r, &et, &count) || (count && et != PQT_TC_STRUCT))
        return bad_footer(errstr, errstr_size, "row groups");
    /* every column chunk takes a byte at least: bounds the table below */
    if (count > (uint64_t)(r->end - r->p) / f->ncols)
        return bad_footer(errstr, errstr_size, "more column chunks than footer bytes");
    f->ngroups = (size_t)count;
    f->group_rows = dp_xcalloc(f->ngroups, sizeof *f->group_rows);
    f->chunks = dp_xcalloc(f->ngroups * f->ncols, sizeof *f->chunks);
    int64_t total = 0;
    for (size_t g = 0; g < f->ngroups; g++) {
        dp_err_t err = parse_row_group(f, r, g, errstr, errstr_size);
        if (err) return err;
        if (f->group_rows[g] > PQT_READ_MAX_ROWS - total)
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "the row groups hold more than %lld rows, over the limit",
                             (long long)PQT_READ_MAX_ROWS);
        total += f->group_rows[g];
    }
    if (total != f->rows)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "the row groups hold %lld rows, the footer says %lld", (long long)total,
                         (long long)f->rows);
    return DP_OK;
}

/* parse_meta: the FileMetaData in p[0..n): schema, num_rows, row groups
 * (parsed last, once the schema is known, wherever they are). */
static dp_err_t parse_meta(pqt_file_t *f, const uint8_t *p, size_t n, char *errstr,
                           size_t errstr_size) {
    pqt_trd_t r, groups = {NULL, NULL};
    pqt_trd_init(&r, p, n);
    int16_t id = 0;
    int have_rows = 0;
    for (;;) {
        int t;
        if (pqt_trd_field(&r, &id, &t)) return bad_footer(errstr, errstr_size, "file metadata");
        if (t == PQT_TC_STOP) break;
        if (id == 2 && t == PQT_TC_LIST) {
            dp_err_t err = parse_schema(f, &r, errstr, errstr_size);
            if (err) return err;
        } else if (id == 3) {
            if (get_i64(&r, t, &f->rows)) return bad_footer(errstr, errstr_size, "num_rows");
            have_rows = 1;
        } else if (id == 4 && t == PQT_TC_LIST && !groups.p) {
            groups = r;
            if (pqt_trd_skip(&r, t, 1)) return bad_footer(errstr, errstr_size, "row groups");
        } else if (pqt_trd_skip(&r, t, 1)) {
            return bad_footer(errstr, errstr_size, "file metadata");
        }
    }
    if (!f->cols || !have_rows || !groups.p)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "the footer lacks its %s",
                         !f->cols         ? "schema"
                             : !have_rows ? "num_rows"
                                          : "row groups");
    return parse_row_groups(f, &groups, errstr, errstr_size);
}

/* check_chunk: chunk ch of column c in row group g describes what this
 * reader supports and lies inside the file's data; sets codec and start. */
static dp_err_t check_chunk(const pqt_file_t *f, size_t g, const col_t *c, chunk_t *ch,
                            char *errstr, size_t errstr_size) {
    const char *nm = c->name;
    if (!ch->has_meta || !ch->has_type || !ch->has_codec || !ch->has_nv || !ch->has_comp ||
        !ch->has_data_off)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: incomplete column metadata", nm, g);
    if (ch->ptype != c->ptype)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: chunk of type %s, the schema says %s", nm, g,
                         ptype_name(ch->ptype), ptype_name(c->ptype));
    if (pqt_codec_from_parquet_id(ch->codec_id, &ch->codec))
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: codec %s (%d) is not supported", nm, g,
                         codec_id_name(ch->codec_id), (int)ch->codec_id);
    if (ch->num_values != f->group_rows[g])
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: %lld values in %lld rows", nm, g,
                         (long long)ch->num_values, (long long)f->group_rows[g]);
    ch->start = ch->data_off;
    if (ch->has_dict_off && ch->dict_off > 0 && ch->dict_off < ch->data_off)
        ch->start = ch->dict_off;
    int64_t data_end = (int64_t)f->data_end;
    if (ch->start < 4 || ch->start >= data_end || ch->comp_size <= 0 ||
        ch->comp_size > data_end - ch->start)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: chunk at %lld, %lld bytes, outside "
                         "the data (bytes 4 to %lld)",
                         nm, g, (long long)ch->start, (long long)ch->comp_size,
                         (long long)data_end);
    if (ch->num_values / PQT_READ_MAX_ROWS_PER_BYTE > ch->comp_size)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column \"%s\" row group %zu: %lld values in %lld bytes, "
                         "over the limit",
                         nm, g, (long long)ch->num_values, (long long)ch->comp_size);
    return DP_OK;
}

static int cmp_start(const void *a, const void *b) {
    const chunk_t *x = *(const chunk_t *const *)a, *y = *(const chunk_t *const *)b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* check_chunks: check_chunk for all, then no two chunks may share a byte
 * (which bounds the work of reading the whole file by its size). */
static dp_err_t check_chunks(pqt_file_t *f, char *errstr, size_t errstr_size) {
    size_t n = f->ngroups * f->ncols;
    for (size_t i = 0; i < n; i++) {
        dp_err_t err = check_chunk(f, i / f->ncols, &f->cols[i % f->ncols], &f->chunks[i], errstr,
                                   errstr_size);
        if (err) return err;
    }
    if (n < 2) return DP_OK;
    const chunk_t **by = dp_xcalloc(n, sizeof *by);
    for (size_t i = 0; i < n; i++) by[i] = &f->chunks[i];
    qsort(by, n, sizeof *by, cmp_start);
    dp_err_t err = DP_OK;
    for (size_t i = 0; i + 1 < n && !err; i++)
        if (by[i]->comp_size > by[i + 1]->start - by[i]->start)
            err = dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                            "column chunks at %lld and %lld overlap", (long long)by[i]->start,
                            (long long)by[i + 1]->start);
    free(by);
    return err;
}

/* ---- the file ---- */

dp_err_t pqt_file_open(pqt_file_t **out, const uint8_t *data, size_t len, char *errstr,
                       size_t errstr_size) {
    *out = NULL;
    if (!data || len < 12)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "not a parquet file (%zu bytes is too short)", len);
    if (memcmp(data + len - 4, "PARE", 4) == 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "encrypted parquet file (PARE), not supported");
    if (memcmp(data, MAGIC, 4) != 0 || memcmp(data + len - 4, MAGIC, 4) != 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "not a parquet file (no PAR1 at the %s)",
                         memcmp(data, MAGIC, 4) != 0 ? "start" : "end");
    uint32_t flen = le32(data + len - 8);
    if (flen > len - 12)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "footer length %u does not fit in the %zu-byte file", flen, len);
    pqt_file_t *f = dp_xcalloc(1, sizeof *f);
    f->data = data;
    f->len = len;
    f->data_end = len - 8 - flen;
    f->crc_check = 1;
    dp_err_t err = parse_meta(f, data + f->data_end, flen, errstr, errstr_size);
    if (!err) err = check_chunks(f, errstr, errstr_size);
    if (err) {
        pqt_file_close(f);
        return err;
    }
    *out = f;
    return DP_OK;
}

void pqt_file_close(pqt_file_t *f) {
    if (!f) return;
    for (size_t i = 0; i < f->ncols; i++) free(f->cols[i].name);
    free(f->cols);
    free(f->group_rows);
    free(f->chunks);
    free(f);
}

void pqt_file_set_crc_check(pqt_file_t *f, int on) { f->crc_check = on != 0; }
int64_t pqt_file_rows(const pqt_file_t *f) { return f->rows; }
size_t pqt_file_ngroups(const pqt_file_t *f) { return f->ngroups; }
size_t pqt_file_ncols(const pqt_file_t *f) { return f->ncols; }

const char *pqt_file_col_name(const pqt_file_t *f, size_t col) {
    return col < f->ncols ? f->cols[col].name : NULL;
}

pqt_type_t pqt_file_col_type(const pqt_file_t *f, size_t col) {
    const col_t *c = col < f->ncols ? &f->cols[col] : NULL;
    if (!c) return PQT_STRING;
    switch (c->ptype) {
    case T_BOOLEAN: return PQT_BOOLEAN;
    case T_INT32: return PQT_INT32;
    case T_INT64: return c->ts_millis ? PQT_TIMESTAMP_MILLIS : PQT_INT64;
    default: return PQT_STRING;
    }
}

int pqt_file_col_nullable(const pqt_file_t *f, size_t col) {
    return col < f->ncols && f->cols[col].optional;
}

int pqt_file_col_index(const pqt_file_t *f, const char *name) {
    for (size_t i = 0; i < f->ncols && i <= INT32_MAX; i++)
        if (strcmp(f->cols[i].name, name) == 0) return (int)i;
    return -1;
}

/* ---- reading a column ---- */

typedef struct rdctx {
    const pqt_file_t *f;
    const col_t *c;
    const chunk_t *ch; /* of the row group being read */
    size_t group;
    pqt_column_t *out;
    size_t row; /* next row of out to fill */
    dp_buf_t page; /* decompressed page */
    dp_buf_t defs; /* definition levels of a page, one byte each */
    dp_buf_t idx; /* dictionary indices of a page, uint32 each */
    int has_dict; /* the chunk's dictionary page was read */
    size_t ndict;
    int64_t *dict_i64; /* dictionary entries of fixed-width columns */
    uint32_t *dict_off, *dict_len; /* BYTE_ARRAY entries, in out->bytes */
    char *errstr;
    size_t errstr_size;
} rdctx_t;

/* cerr: DP_ERR_INVALID with the column and row group in front of the detail. */
static dp_err_t cerr(rdctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dp_err_t cerr(rdctx_t *x, const char *fmt, ...) {
    char msg[ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dp_seterr(x->errstr, x->errstr_size, DP_ERR_INVALID, "column \"%s\" row group %zu: %s",
                     x->c->name, x->group, msg);
}

typedef struct phdr {
    int32_t type, unc, comp, crc;
    int has_type, has_unc, has_comp, has_crc;
    int has_data, has_dict; /* DataPageHeader / DictionaryPageHeader seen */
    int32_t nv, enc, def_enc;
    int has_nv, has_enc;
} phdr_t;

/* read_sub: a DataPageHeader (dict 0) or DictionaryPageHeader (dict 1). */
static int read_sub(pqt_trd_t *r, phdr_t *h, int dict) {
    int16_t id = 0;
    for (;;) {
        int t, rc;
        if (pqt_trd_field(r, &id, &t)) return -1;
        if (t == PQT_TC_STOP) return 0;
        if (id == 1)
            rc = get_i32(r, t, &h->nv), h->has_nv = 1;
        else if (id == 2)
            rc = get_i32(r, t, &h->enc), h->has_enc = 1;
        else if (id == 3 && !dict)
            rc = get_i32(r, t, &h->def_enc);
        else
            rc = pqt_trd_skip(r, t, 2);
        if (rc) return -1;
    }
}

/* read_page_header: a PageHeader; the sub-header of another page type
 * (DataPageHeaderV2, IndexPageHeader) is skipped, its type tells. */
static int read_page_header(pqt_trd_t *r, phdr_t *h) {
    memset(h, 0, sizeof *h);
    h->def_enc = -1;
    int16_t id = 0;
    for (;;) {
        int t, rc;
        if (pqt_trd_field(r, &id, &t)) return -1;
        if (t == PQT_TC_STOP) break;
        switch (id) {
        case 1: rc = get_i32(r, t, &h->type), h->has_type = 1; break;
        case 2: rc = get_i32(r, t, &h->unc), h->has_unc = 1; break;
        case 3: rc = get_i32(r, t, &h->comp), h->has_comp = 1; break;
        case 4: rc = get_i32(r, t, &h->crc), h->has_crc = 1; break;
        case 5:
            rc = t == PQT_TC_STRUCT && !h->has_data ? read_sub(r, h, 0) : -1;
            h->has_data = 1;
            break;
        case 7:
            rc = t == PQT_TC_STRUCT && !h->has_dict ? read_sub(r, h, 1) : -1;
            h->has_dict = 1;
            break;
        default: rc = pqt_trd_skip(r, t, 1);
        }
        if (rc) return -1;
    }
    return h->has_type && h->has_unc && h->has_comp && h->unc >= 0 && h->comp >= 0 ? 0 : -1;
}

/* max_expansion: the most bytes codec can make of comp bytes (snappy
 * < 22x, deflate 1032x, zstd 32768x: a 4-byte RLE block of 128 KiB). */
static uint64_t max_expansion(pqt_codec_t codec, size_t comp) {
    switch (codec) {
    case PQT_CODEC_NONE: return comp;
    case PQT_CODEC_SNAPPY: return (uint64_t)comp * 24 + 64;
    case PQT_CODEC_GZIP: return (uint64_t)comp * 1032 + 1024;
    case PQT_CODEC_ZSTD: return (uint64_t)comp * 32768 + 1024;
    }
    return 0;
}

/* page_body: the uncompressed body of the page whose compressed bytes
 * start at body: body itself when uncompressed, else x->page. */
static dp_err_t page_body(rdctx_t *x, const phdr_t *h, const uint8_t *body, const uint8_t **out) {
    size_t unc = (size_t)h->unc, comp = (size_t)h->comp;
    pqt_codec_t codec = x->ch->codec;
    if (codec == PQT_CODEC_NONE) {
        if (unc != comp)
            return cerr(x, "uncompressed page of %zu bytes says it holds %zu", comp, unc);
        *out = body;
        return DP_OK;
    }
    if (unc > PQT_READ_MAX_PAGE_BYTES || unc > max_expansion(codec, comp))
        return cerr(x, "page of %zu compressed bytes claims %zu uncompressed, over the limit", comp,
                    unc);
    dp_buf_reset(&x->page);
    if (dp_buf_reserve(&x->page, unc)) return cerr(x, "page of %zu bytes over the limit", unc);
    char msg[ERRLEN];
    dp_err_t err = pqt_codec_decompress(codec, body, comp, x->page.data, unc, msg, sizeof msg);
    if (err) return cerr(x, "%s", msg);
    x->page.len = unc;
    *out = x->page.data;
    return DP_OK;
}

/* decode_plain: nv rows of PLAIN values from p[0..n), nn of them present
 * (defs[i] != 0, or all when defs is NULL). Rows go to i64[i] or
 * off[i]/len[i]; a null row sets null[i]. BYTE_ARRAY bytes are appended
 * to x->out->bytes. */
static dp_err_t decode_plain(rdctx_t *x, const uint8_t *p, size_t n, size_t nv, size_t nn,
                             const uint8_t *defs, uint8_t *null, int64_t *i64, uint32_t *off,
                             uint32_t *len) {
    int pt = x->c->ptype;
    size_t width = pt == T_INT32 ? 4 : pt == T_INT64 ? 8 : 0;
    if (pt == T_BOOLEAN ? (nn + 7) / 8 > n : width && nn > n / width)
        return cerr(x, "%zu %s values do not fit in %zu bytes", nn, ptype_name(pt), n);
    dp_buf_t *bytes = &x->out->bytes;
    size_t pos = 0, j = 0;
    for (size_t i = 0; i < nv; i++) {
        if (defs && !defs[i]) {
            null[i] = 1;
            continue;
        }
        if (pt == T_BOOLEAN) {
            i64[i] = p[j / 8] >> (j % 8) & 1;
        } else if (pt == T_INT32) {
            i64[i] = (int32_t)le32(p + 4 * j);
        } else if (pt == T_INT64) {
            i64[i] = (int64_t)le64(p + 8 * j);
        } else {
            if (n - pos < 4) return cerr(x, "byte array value %zu is cut short", j);
            uint32_t l = le32(p + pos);
            pos += 4;
            if (l > n - pos) return cerr(x, "byte array value %zu of %u bytes is cut short", j, l);
            if (dp_buf_append(bytes, p + pos, l))
                return cerr(x, "byte array values over the limit of %zu bytes", bytes->max);
            off[i] = (uint32_t)(bytes->len - l);
            len[i] = l;
            pos += l;
        }
        j++;
    }
    return DP_OK;
}

/* dict_page: the chunk's dictionary page (before any other page). */
static dp_err_t dict_page(rdctx_t *x, const phdr_t *h, const uint8_t *body, int pages) {
    if (!h->has_dict || !h->has_nv || h->nv < 0)
        return cerr(x, "dictionary page without its header");
    if (x->has_dict || pages > 0) return cerr(x, "dictionary page after other pages");
    if (x->c->ptype == T_BOOLEAN) return cerr(x, "dictionary page for BOOLEAN, not supported");
    if (h->has_enc && h->enc != ENC_PLAIN && h->enc != ENC_PLAIN_DICTIONARY)
        return cerr(x, "dictionary page encoded %s (%d) is not supported", enc_name(h->enc),
                    (int)h->enc);
    const uint8_t *p;
    dp_err_t err = page_body(x, h, body, &p);
    if (err) return err;
    size_t nv = (size_t)h->nv, n = (size_t)h->unc;
    /* entries take 4 bytes at least (8 for INT64): at most 2 bytes kept per page byte */
    if (nv > n / (x->c->ptype == T_INT64 ? 8 : 4))
        return cerr(x, "dictionary of %zu entries does not fit in %zu bytes", nv, n);
    free(x->dict_i64);
    free(x->dict_off);
    free(x->dict_len);
    x->dict_i64 = NULL;
    x->dict_off = x->dict_len = NULL;
    if (x->c->ptype == T_BYTE_ARRAY) {
        x->dict_off = dp_xcalloc(nv, sizeof *x->dict_off);
        x->dict_len = dp_xcalloc(nv, sizeof *x->dict_len);
    } else {
        x->dict_i64 = dp_xcalloc(nv, sizeof *x->dict_i64);
    }
    err = decode_plain(x, p, n, nv, nv, NULL, NULL, x->dict_i64, x->dict_off, x->dict_len);
    if (err) return err;
    x->ndict = nv;
    x->has_dict = 1;
    return DP_OK;
}

/* dict_values: nv rows of dictionary indices (bit-width byte, hybrid) in
 * p[0..n), nn present, resolved against the chunk's dictionary at x->row. */
static dp_err_t dict_values(rdctx_t *x, const uint8_t *p, size_t n, size_t nv, size_t nn,
                            const uint8_t *defs) {
    pqt_column_t *o = x->out;
    size_t row = x->row;
    uint32_t *idx = NULL;
    if (nn > 0) {
        if (n < 1) return cerr(x, "dictionary-encoded page without its bit width");
        if (p[0] > 32) return cerr(x, "dictionary index bit width %d", p[0]);
        dp_buf_reset(&x->idx);
        if (dp_buf_reserve(&x->idx, nn * sizeof *idx)) return cerr(x, "too many values in a page");
        idx = (uint32_t *)(void *)x->idx.data;
        if (pqt_rle_decode_u32(p + 1, n - 1, p[0], idx, nn))
            return cerr(x, "dictionary indices are malformed");
    }
    for (size_t i = 0, j = 0; i < nv; i++) {
        if (defs && !defs[i]) {
            o->null[row + i] = 1;
            continue;
        }
        uint32_t k = idx[j++];
        if (k >= x->ndict) return cerr(x, "dictionary index %u of %zu entries", k, x->ndict);
        if (o->i64) {
            o->i64[row + i] = x->dict_i64[k];
        } else {
            o->off[row + i] = x->dict_off[k];
            o->len[row + i] = x->dict_len[k];
        }
    }
    return DP_OK;
}

/* data_page: a DATA_PAGE (V1) of at most left values. *nv_out = its values. */
static dp_err_t data_page(rdctx_t *x, const phdr_t *h, const uint8_t *body, int64_t left,
                          size_t *nv_out) {
    if (!h->has_data || !h->has_nv || !h->has_enc) return cerr(x, "data page without its header");
    if (h->nv < 0 || h->nv > left)
        return cerr(x, "data page of %d values, %lld left in the row group", (int)h->nv,
                    (long long)left);
    int dict = h->enc == ENC_PLAIN_DICTIONARY || h->enc == ENC_RLE_DICTIONARY;
    if (!dict && h->enc != ENC_PLAIN)
        return cerr(x, "values encoded %s (%d) are not supported", enc_name(h->enc), (int)h->enc);
    if (dict && !x->has_dict) return cerr(x, "dictionary-encoded page without a dictionary page");
    if (x->c->optional && h->def_enc != ENC_RLE)
        return cerr(x, "definition levels encoded %s (%d) are not supported", enc_name(h->def_enc),
                    (int)h->def_enc);
    const uint8_t *p;
    dp_err_t err = page_body(x, h, body, &p);
    if (err) return err;
    size_t n = (size_t)h->unc, nv = (size_t)h->nv, nn = nv;
    const uint8_t *defs = NULL;
    if (x->c->optional) {
        if (n < 4) return cerr(x, "page too short for its definition levels");
        uint32_t dl = le32(p);
        if (dl > n - 4) return cerr(x, "definition levels of %u bytes in a %zu-byte page", dl, n);
        dp_buf_reset(&x->defs);
        if (dp_buf_reserve(&x->defs, nv)) return cerr(x, "too many values in a page");
        if (pqt_rle_decode_u8(p + 4, dl, 1, x->defs.data, nv))
            return cerr(x, "definition levels are malformed");
        defs = x->defs.data;
        nn = 0;
        for (size_t i = 0; i < nv; i++) nn += defs[i];
        p += 4 + (size_t)dl;
        n -= 4 + (size_t)dl;
    }
    pqt_column_t *o = x->out;
    size_t r = x->row;
    if (dict)
        err = dict_values(x, p, n, nv, nn, defs);
    else
        err = decode_plain(x, p, n, nv, nn, defs, o->null + r, o->i64 ? o->i64 + r : NULL,
                           o->off ? o->off + r : NULL, o->len ? o->len + r : NULL);
    if (err) return err;
    x->row += nv;
    *nv_out = nv;
    return DP_OK;
}

/* read_chunk: every page of the chunk of row group x->group, up to its
 * rows; the dictionary page, if any, comes first. */
static dp_err_t read_chunk(rdctx_t *x) {
    const pqt_file_t *f = x->f;
    const uint8_t *p = f->data + x->ch->start, *end = p + x->ch->comp_size;
    int64_t rows = f->group_rows[x->group], got = 0;
    int pages = 0;
    x->has_dict = 0;
    x->ndict = 0;
    while (got < rows) {
        size_t at = (size_t)(p - f->data);
        if (p >= end)
            return cerr(x, "the chunk ends after %lld of %lld values", (long long)got,
                        (long long)rows);
        pqt_trd_t r;
        pqt_trd_init(&r, p, (size_t)(end - p));
        phdr_t h;
        if (read_page_header(&r, &h)) return cerr(x, "malformed page header at offset %zu", at);
        if ((size_t)h.comp > (size_t)(end - r.p))
            return cerr(x, "page at offset %zu runs past the chunk", at);
        const uint8_t *body = r.p;
        p = body + h.comp;
        if (f->crc_check && h.has_crc && (uint32_t)crc32(0L, body, (uInt)h.comp) != (uint32_t)h.crc)
            return cerr(x, "page at offset %zu fails its crc check", at);
        dp_err_t err = DP_OK;
        size_t nv = 0;
        switch (h.type) {
        case PAGE_DICTIONARY: err = dict_page(x, &h, body, pages); break;
        case PAGE_DATA: err = data_page(x, &h, body, rows - got, &nv); break;
        case PAGE_INDEX: break;
        case PAGE_DATA_V2: return cerr(x, "DATA_PAGE_V2 pages are not supported");
        default: return cerr(x, "page type %d is not supported", (int)h.type);
        }
        if (err) return err;
        got += (int64_t)nv;
        pages++;
    }
    return DP_OK;
}

void pqt_column_fini(pqt_column_t *c) {
    if (!c) return;
    free(c->null);
    free(c->i64);
    free(c->off);
    free(c->len);
    dp_buf_fini(&c->bytes);
    memset(c, 0, sizeof *c);
}

dp_err_t pqt_column_read(const pqt_file_t *f, size_t col, pqt_column_t *out, char *errstr,
                         size_t errstr_size) {
    memset(out, 0, sizeof *out);
    if (!f || col >= f->ncols)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "column %zu out of range (%zu columns)", col, f ? f->ncols : 0);
    const col_t *c = &f->cols[col];
    size_t n = (size_t)f->rows;
    out->n = n;
    out->null = dp_xcalloc(n, 1);
    if (c->ptype == T_BYTE_ARRAY) {
        out->off = dp_xcalloc(n, sizeof *out->off);
        out->len = dp_xcalloc(n, sizeof *out->len);
        dp_buf_init(&out->bytes, PQT_READ_MAX_COLUMN_BYTES);
        dp_buf_reserve(&out->bytes, 0); /* data is never NULL */
    } else {
        out->i64 = dp_xcalloc(n, sizeof *out->i64);
    }
    rdctx_t x;
    memset(&x, 0, sizeof x);
    x.f = f;
    x.c = c;
    x.out = out;
    x.errstr = errstr;
    x.errstr_size = errstr_size;
    dp_buf_init(&x.page, PQT_READ_MAX_PAGE_BYTES);
    dp_buf_init(&x.defs, (size_t)PQT_READ_MAX_ROWS);
    dp_buf_init(&x.idx, (size_t)PQT_READ_MAX_ROWS * sizeof(uint32_t));
    dp_err_t err = DP_OK;
    for (size_t g = 0; g < f->ngroups && !err; g++) {
        x.group = g;
        x.ch = &f->chunks[g * f->ncols + col];
        err = read_chunk(&x);
    }
    dp_buf_fini(&x.page);
    dp_buf_fini(&x.defs);
    dp_buf_fini(&x.idx);
    free(x.dict_i64);
    free(x.dict_off);
    free(x.dict_len);
    if (err) pqt_column_fini(out);
    return err;
}
