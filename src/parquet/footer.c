/* footer.c - read one key/value entry from a Parquet file's footer: the
 * archive asks an object it may not overwrite which offsets it holds.
 *
 * The footer is Thrift compact protocol (FileMetaData); everything but
 * field 5 (key_value_metadata: list<KeyValue{1: key, 2: value}>) is
 * skipped. The bytes come from S3, so every length is checked against the
 * buffer and nesting is bounded. */
#include "parquet/footer.h"

#include <string.h>

#define MAX_DEPTH 32

typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static int varint(rd_t *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

static int binary(rd_t *r, const uint8_t **s, size_t *n) {
    uint64_t len;
    if (varint(r, &len) || len > (uint64_t)(r->end - r->p)) return -1;
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

/* list_header: element type and count of a list or set */
static int list_header(rd_t *r, int *etype, uint64_t *count) {
    if (r->p >= r->end) return -1;
    uint8_t h = *r->p++;
    *etype = h & 0x0f;
    *count = h >> 4;
    if (*count == 15 && varint(r, count)) return -1;
    /* every element takes at least one byte: a cheap bound on the count */
    return *count > (uint64_t)(r->end - r->p) ? -1 : 0;
}

static int skip(rd_t *r, int type, int depth);

static int skip_struct(rd_t *r, int depth) {
    if (depth > MAX_DEPTH) return -1;
    for (;;) {
        if (r->p >= r->end) return -1;
        uint8_t h = *r->p++;
        int type = h & 0x0f;
        if (type == 0) return 0; /* stop */
        if ((h >> 4) == 0) {      /* long form: the field id follows */
            uint64_t id;
            if (varint(r, &id)) return -1;
        }
        if (skip(r, type, depth + 1)) return -1;
    }
}

/* skip: one value of compact type type; in lists a bool is one byte */
static int skip(rd_t *r, int type, int depth) {
    uint64_t v, count;
    const uint8_t *s;
    size_t n;
    int et;
    switch (type) {
    case 1: case 2: return 0;                                /* bool in a field header */
    case 3: if (r->p >= r->end) return -1; r->p++; return 0; /* byte */
    case 4: case 5: case 6: return varint(r, &v);            /* i16, i32, i64 */
    case 7: if (r->end - r->p < 8) return -1; r->p += 8; return 0; /* double */
    case 8: return binary(r, &s, &n);
    case 9: case 10:                                          /* list, set */
        if (depth > MAX_DEPTH || list_header(r, &et, &count)) return -1;
        for (uint64_t i = 0; i < count; i++) {
            if (et == 1 || et == 2) {
                if (r->p >= r->end) return -1;
                r->p++;
            } else if (skip(r, et, depth + 1)) {
                return -1;
            }
        }
        return 0;
    case 11:                                                  /* map */
        if (depth > MAX_DEPTH || varint(r, &count)) return -1;
        if (count == 0) return 0;
        if (count > (uint64_t)(r->end - r->p) || r->p >= r->end) return -1;
        et = *r->p++;
        for (uint64_t i = 0; i < count; i++)
            if (skip(r, et >> 4, depth + 1) || skip(r, et & 0x0f, depth + 1)) return -1;
        return 0;
    case 12: return skip_struct(r, depth);
    default: return -1;
    }
}

dp_err_t pqt_footer_kv(const uint8_t *tail, size_t len, const char *key, char *out,
                       size_t outsz, size_t *need, char *errstr, size_t errstr_size) {
    *need = 0;
    if (len < 12 || memcmp(tail + len - 4, "PAR1", 4) != 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "not a Parquet file (no PAR1 at the end)");
    uint32_t flen = (uint32_t)tail[len - 8] | (uint32_t)tail[len - 7] << 8 |
                    (uint32_t)tail[len - 6] << 16 | (uint32_t)tail[len - 5] << 24;
    if ((uint64_t)flen + 8 > len) {
        *need = (size_t)flen + 8;
        return dp_seterr(errstr, errstr_size, DP_ERR_FULL,
                         "the footer is %u bytes, more than was read", flen);
    }
    rd_t r = {tail + len - 8 - flen, tail + len - 8};
    int16_t id = 0;
    size_t klen = strlen(key);
    for (;;) {
        if (r.p >= r.end) goto bad;
        uint8_t h = *r.p++;
        int type = h & 0x0f;
        if (type == 0) break; /* the end of FileMetaData: no key/value metadata */
        if (h >> 4) {
            id = (int16_t)(id + (h >> 4));
        } else {
            uint64_t z;
            if (varint(&r, &z)) goto bad;
            id = (int16_t)((z >> 1) ^ (~(z & 1) + 1));
        }
        if (id != 5 || type != 9) {
            if (skip(&r, type, 1)) goto bad;
            continue;
        }
        int et;
        uint64_t count;
        if (list_header(&r, &et, &count) || et != 12) goto bad;
        for (uint64_t i = 0; i < count; i++) {
            const uint8_t *k = NULL, *v = NULL;
            size_t kn = 0, vn = 0;
            int16_t fid = 0, ok = 1;
            for (;;) {
                if (r.p >= r.end) { ok = 0; break; }
                uint8_t fh = *r.p++;
                int ft = fh & 0x0f;
                if (ft == 0) break;
                if (fh >> 4) {
                    fid = (int16_t)(fid + (fh >> 4));
                } else {
                    uint64_t z;
                    if (varint(&r, &z)) { ok = 0; break; }
                    fid = (int16_t)((z >> 1) ^ (~(z & 1) + 1));
                }
                if ((fid == 1 || fid == 2) && ft == 8) {
                    if (binary(&r, fid == 1 ? &k : &v, fid == 1 ? &kn : &vn)) { ok = 0; break; }
                } else if (skip(&r, ft, 2)) {
                    ok = 0;
                    break;
                }
            }
            if (!ok) goto bad;
            if (k && kn == klen && memcmp(k, key, klen) == 0) {
                if (!v)
                    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                     "footer entry \"%s\" has no value", key);
                if (vn >= outsz)
                    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                     "footer entry \"%s\" is longer than %zu bytes", key, outsz - 1);
                memcpy(out, v, vn);
                out[vn] = 0;
                return DP_OK;
            }
        }
        break;
    }
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no footer entry \"%s\"", key);
bad:
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "the footer is not a readable FileMetaData");
}
