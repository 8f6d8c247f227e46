/* thrift.h - the Thrift compact protocol, enough for Parquet metadata
 * (FileMetaData, PageHeader): an encoder that serializes into a dp_buf
 * and a bounded reader (pqt_trd_*, at the end) for bytes from outside.
 *
 * The encoder keeps a sticky error: the first failure (the output buffer
 * hit its max, structs nested too deep, a field id out of order) is
 * remembered and every later call becomes a no-op, so a caller writes a
 * whole struct and checks pqt_thrift_error() once at the end.
 *
 * Wire format summary (thrift-compact-protocol.md):
 *   - i16/i32/i64 are zigzag-encoded, then written as ULEB128 varints;
 *   - binary/string is a varint length followed by the bytes;
 *   - a field header is one byte (delta << 4 | type) when the id is 1..15
 *     above the previous field id of the same struct, else the type byte
 *     followed by the id as a zigzag varint;
 *   - bool fields carry their value in the header type (1 true, 2 false);
 *   - a list header is one byte (size << 4 | elem type) for size < 15,
 *     else (0xF0 | elem type) followed by the size as a varint;
 *   - a struct ends with a 0 (stop) byte. */
#ifndef DP_PARQUET_THRIFT_H
#define DP_PARQUET_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Compact protocol type codes, as they appear in field and list headers. */
enum {
    PQT_TC_STOP = 0,
    PQT_TC_TRUE = 1,
    PQT_TC_FALSE = 2,
    PQT_TC_BYTE = 3,
    PQT_TC_I16 = 4,
    PQT_TC_I32 = 5,
    PQT_TC_I64 = 6,
    PQT_TC_DOUBLE = 7,
    PQT_TC_BINARY = 8,
    PQT_TC_LIST = 9,
    PQT_TC_SET = 10,
    PQT_TC_MAP = 11,
    PQT_TC_STRUCT = 12
};
/* Element type used in list headers for lists of bool (the de-facto value). */
#define PQT_TC_BOOL_ELEM PQT_TC_TRUE

/* Deepest struct nesting the encoder tracks; Parquet metadata needs 6. */
#define PQT_THRIFT_MAX_DEPTH 16

typedef struct pqt_thrift {
    dp_buf_t *out;
    int depth; /* open structs */
    int16_t last_id[PQT_THRIFT_MAX_DEPTH]; /* last field id per open struct */
    dp_err_t err; /* sticky first failure */
} pqt_thrift_t;

/* pqt_zigzag32/64: map signed to unsigned so small magnitudes stay small
 * (0->0, -1->1, 1->2, -2->3, ...). */
static inline uint32_t pqt_zigzag32(int32_t v) {
    return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31));
}
static inline uint64_t pqt_zigzag64(int64_t v) {
    return ((uint64_t)v << 1) ^ (UINT64_C(0) - ((uint64_t)v >> 63));
}

/* pqt_varint_encode: write v as ULEB128 into out (room for 10 bytes),
 * return the number of bytes used (1..10). */
size_t pqt_varint_encode(uint64_t v, uint8_t out[10]);

/* pqt_thrift_init: start encoding at the end of out (not reset); the
 * encoder is outside any struct until pqt_thrift_struct_begin. */
void pqt_thrift_init(pqt_thrift_t *t, dp_buf_t *out);

/* pqt_thrift_error: the first failure so far, DP_OK if none. */
static inline dp_err_t pqt_thrift_error(const pqt_thrift_t *t) { return t->err; }

/* Structs. struct_begin opens a top-level struct or a struct list element;
 * field_struct writes a struct-typed field header and opens the struct.
 * Both are closed by struct_end, which writes the stop byte. */
void pqt_thrift_struct_begin(pqt_thrift_t *t);
void pqt_thrift_struct_end(pqt_thrift_t *t);
void pqt_thrift_field_struct(pqt_thrift_t *t, int16_t id);

/* pqt_thrift_field_header: a raw field header of the given compact type;
 * ids must increase within a struct (Parquet's do), else DP_ERR_INVALID. */
void pqt_thrift_field_header(pqt_thrift_t *t, int16_t id, uint8_t type);

/* Scalar fields: header plus value. */
void pqt_thrift_field_bool(pqt_thrift_t *t, int16_t id, int v);
void pqt_thrift_field_i16(pqt_thrift_t *t, int16_t id, int16_t v);
void pqt_thrift_field_i32(pqt_thrift_t *t, int16_t id, int32_t v);
void pqt_thrift_field_i64(pqt_thrift_t *t, int16_t id, int64_t v);
void pqt_thrift_field_binary(pqt_thrift_t *t, int16_t id, const void *p, size_t n);
void pqt_thrift_field_string(pqt_thrift_t *t, int16_t id, const char *s);

/* Lists. field_list writes a list-typed field header and the list header;
 * list_header alone is for nested lists. The caller then writes exactly n
 * elements with the element writers below (or struct_begin/struct_end). */
void pqt_thrift_field_list(pqt_thrift_t *t, int16_t id, uint8_t elem_type, size_t n);
void pqt_thrift_list_header(pqt_thrift_t *t, uint8_t elem_type, size_t n);

/* Bare values, for list elements. */
void pqt_thrift_bool(pqt_thrift_t *t, int v);
void pqt_thrift_i32(pqt_thrift_t *t, int32_t v);
void pqt_thrift_i64(pqt_thrift_t *t, int64_t v);
void pqt_thrift_binary(pqt_thrift_t *t, const void *p, size_t n);
void pqt_thrift_string(pqt_thrift_t *t, const char *s);

/* pqt_thrift_raw: append already-encoded bytes (e.g. a struct serialized
 * earlier into another buffer) as one list element. */
void pqt_thrift_raw(pqt_thrift_t *t, const void *p, size_t n);

/* ---- reading ----
 * A reader walks bytes that come from outside (S3 objects): every length
 * and count is checked against the bytes left, skipped values nest at
 * most PQT_TRD_MAX_DEPTH deep, and nothing is allocated. Each function
 * returns 0 on success and -1 on malformed or truncated input; the
 * position is then unspecified and the reader should be dropped. */

#define PQT_TRD_MAX_DEPTH 32

typedef struct pqt_trd {
    const uint8_t *p, *end; /* next byte, end of the readable bytes */
} pqt_trd_t;

static inline void pqt_trd_init(pqt_trd_t *r, const uint8_t *p, size_t n) {
    r->p = p;
    r->end = p + n;
}

/* pqt_trd_varint: a ULEB128 value of at most 64 bits (10 bytes). */
int pqt_trd_varint(pqt_trd_t *r, uint64_t *v);

/* pqt_trd_i32 / _i64: a zigzag varint; _i32 also serves i16 and
 * refuses values outside int32_t. */
int pqt_trd_i32(pqt_trd_t *r, int32_t *v);
int pqt_trd_i64(pqt_trd_t *r, int64_t *v);

/* pqt_trd_binary: a length-prefixed binary/string; *s points into the
 * input (not NUL-terminated). */
int pqt_trd_binary(pqt_trd_t *r, const uint8_t **s, size_t *n);

/* pqt_trd_list_header: element type and count of a list or set; the
 * count is at most the bytes left (every element takes one byte at least). */
int pqt_trd_list_header(pqt_trd_t *r, int *elem_type, uint64_t *count);

/* pqt_trd_field: the next field header of a struct. *id holds the
 * previous field id of the struct on entry (0 before the first field)
 * and this field's id on return. *type is 0 at the struct's stop byte;
 * PQT_TC_TRUE / PQT_TC_FALSE carry a bool field's value. */
int pqt_trd_field(pqt_trd_t *r, int16_t *id, int *type);

/* pqt_trd_skip: skip one value of compact type type (a bool in a list is
 * one byte; PQT_TC_TRUE/FALSE as field types have no bytes). depth is the
 * nesting of the value (1 for a field of a top-level struct). */
int pqt_trd_skip(pqt_trd_t *r, int type, int depth);

#endif
