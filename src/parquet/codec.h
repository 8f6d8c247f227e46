/* codec.h - page compression for the Parquet writer: raw snappy blocks,
 * gzip (RFC 1952, zlib with windowBits 31) and zstd frames, as
 * Compression.md specifies. A context is reused for every page of a file. */
#ifndef DP_PARQUET_CODEC_H
#define DP_PARQUET_CODEC_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "parquet/writer.h"

typedef struct pqt_codec_ctx {
    pqt_codec_t codec;
    void *zstd; /* ZSTD_CCtx *, created on first use */
    void *gz;   /* z_stream *, created on first use */
} pqt_codec_ctx_t;

/* pqt_codec_init: a context for codec; allocates nothing yet. */
void pqt_codec_init(pqt_codec_ctx_t *c, pqt_codec_t codec);
void pqt_codec_fini(pqt_codec_ctx_t *c);

/* pqt_codec_parquet_id: the CompressionCodec value in parquet.thrift. */
int pqt_codec_parquet_id(pqt_codec_t codec);

/* pqt_codec_name: "none", "snappy", "gzip", "zstd", or NULL if unknown. */
const char *pqt_codec_name(pqt_codec_t codec);

/* pqt_codec_compress: append the compressed form of src[0..n) to dst.
 * DP_ERR_NOMEM when dst cannot hold the worst case, DP_ERR_IO (with
 * detail) when the library fails. Must not be called for PQT_CODEC_NONE. */
dp_err_t pqt_codec_compress(pqt_codec_ctx_t *c, const void *src, size_t n, dp_buf_t *dst,
                            char *errstr, size_t errstr_size);

#endif
