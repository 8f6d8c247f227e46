/* buf.h - a growable byte buffer with a hard maximum.
 *
 * Every growable buffer in datapipe is a dp_buf: appends fail with
 * DP_ERR_NOMEM once the buffer would exceed its max, so memory driven by
 * input is always bounded by configuration. Small fixed-size allocation
 * failures abort (see dp_xmalloc). */
#ifndef DP_COMMON_BUF_H
#define DP_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct dp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* hard maximum of len */
    int overflow; /* sticky: an append failed since the last reset */
} dp_buf_t;

void *dp_xmalloc(size_t n);
void *dp_xcalloc(size_t n, size_t size);
void *dp_xrealloc(void *p, size_t n);
char *dp_xstrdup(const char *s);

/* dp_buf_init: empty buffer that may grow up to max bytes. */
void dp_buf_init(dp_buf_t *b, size_t max);
void dp_buf_fini(dp_buf_t *b);
static inline void dp_buf_reset(dp_buf_t *b) {
    b->len = 0;
    b->overflow = 0;
}

/* dp_buf_reserve: make room for n more bytes; DP_ERR_NOMEM past max. */
dp_err_t dp_buf_reserve(dp_buf_t *b, size_t n);
dp_err_t dp_buf_append(dp_buf_t *b, const void *p, size_t n);
dp_err_t dp_buf_putc(dp_buf_t *b, char c);
dp_err_t dp_buf_puts(dp_buf_t *b, const char *s);
dp_err_t dp_buf_printf(dp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dp_buf_cstr: NUL-terminate (not counted in len) and return data. */
/* dp_buf_put_u64, dp_buf_put_i64: the decimal text of v (what "%llu" and
 * "%lld" print, without a format string's cost) */
dp_err_t dp_buf_put_u64(dp_buf_t *b, uint64_t v);
dp_err_t dp_buf_put_i64(dp_buf_t *b, int64_t v);
const char *dp_buf_cstr(dp_buf_t *b);

#endif
