/* codec.h - page compression for the Parquet writer and decompression
 * for the reader: raw snappy blocks, gzip (RFC 1952, zlib with windowBits
 * 31) and zstd frames, as Compression.md specifies. A compression context
 * is reused for every page of a file; decompression needs none. */
#ifndef DP_PARQUET_CODEC_H
#define DP_PARQUET_CODEC_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "parquet/writer.h"

typedef struct pqt_codec_ctx {
    pqt_codec_t codec;
    void *zstd; /* ZSTD_CCtx *, created on first use */
    void *gz; /* z_stream *, created on first use */
} pqt_codec_ctx_t;

/* pqt_codec_init: a context for codec; allocates nothing yet. */
void pqt_codec_init(pqt_codec_ctx_t *c, pqt_codec_t codec);
void pqt_codec_fini(pqt_codec_ctx_t *c);

/* pqt_codec_parquet_id: the CompressionCodec value in parquet.thrift. */
int pqt_codec_parquet_id(pqt_codec_t codec);

/* pqt_codec_from_parquet_id: the codec of a CompressionCodec value, 0 on
 * success, -1 for values this module does not implement (LZO, BROTLI,
 * LZ4, LZ4_RAW, unknown). */
int pqt_codec_from_parquet_id(int id, pqt_codec_t *codec);

/* pqt_codec_name: "none", "snappy", "gzip", "zstd", or NULL if unknown. */
const char *pqt_codec_name(pqt_codec_t codec);

/* pqt_codec_compress: append the compressed form of src[0..n) to dst.
 * DP_ERR_NOMEM when dst cannot hold the worst case, DP_ERR_IO (with
 * detail) when the library fails. Must not be called for PQT_CODEC_NONE. */
dp_err_t pqt_codec_compress(pqt_codec_ctx_t *c, const void *src, size_t n, dp_buf_t *dst,
                            char *errstr, size_t errstr_size);

/* pqt_codec_decompress: decompress src[0..n), compressed with codec, into
 * exactly dst_len bytes at dst (the page header's uncompressed size; the
 * caller bounds it). Never writes past dst_len. DP_ERR_INVALID (with
 * detail) when the input is not valid for the codec or does not
 * decompress to exactly dst_len bytes; PQT_CODEC_NONE is a plain copy
 * that needs n == dst_len. */
dp_err_t pqt_codec_decompress(pqt_codec_t codec, const void *src, size_t n, void *dst,
                              size_t dst_len, char *errstr, size_t errstr_size);

#endif
