/* fuzz_metrics_http - the metrics endpoint's request handling on arbitrary
 * bytes, and label values of arbitrary bytes through the exposition
 * format. The response must be well formed (status line, a Content-Length
 * equal to the body's length, or to the left-out body for HEAD); an
 * escaped label value must hold no raw newline and unescape back to the
 * value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(const dp_buf_t *out, int head) {
    const char *r = (const char *)out->data;
    if (out->len < 17 || memcmp(r, "HTTP/1.1 ", 9) != 0) abort();
    const char *end = memmem(r, out->len, "\r\n\r\n", 4);
    const char *cl = memmem(r, out->len, "Content-Length: ", 16);
    if (!end || !cl || cl > end) abort();
    size_t body = out->len - (size_t)(end + 4 - r);
    size_t claimed = (size_t)strtoull(cl + 16, NULL, 10);
    if (body != claimed && !(head && body == 0)) abort();
}

static void check_label(dp_metrics_t *m, const char *value) {
    static const char *const l[] = {"v"};
    dp_metric_t *f = dp_metric_counter(m, "f_total", "", 1, l);
    const char *v[] = {value};
    dp_metric_inc(dp_metric_series(f, v));
    dp_buf_t out;
    dp_buf_init(&out, 1 << 22);
    if (dp_metrics_render(m, &out)) abort();
    const char *text = dp_buf_cstr(&out);
    const char *p = strstr(text, "\nf_total{v=\"");
    if (!p) abort();
    p += 12;
    char *got = malloc(strlen(value) + 1);
    size_t n = 0;
    for (; *p != '"'; p++) {
        if (*p == '\n' || !*p) abort(); /* a raw newline would end the sample */
        if (*p == '\\') {
            p++;
            if (*p == 'n')
                got[n++] = '\n';
            else if (*p == '\\' || *p == '"')
                got[n++] = *p;
            else
                abort();
        } else {
            got[n++] = *p;
        }
        if (n > strlen(value)) abort();
    }
    got[n] = 0;
    if (strcmp(got, value) != 0 || strncmp(p, "\"} 1\n", 5) != 0) abort();
    free(got);
    dp_buf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dp_metrics_t *m = dp_metrics_new(0);
    dp_buf_t out;
    dp_buf_init(&out, (size_t)1 << 27);
    dp_metrics_handle(m, (const char *)data, size, &out);
    check_response(&out, size >= 5 && memcmp(data, "HEAD ", 5) == 0);
    dp_buf_fini(&out);
    char *value = malloc(size + 1);
    memcpy(value, data, size);
    value[size] = 0; /* a C string: up to the first NUL */
    check_label(m, value);
    free(value);
    dp_metrics_destroy(m);
    return 0;
}
