/* footer.c - read one key/value entry from a Parquet file's footer: the
 * archive asks an object it may not overwrite which offsets it holds.
 *
 * The footer is Thrift compact protocol (FileMetaData); everything but
 * field 5 (key_value_metadata: list<KeyValue{1: key, 2: value}>) is
 * skipped. The bytes come from S3, so every length is checked against the
 * buffer and nesting is bounded. */
#include "parquet/footer.h"

#include <string.h>

#include "parquet/thrift.h"

/* read_kv: one KeyValue struct; k / v stay NULL when absent. */
static int read_kv(pqt_trd_t *r, const uint8_t **k, size_t *kn, const uint8_t **v, size_t *vn) {
    int16_t fid = 0;
    for (;;) {
        int ft;
        if (pqt_trd_field(r, &fid, &ft)) return -1;
        if (ft == PQT_TC_STOP) return 0;
        if ((fid == 1 || fid == 2) && ft == PQT_TC_BINARY) {
            if (pqt_trd_binary(r, fid == 1 ? k : v, fid == 1 ? kn : vn)) return -1;
        } else if (pqt_trd_skip(r, ft, 2)) {
            return -1;
        }
    }
}

dp_err_t pqt_footer_kv(const uint8_t *tail, size_t len, const char *key, char *out, size_t outsz,
                       size_t *need, char *errstr, size_t errstr_size) {
    *need = 0;
    if (len < 12 || memcmp(tail + len - 4, "PAR1", 4) != 0)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "not a Parquet file (no PAR1 at the end)");
    uint32_t flen = (uint32_t)tail[len - 8] | (uint32_t)tail[len - 7] << 8 |
        (uint32_t)tail[len - 6] << 16 | (uint32_t)tail[len - 5] << 24;
    if ((uint64_t)flen + 8 > len) {
        *need = (size_t)flen + 8;
        return dp_seterr(errstr, errstr_size, DP_ERR_FULL,
                         "the footer is %u bytes, more than was read", flen);
    }
    pqt_trd_t r;
    pqt_trd_init(&r, tail + len - 8 - flen, flen);
    int16_t id = 0;
    size_t klen = strlen(key);
    for (;;) {
        int type;
        if (pqt_trd_field(&r, &id, &type)) goto bad;
        if (type == PQT_TC_STOP) break; /* the end of FileMetaData: no key/value metadata */
        if (id != 5 || type != PQT_TC_LIST) {
            if (pqt_trd_skip(&r, type, 1)) goto bad;
            continue;
        }
        int et;
        uint64_t count;
        if (pqt_trd_list_header(&r, &et, &count) || et != PQT_TC_STRUCT) goto bad;
        for (uint64_t i = 0; i < count; i++) {
            const uint8_t *k = NULL, *v = NULL;
            size_t kn = 0, vn = 0;
            if (read_kv(&r, &k, &kn, &v, &vn)) goto bad;
            if (k && kn == klen && memcmp(k, key, klen) == 0) {
                if (!v)
                    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                     "footer entry \"%s\" has no value", key);
                if (vn >= outsz)
                    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                                     "footer entry \"%s\" is longer than %zu bytes", key,
                                     outsz - 1);
                memcpy(out, v, vn);
                out[vn] = 0;
                return DP_OK;
            }
        }
        break;
    }
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no footer entry \"%s\"", key);
bad:
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                     "the footer is not a readable FileMetaData");
}
