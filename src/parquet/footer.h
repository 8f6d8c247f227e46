/* footer.h - read a key/value metadata entry back from a Parquet footer. */
#ifndef DP_PARQUET_FOOTER_H
#define DP_PARQUET_FOOTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* pqt_footer_kv: tail holds the last len bytes of a Parquet file (the whole
 * file will do). Copies the value of key from its key/value metadata into
 * out (NUL-terminated). DP_ERR_FULL with *need set when the footer is
 * longer than tail (read *need bytes and call again); DP_ERR_INVALID for
 * bytes that are not a Parquet footer, a missing key or a value that does
 * not fit in outsz. */
dp_err_t pqt_footer_kv(const uint8_t *tail, size_t len, const char *key, char *out, size_t outsz,
                       size_t *need, char *errstr, size_t errstr_size);

#endif
