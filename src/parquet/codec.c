/* codec.c - snappy, gzip and zstd page compression and decompression
 * (see codec.h). */
#include "parquet/codec.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define GZIP_LEVEL Z_DEFAULT_COMPRESSION
#define ZSTD_LEVEL ZSTD_CLEVEL_DEFAULT

void pqt_codec_init(pqt_codec_ctx_t *c, pqt_codec_t codec) {
    c->codec = codec;
    c->zstd = NULL;
    c->gz = NULL;
}

void pqt_codec_fini(pqt_codec_ctx_t *c) {
    if (c->zstd) ZSTD_freeCCtx(c->zstd);
    if (c->gz) {
        deflateEnd(c->gz);
        free(c->gz);
    }
    c->zstd = NULL;
    c->gz = NULL;
}

int pqt_codec_parquet_id(pqt_codec_t codec) {
    switch (codec) {
    case PQT_CODEC_NONE: return 0; /* UNCOMPRESSED */
    case PQT_CODEC_SNAPPY: return 1; /* SNAPPY */
    case PQT_CODEC_GZIP: return 2; /* GZIP */
    case PQT_CODEC_ZSTD: return 6; /* ZSTD */
    }
    return -1;
}

int pqt_codec_from_parquet_id(int id, pqt_codec_t *codec) {
    switch (id) {
    case 0: *codec = PQT_CODEC_NONE; return 0;
    case 1: *codec = PQT_CODEC_SNAPPY; return 0;
    case 2: *codec = PQT_CODEC_GZIP; return 0;
    case 6: *codec = PQT_CODEC_ZSTD; return 0;
    }
    return -1;
}

const char *pqt_codec_name(pqt_codec_t codec) {
    switch (codec) {
    case PQT_CODEC_NONE: return "none";
    case PQT_CODEC_SNAPPY: return "snappy";
    case PQT_CODEC_GZIP: return "gzip";
    case PQT_CODEC_ZSTD: return "zstd";
    }
    return NULL;
}

/* compress_snappy: one raw snappy block (no framing format). */
static dp_err_t compress_snappy(const void *src, size_t n, dp_buf_t *dst, char *errstr,
                                size_t errstr_size) {
    size_t bound = snappy_max_compressed_length(n);
    dp_err_t err = dp_buf_reserve(dst, bound);
    if (err)
        return dp_seterr(errstr, errstr_size, err, "snappy output of %zu bytes over limit", bound);
    size_t outlen = bound;
    snappy_status st = snappy_compress(src, n, (char *)dst->data + dst->len, &outlen);
    if (st != SNAPPY_OK)
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "snappy_compress failed (status %d)",
                         (int)st);
    dst->len += outlen;
    return DP_OK;
}

/* compress_gzip: one complete gzip member; the deflate stream is created
 * once and reset for every page. */
static dp_err_t compress_gzip(pqt_codec_ctx_t *c, const void *src, size_t n, dp_buf_t *dst,
                              char *errstr, size_t errstr_size) {
    z_stream *zs = c->gz;
    if (!zs) {
        zs = dp_xcalloc(1, sizeof *zs);
        int rc = deflateInit2(zs, GZIP_LEVEL, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) {
            free(zs);
            return dp_seterr(errstr, errstr_size, DP_ERR_IO, "deflateInit2 failed (%d)", rc);
        }
        c->gz = zs;
    } else if (deflateReset(zs) != Z_OK) {
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "deflateReset failed");
    }
    if (n > UINT32_MAX)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "page too big for gzip");
    size_t bound = deflateBound(zs, (uLong)n);
    dp_err_t err = dp_buf_reserve(dst, bound);
    if (err)
        return dp_seterr(errstr, errstr_size, err, "gzip output of %zu bytes over limit", bound);
    zs->next_in = (Bytef *)(uintptr_t)src; /* zlib does not write through next_in */
    zs->avail_in = (uInt)n;
    zs->next_out = dst->data + dst->len;
    zs->avail_out = (uInt)bound;
    int rc = deflate(zs, Z_FINISH);
    if (rc != Z_STREAM_END)
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "deflate failed (%d)", rc);
    dst->len += bound - zs->avail_out;
    return DP_OK;
}

/* compress_zstd: one zstd frame with the content size in its header. */
static dp_err_t compress_zstd(pqt_codec_ctx_t *c, const void *src, size_t n, dp_buf_t *dst,
                              char *errstr, size_t errstr_size) {
    if (!c->zstd) {
        c->zstd = ZSTD_createCCtx();
        if (!c->zstd) return dp_seterr(errstr, errstr_size, DP_ERR_IO, "ZSTD_createCCtx failed");
    }
    size_t bound = ZSTD_compressBound(n);
    if (ZSTD_isError(bound))
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "page too big for zstd");
    dp_err_t err = dp_buf_reserve(dst, bound);
    if (err)
        return dp_seterr(errstr, errstr_size, err, "zstd output of %zu bytes over limit", bound);
    size_t r = ZSTD_compressCCtx(c->zstd, dst->data + dst->len, bound, src, n, ZSTD_LEVEL);
    if (ZSTD_isError(r))
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "zstd compression failed: %s",
                         ZSTD_getErrorName(r));
    dst->len += r;
    return DP_OK;
}

dp_err_t pqt_codec_compress(pqt_codec_ctx_t *c, const void *src, size_t n, dp_buf_t *dst,
                            char *errstr, size_t errstr_size) {
    switch (c->codec) {
    case PQT_CODEC_SNAPPY: return compress_snappy(src, n, dst, errstr, errstr_size);
    case PQT_CODEC_GZIP: return compress_gzip(c, src, n, dst, errstr, errstr_size);
    case PQT_CODEC_ZSTD: return compress_zstd(c, src, n, dst, errstr, errstr_size);
    case PQT_CODEC_NONE: break;
    }
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no compressor for codec %d",
                     (int)c->codec);
}

/* ---- decompression ---- */

static dp_err_t decompress_snappy(const void *src, size_t n, void *dst, size_t dst_len,
                                  char *errstr, size_t errstr_size) {
    size_t ulen = 0;
    if (snappy_uncompressed_length(src, n, &ulen) != SNAPPY_OK)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "snappy data has no valid length");
    if (ulen != dst_len)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "snappy data holds %zu bytes, the page header says %zu", ulen, dst_len);
    size_t outlen = dst_len;
    uint8_t dummy;
    snappy_status st = snappy_uncompress(src, n, dst_len ? dst : (void *)&dummy, &outlen);
    if (st != SNAPPY_OK || outlen != dst_len)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "snappy data is corrupt (status %d)",
                         (int)st);
    return DP_OK;
}

/* decompress_gzip: one gzip (or zlib) stream that must end exactly at
 * dst_len. */
static dp_err_t decompress_gzip(const void *src, size_t n, void *dst, size_t dst_len, char *errstr,
                                size_t errstr_size) {
    if (n > UINT32_MAX || dst_len > UINT32_MAX)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "gzip page too big");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int rc = inflateInit2(&zs, 15 + 32); /* gzip or zlib header, detected */
    if (rc != Z_OK)
        return dp_seterr(errstr, errstr_size, DP_ERR_IO, "inflateInit2 failed (%d)", rc);
    uint8_t dummy;
    zs.next_in = (Bytef *)(uintptr_t)src; /* zlib does not write through next_in */
    zs.avail_in = (uInt)n;
    zs.next_out = dst_len ? dst : &dummy;
    zs.avail_out = (uInt)dst_len;
    rc = inflate(&zs, Z_FINISH);
    uLong got = zs.total_out;
    inflateEnd(&zs);
    if (rc == Z_STREAM_END && got == dst_len) return DP_OK;
    if (rc == Z_STREAM_END)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "gzip data holds %lu bytes, the page header says %zu", got, dst_len);
    if (rc == Z_BUF_ERROR && zs.avail_in > 0 && got == dst_len)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "gzip data holds more than the page header's %zu bytes", dst_len);
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "gzip data is corrupt or truncated (%d)",
                     rc);
}

static dp_err_t decompress_zstd(const void *src, size_t n, void *dst, size_t dst_len, char *errstr,
                                size_t errstr_size) {
    uint8_t dummy;
    size_t r = ZSTD_decompress(dst_len ? dst : &dummy, dst_len, src, n);
    if (ZSTD_isError(r))
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "zstd data is corrupt: %s",
                         ZSTD_getErrorName(r));
    if (r != dst_len)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "zstd data holds %zu bytes, the page header says %zu", r, dst_len);
    return DP_OK;
}

dp_err_t pqt_codec_decompress(pqt_codec_t codec, const void *src, size_t n, void *dst,
                              size_t dst_len, char *errstr, size_t errstr_size) {
    switch (codec) {
    case PQT_CODEC_NONE:
        if (n != dst_len)
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "uncompressed page of %zu bytes, the page header says %zu", n,
                             dst_len);
        if (n) memcpy(dst, src, n);
        return DP_OK;
    case PQT_CODEC_SNAPPY: return decompress_snappy(src, n, dst, dst_len, errstr, errstr_size);
    case PQT_CODEC_GZIP: return decompress_gzip(src, n, dst, dst_len, errstr, errstr_size);
    case PQT_CODEC_ZSTD: return decompress_zstd(src, n, dst, dst_len, errstr, errstr_size);
    }
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "no decompressor for codec %d",
                     (int)codec);
}
