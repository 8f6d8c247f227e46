/* thrift.c - Thrift compact protocol encoder (see thrift.h for the format). */
#include "parquet/thrift.h"

#include <string.h>

size_t pqt_varint_encode(uint64_t v, uint8_t out[10]) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

void pqt_thrift_init(pqt_thrift_t *t, dp_buf_t *out) {
    t->out = out;
    t->depth = 0;
    memset(t->last_id, 0, sizeof t->last_id);
    t->err = DP_OK;
}

/* put: append n bytes unless an earlier call failed; remember the failure. */
static void put(pqt_thrift_t *t, const void *p, size_t n) {
    if (t->err) return;
    t->err = dp_buf_append(t->out, p, n);
}

static void put_byte(pqt_thrift_t *t, uint8_t b) { put(t, &b, 1); }

static void put_varint(pqt_thrift_t *t, uint64_t v) {
    uint8_t tmp[10];
    put(t, tmp, pqt_varint_encode(v, tmp));
}

void pqt_thrift_struct_begin(pqt_thrift_t *t) {
    if (t->err) return;
    if (t->depth >= PQT_THRIFT_MAX_DEPTH) {
        t->err = DP_ERR_INVALID;
        return;
    }
    t->last_id[t->depth++] = 0;
}

void pqt_thrift_struct_end(pqt_thrift_t *t) {
    if (t->err) return;
    if (t->depth <= 0) {
        t->err = DP_ERR_INVALID;
        return;
    }
    put_byte(t, PQT_TC_STOP);
    t->depth--;
}

void pqt_thrift_field_header(pqt_thrift_t *t, int16_t id, uint8_t type) {
    if (t->err) return;
    if (t->depth <= 0 || id <= t->last_id[t->depth - 1]) {
        t->err = DP_ERR_INVALID;
        return;
    }
    int delta = id - t->last_id[t->depth - 1];
    if (delta <= 15) {
        put_byte(t, (uint8_t)(delta << 4 | type));
    } else {
        put_byte(t, type);
        put_varint(t, pqt_zigzag32(id));
    }
    t->last_id[t->depth - 1] = id;
}

void pqt_thrift_field_struct(pqt_thrift_t *t, int16_t id) {
    pqt_thrift_field_header(t, id, PQT_TC_STRUCT);
    pqt_thrift_struct_begin(t);
}

void pqt_thrift_field_bool(pqt_thrift_t *t, int16_t id, int v) {
    pqt_thrift_field_header(t, id, v ? PQT_TC_TRUE : PQT_TC_FALSE);
}

void pqt_thrift_field_i16(pqt_thrift_t *t, int16_t id, int16_t v) {
    pqt_thrift_field_header(t, id, PQT_TC_I16);
    put_varint(t, pqt_zigzag32(v));
}

void pqt_thrift_field_i32(pqt_thrift_t *t, int16_t id, int32_t v) {
    pqt_thrift_field_header(t, id, PQT_TC_I32);
    pqt_thrift_i32(t, v);
}

void pqt_thrift_field_i64(pqt_thrift_t *t, int16_t id, int64_t v) {
    pqt_thrift_field_header(t, id, PQT_TC_I64);
    pqt_thrift_i64(t, v);
}

void pqt_thrift_field_binary(pqt_thrift_t *t, int16_t id, const void *p, size_t n) {
    pqt_thrift_field_header(t, id, PQT_TC_BINARY);
    pqt_thrift_binary(t, p, n);
}

void pqt_thrift_field_string(pqt_thrift_t *t, int16_t id, const char *s) {
    pqt_thrift_field_binary(t, id, s, strlen(s));
}

void pqt_thrift_field_list(pqt_thrift_t *t, int16_t id, uint8_t elem_type, size_t n) {
    pqt_thrift_field_header(t, id, PQT_TC_LIST);
    pqt_thrift_list_header(t, elem_type, n);
}

void pqt_thrift_list_header(pqt_thrift_t *t, uint8_t elem_type, size_t n) {
    if (t->err) return;
    if (n > INT32_MAX) { /* thrift sizes are i32 */
        t->err = DP_ERR_INVALID;
        return;
    }
    if (n < 15) {
        put_byte(t, (uint8_t)(n << 4 | elem_type));
    } else {
        put_byte(t, (uint8_t)(0xF0 | elem_type));
        put_varint(t, n);
    }
}

void pqt_thrift_bool(pqt_thrift_t *t, int v) { put_byte(t, v ? PQT_TC_TRUE : PQT_TC_FALSE); }

void pqt_thrift_i32(pqt_thrift_t *t, int32_t v) { put_varint(t, pqt_zigzag32(v)); }

void pqt_thrift_i64(pqt_thrift_t *t, int64_t v) { put_varint(t, pqt_zigzag64(v)); }

void pqt_thrift_binary(pqt_thrift_t *t, const void *p, size_t n) {
    if (t->err) return;
    if (n > INT32_MAX) {
        t->err = DP_ERR_INVALID;
        return;
    }
    put_varint(t, n);
    put(t, p, n);
}

void pqt_thrift_string(pqt_thrift_t *t, const char *s) { pqt_thrift_binary(t, s, strlen(s)); }

void pqt_thrift_raw(pqt_thrift_t *t, const void *p, size_t n) { put(t, p, n); }
