/* thrift.c - Thrift compact protocol encoder and bounded reader (see
 * thrift.h for the format). */
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

/* ---- reading ---- */

int pqt_trd_varint(pqt_trd_t *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

int pqt_trd_i64(pqt_trd_t *r, int64_t *v) {
    uint64_t z;
    if (pqt_trd_varint(r, &z)) return -1;
    *v = (int64_t)((z >> 1) ^ (UINT64_C(0) - (z & 1)));
    return 0;
}

int pqt_trd_i32(pqt_trd_t *r, int32_t *v) {
    uint64_t z;
    if (pqt_trd_varint(r, &z) || z > UINT32_MAX) return -1;
    *v = (int32_t)(int64_t)((z >> 1) ^ (UINT64_C(0) - (z & 1)));
    return 0;
}

int pqt_trd_binary(pqt_trd_t *r, const uint8_t **s, size_t *n) {
    uint64_t len;
    if (pqt_trd_varint(r, &len) || len > (uint64_t)(r->end - r->p)) return -1;
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

int pqt_trd_list_header(pqt_trd_t *r, int *elem_type, uint64_t *count) {
    if (r->p >= r->end) return -1;
    uint8_t h = *r->p++;
    *elem_type = h & 0x0f;
    *count = h >> 4;
    if (*count == 15 && pqt_trd_varint(r, count)) return -1;
    return *count > (uint64_t)(r->end - r->p) ? -1 : 0;
}

int pqt_trd_field(pqt_trd_t *r, int16_t *id, int *type) {
    if (r->p >= r->end) return -1;
    uint8_t h = *r->p++;
    *type = h & 0x0f;
    if (*type == PQT_TC_STOP) return 0;
    if (h >> 4) {
        *id = (int16_t)(*id + (h >> 4));
    } else { /* long form: the id follows as a zigzag varint, kept modulo 2^16 */
        uint64_t z;
        if (pqt_trd_varint(r, &z)) return -1;
        *id = (int16_t)(uint16_t)((z >> 1) ^ (UINT64_C(0) - (z & 1)));
    }
    return 0;
}

static int skip_struct(pqt_trd_t *r, int depth) {
    if (depth > PQT_TRD_MAX_DEPTH) return -1;
    int16_t id = 0;
    for (;;) {
        int type;
        if (pqt_trd_field(r, &id, &type)) return -1;
        if (type == PQT_TC_STOP) return 0;
        if (pqt_trd_skip(r, type, depth + 1)) return -1;
    }
}

/* skip_elems: count elements of type et (bools one byte each). */
static int skip_elems(pqt_trd_t *r, int et, uint64_t count, int depth) {
    for (uint64_t i = 0; i < count; i++) {
        if (et == PQT_TC_TRUE || et == PQT_TC_FALSE) {
            if (r->p >= r->end) return -1;
            r->p++;
        } else if (pqt_trd_skip(r, et, depth + 1)) {
            return -1;
        }
    }
    return 0;
}

int pqt_trd_skip(pqt_trd_t *r, int type, int depth) {
    uint64_t v, count;
    const uint8_t *s;
    size_t n;
    int et;
    switch (type) {
    case PQT_TC_TRUE:
    case PQT_TC_FALSE: return 0; /* bool in a field header */
    case PQT_TC_BYTE:
        if (r->p >= r->end) return -1;
        r->p++;
        return 0;
    case PQT_TC_I16:
    case PQT_TC_I32:
    case PQT_TC_I64: return pqt_trd_varint(r, &v);
    case PQT_TC_DOUBLE:
        if (r->end - r->p < 8) return -1;
        r->p += 8;
        return 0;
    case PQT_TC_BINARY: return pqt_trd_binary(r, &s, &n);
    case PQT_TC_LIST:
    case PQT_TC_SET:
        if (depth > PQT_TRD_MAX_DEPTH || pqt_trd_list_header(r, &et, &count)) return -1;
        return skip_elems(r, et, count, depth);
    case PQT_TC_MAP:
        if (depth > PQT_TRD_MAX_DEPTH || pqt_trd_varint(r, &count)) return -1;
        if (count == 0) return 0;
        if (count > (uint64_t)(r->end - r->p) || r->p >= r->end) return -1;
        et = *r->p++;
        for (uint64_t i = 0; i < count; i++)
            if (pqt_trd_skip(r, et >> 4, depth + 1) || pqt_trd_skip(r, et & 0x0f, depth + 1))
                return -1;
        return 0;
    case PQT_TC_STRUCT: return skip_struct(r, depth);
    default: return -1;
    }
}
