/* buf.c - bounded growable buffers and aborting small allocators. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "datapipe: out of memory allocating %zu bytes\n", n);
    abort();
}

void *dp_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *dp_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *dp_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *dp_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = dp_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

void dp_buf_init(dp_buf_t *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->overflow = 0;
}

void dp_buf_fini(dp_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

dp_err_t dp_buf_reserve(dp_buf_t *b, size_t n) {
    if (n > b->max || b->len > b->max - n) {
        b->overflow = 1;
        return DP_ERR_NOMEM;
    }
    size_t need = b->len + n + 1; /* room for a NUL */
    if (need <= b->cap) return DP_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = dp_xrealloc(b->data, cap);
    b->cap = cap;
    return DP_OK;
}

dp_err_t dp_buf_append(dp_buf_t *b, const void *p, size_t n) {
    dp_err_t err = dp_buf_reserve(b, n);
    if (err) return err;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return DP_OK;
}

dp_err_t dp_buf_putc(dp_buf_t *b, char c) {
    if (b->len + 1 < b->cap && b->len < b->max) {
        b->data[b->len++] = (uint8_t)c;
        return DP_OK;
    }
    return dp_buf_append(b, &c, 1);
}

dp_err_t dp_buf_puts(dp_buf_t *b, const char *s) { return dp_buf_append(b, s, strlen(s)); }

dp_err_t dp_buf_printf(dp_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return DP_ERR_INVALID;
    if ((size_t)n < sizeof tmp) return dp_buf_append(b, tmp, (size_t)n);
    dp_err_t err = dp_buf_reserve(b, (size_t)n);
    if (err) return err;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DP_OK;
}

dp_err_t dp_buf_put_u64(dp_buf_t *b, uint64_t v) {
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return dp_buf_append(b, tmp + i, sizeof tmp - i);
}

dp_err_t dp_buf_put_i64(dp_buf_t *b, int64_t v) {
    if (v >= 0) return dp_buf_put_u64(b, (uint64_t)v);
    dp_err_t err = dp_buf_putc(b, '-');
    return err ? err : dp_buf_put_u64(b, 0 - (uint64_t)v);
}

const char *dp_buf_cstr(dp_buf_t *b) {
    /* may exceed max by the one NUL byte, never by data */
    if (b->len + 1 > b->cap) {
        b->data = dp_xrealloc(b->data, b->len + 1);
        b->cap = b->len + 1;
    }
    b->data[b->len] = 0;
    return (const char *)b->data;
}
