/* fuzz_s3_list - the ListObjectsV2 page parser on arbitrary bytes (an S3
 * answer): element spans lie inside the page, every key handed to the
 * callback is NUL-terminated and no longer than the page, a callback's
 * error stops the listing and comes back, and a continuation token is only
 * kept for a truncated page. */
#include <stdint.h>
#include <string.h>

#include "s3/client.h"
#include "s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    size_t size, keys;
} seen_t;

static dp_err_t on_key(void *ctx, const char *key, uint64_t size) {
    seen_t *s = ctx;
    (void)size;
    if (strlen(key) > s->size) __builtin_trap(); /* unescaping never grows a key */
    s->keys++;
    return strcmp(key, "stop") == 0 ? DP_ERR_FULL : DP_OK;
}

static void inside(const uint8_t *data, size_t size, const s3_xml_span_t *v) {
    const char *d = (const char *)data;
    if (v->p < d || v->p > d + size || v->len > (size_t)(d + size - v->p)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *doc = (const char *)data;
    s3_xml_span_t rest = {doc, size}, elem, v;
    while (s3_xml_next(&rest, "Contents", &elem)) {
        inside(data, size, &elem);
        inside(data, size, &rest);
        if (s3_xml_find(elem.p, elem.len, "Key", &v)) inside(data, size, &v);
    }
    if (s3_xml_find(doc, size, "NextContinuationToken", &v)) inside(data, size, &v);

    dp_buf_t key, token;
    dp_buf_init(&key, 4096);
    dp_buf_init(&token, 8192);
    seen_t s = {size, 0};
    int truncated = -1, stopped = -1;
    dp_err_t err = s3_list_parse(doc, size, on_key, &s, &key, &token, &truncated, &stopped);
    if (err != DP_OK && err != DP_ERR_PROTO && err != DP_ERR_FULL) __builtin_trap();
    if (stopped != (err == DP_ERR_FULL)) __builtin_trap();
    if (truncated != 0 && (err != DP_OK || truncated != 1)) __builtin_trap();
    if (token.len > size || (token.len && !truncated)) __builtin_trap();
    dp_buf_fini(&key);
    dp_buf_fini(&token);
    return 0;
}
