/* encoding.h - Parquet value and level encodings used by the writer and
 * the reader: the RLE/bit-packed hybrid (definition levels, dictionary
 * indices), encoder and decoder, and the bit packing of PLAIN booleans.
 *
 * RLE/bit-packed hybrid (Encodings.md), as produced here:
 *   run         := rle-run | bit-packed-run
 *   rle-run     := varint(count << 1) value-in-ceil(bit_width/8)-bytes-LE
 *   bit-packed  := varint(groups << 1 | 1) groups*8 values, bit_width bits
 *                  each, packed LSB first
 * Runs of 8 or more equal values become RLE runs; everything else is
 * bit-packed in groups of 8, at most 63 groups per run (one header byte).
 * Only the last group of the whole sequence is ever padded (with zeros);
 * readers stop at the value count they know from the page header. */
#ifndef DP_PARQUET_ENCODING_H
#define DP_PARQUET_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* pqt_rle_encode_u8 / _u32: append the hybrid encoding of vals[0..n) to
 * out (no length prefix). Every value must fit in bit_width bits,
 * 1 <= bit_width <= 32 (u8: <= 8); DP_ERR_INVALID otherwise, DP_ERR_NOMEM
 * when out hits its max (out may then hold a partial encoding). */
dp_err_t pqt_rle_encode_u8(dp_buf_t *out, const uint8_t *vals, size_t n, int bit_width);
dp_err_t pqt_rle_encode_u32(dp_buf_t *out, const uint32_t *vals, size_t n, int bit_width);

/* pqt_bitpack_bools: append n booleans (any non-zero byte is true) as
 * PLAIN BOOLEAN values: one bit each, LSB first, last byte zero-padded. */
dp_err_t pqt_bitpack_bools(dp_buf_t *out, const uint8_t *vals, size_t n);

/* pqt_rle_decode_u8 / _u32: decode exactly n values of the hybrid
 * encoding in p[0..len) (no length prefix) into out; bytes after the n-th
 * value are ignored. Accepts what other writers produce too: bit_width 0
 * (every value 0), any run lengths, a last bit-packed run cut short after
 * the bytes holding the values read. DP_ERR_INVALID when bit_width is
 * outside 0..32 (u8: 0..8), the runs end before n values, or an RLE run's
 * value does not fit in bit_width bits. Never reads outside p[0..len). */
dp_err_t pqt_rle_decode_u8(const uint8_t *p, size_t len, int bit_width, uint8_t *out, size_t n);
dp_err_t pqt_rle_decode_u32(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n);

/* pqt_bit_width: bits needed to store every value in [0, max_value];
 * at least 1 (a one-entry dictionary still uses width 1). */
int pqt_bit_width(uint32_t max_value);

#endif
