/* encoding.c - RLE/bit-packed hybrid encoder and decoder, boolean bit
 * packing (see encoding.h). */
#include "parquet/encoding.h"

#include "parquet/thrift.h" /* pqt_varint_encode */

#define MAX_GROUPS_PER_RUN 63 /* keeps the bit-packed header one byte */
#define MAX_RLE_RUN ((size_t)1 << 30) /* keeps count << 1 well inside a u32 */

/* A view of the input values: either bytes or 32-bit words. */
typedef struct vals {
    const uint8_t *u8;
    const uint32_t *u32;
} vals_t;

static inline uint32_t val_at(const vals_t *v, size_t i) { return v->u8 ? v->u8[i] : v->u32[i]; }

/* run_len: how many values starting at i equal vals[i], counting at most cap. */
static size_t run_len(const vals_t *v, size_t i, size_t n, size_t cap) {
    uint32_t x = val_at(v, i);
    size_t j = i + 1;
    while (j < n && j - i < cap && val_at(v, j) == x) j++;
    return j - i;
}

static dp_err_t put_varint(dp_buf_t *out, uint64_t x) {
    uint8_t tmp[10];
    return dp_buf_append(out, tmp, pqt_varint_encode(x, tmp));
}

/* put_rle_run: one RLE run of count copies of x. */
static dp_err_t put_rle_run(dp_buf_t *out, uint32_t x, size_t count, int bit_width) {
    dp_err_t err = put_varint(out, (uint64_t)count << 1);
    if (err) return err;
    uint8_t b[4];
    int nbytes = (bit_width + 7) / 8;
    for (int k = 0; k < nbytes; k++) b[k] = (uint8_t)(x >> (8 * k));
    return dp_buf_append(out, b, (size_t)nbytes);
}

/* put_bitpacked_run: vals[start..end) as a bit-packed run of whole groups
 * of 8, zero-padding the last group when end - start is not a multiple of 8. */
static dp_err_t put_bitpacked_run(dp_buf_t *out, const vals_t *v, size_t start, size_t end,
                                  int bit_width) {
    size_t groups = (end - start + 7) / 8;
    dp_err_t err = put_varint(out, (uint64_t)groups << 1 | 1);
    if (err) return err;
    size_t nbytes = groups * (size_t)bit_width; /* 8 values * w bits = w bytes per group */
    err = dp_buf_reserve(out, nbytes);
    if (err) return err;
    uint8_t *p = out->data + out->len;
    uint64_t acc = 0;
    int nbits = 0;
    for (size_t i = start; i < start + groups * 8; i++) {
        uint64_t x = i < end ? val_at(v, i) : 0;
        acc |= x << nbits;
        nbits += bit_width;
        while (nbits >= 8) {
            *p++ = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    out->len += nbytes;
    return DP_OK;
}

/* rle_encode: the greedy hybrid encoder shared by the u8 and u32 entry points. */
static dp_err_t rle_encode(dp_buf_t *out, const vals_t *v, size_t n, int bit_width) {
    if (bit_width < 1 || bit_width > 32) return DP_ERR_INVALID;
    uint64_t limit = (uint64_t)1 << bit_width;
    for (size_t i = 0; i < n; i++)
        if (val_at(v, i) >= limit) return DP_ERR_INVALID;
    size_t i = 0;
    while (i < n) {
        size_t r = run_len(v, i, n, MAX_RLE_RUN);
        if (r >= 8) {
            dp_err_t err = put_rle_run(out, val_at(v, i), r, bit_width);
            if (err) return err;
            i += r;
            continue;
        }
        /* Bit-pack groups of 8 until a run of 8 equal values starts at a
         * group boundary, the data ends, or the run is full. */
        size_t start = i, groups = 0;
        while (i < n && groups < MAX_GROUPS_PER_RUN) {
            i += n - i < 8 ? n - i : 8;
            groups++;
            if (i < n && run_len(v, i, n, 8) >= 8) break;
        }
        dp_err_t err = put_bitpacked_run(out, v, start, i, bit_width);
        if (err) return err;
    }
    return DP_OK;
}

dp_err_t pqt_rle_encode_u8(dp_buf_t *out, const uint8_t *vals, size_t n, int bit_width) {
    if (bit_width > 8) return DP_ERR_INVALID;
    vals_t v = {vals, NULL};
    return rle_encode(out, &v, n, bit_width);
}

dp_err_t pqt_rle_encode_u32(dp_buf_t *out, const uint32_t *vals, size_t n, int bit_width) {
    vals_t v = {NULL, vals};
    return rle_encode(out, &v, n, bit_width);
}

dp_err_t pqt_bitpack_bools(dp_buf_t *out, const uint8_t *vals, size_t n) {
    size_t nbytes = (n + 7) / 8;
    dp_err_t err = dp_buf_reserve(out, nbytes);
    if (err) return err;
    uint8_t *p = out->data + out->len;
    for (size_t k = 0; k < nbytes; k++) p[k] = 0;
    for (size_t i = 0; i < n; i++)
        if (vals[i]) p[i / 8] |= (uint8_t)(1u << (i % 8));
    out->len += nbytes;
    return DP_OK;
}

int pqt_bit_width(uint32_t max_value) {
    int w = 1;
    while (w < 32 && (max_value >> w) != 0) w++;
    return w;
}

/* ---- decoding ---- */

/* An output view for the decoder: bytes or 32-bit words. */
typedef struct outv {
    uint8_t *u8;
    uint32_t *u32;
} outv_t;

static inline void out_set(const outv_t *o, size_t i, uint32_t x) {
    if (o->u8)
        o->u8[i] = (uint8_t)x;
    else
        o->u32[i] = x;
}

/* get_varint: a run header of at most 64 bits from p[*pos..len). */
static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* unpack: take values of bit_width bits, LSB first, from q (which holds
 * at least ceil(take * bit_width / 8) bytes) into out[i..i+take). */
static void unpack(const uint8_t *q, int bit_width, const outv_t *o, size_t i, size_t take) {
    uint64_t mask = ((uint64_t)1 << bit_width) - 1, acc = 0;
    int nbits = 0;
    for (size_t k = 0; k < take; k++) {
        while (nbits < bit_width) {
            acc |= (uint64_t)*q++ << nbits;
            nbits += 8;
        }
        out_set(o, i + k, (uint32_t)(acc & mask));
        acc >>= bit_width;
        nbits -= bit_width;
    }
}

/* rle_decode: the decoder shared by the u8 and u32 entry points. */
static dp_err_t rle_decode(const uint8_t *p, size_t len, int bit_width, const outv_t *o, size_t n) {
    size_t pos = 0, i = 0, vbytes = (size_t)(bit_width + 7) / 8;
    while (i < n) {
        uint64_t h;
        if (get_varint(p, len, &pos, &h)) return DP_ERR_INVALID;
        uint64_t count = h >> 1, want = n - i;
        if (h & 1) { /* bit-packed: count groups of 8 values */
            uint64_t take = count > want / 8 ? want : count * 8;
            uint64_t need = (take * (uint64_t)bit_width + 7) / 8, left = len - pos;
            if (need > left) return DP_ERR_INVALID;
            unpack(p + pos, bit_width, o, i, (size_t)take);
            /* the whole run, or what there is of it: nothing follows a cut run */
            if (bit_width == 0) {
                /* no bytes */
            } else if (count <= left / (uint64_t)bit_width) {
                pos += (size_t)(count * (uint64_t)bit_width);
            } else {
                pos = len;
            }
            i += (size_t)take;
        } else { /* RLE: count copies of one value */
            if (vbytes > len - pos) return DP_ERR_INVALID;
            uint64_t x = 0;
            for (size_t k = 0; k < vbytes; k++) x |= (uint64_t)p[pos + k] << (8 * k);
            pos += vbytes;
            if (x >> bit_width) return DP_ERR_INVALID;
            size_t take = (size_t)(count < want ? count : want);
            for (size_t k = 0; k < take; k++) out_set(o, i + k, (uint32_t)x);
            i += take;
        }
    }
    return DP_OK;
}

dp_err_t pqt_rle_decode_u8(const uint8_t *p, size_t len, int bit_width, uint8_t *out, size_t n) {
    if (bit_width < 0 || bit_width > 8) return DP_ERR_INVALID;
    outv_t o = {out, NULL};
    return rle_decode(p, len, bit_width, &o, n);
}

dp_err_t pqt_rle_decode_u32(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n) {
    if (bit_width < 0 || bit_width > 32) return DP_ERR_INVALID;
    outv_t o = {NULL, out};
    return rle_decode(p, len, bit_width, &o, n);
}
