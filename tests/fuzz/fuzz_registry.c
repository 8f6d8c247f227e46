/* fuzz_registry - the schema registry's answer bodies on arbitrary bytes:
 * an accepted id is in [0, INT32_MAX] and survives {"id":N} again; an
 * accepted schema is NUL-terminated, no longer than the answer, and comes
 * back byte for byte from {"schema":<it re-escaped>}; an error message is
 * no longer than the answer. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    int32_t id = -7, again = -7;
    if (dp_registry_parse_id(body, size, &id) == 0) {
        char b[48];
        int n = snprintf(b, sizeof b, "{\"id\":%" PRId32 "}", id);
        if (id < 0 || dp_registry_parse_id(b, (size_t)n, &again) != 0 || again != id)
            __builtin_trap();
    } else if (id != -7) {
        __builtin_trap(); /* a refused answer leaves *id alone */
    }

    dp_buf_t out, doc, out2;
    dp_buf_init(&out, 1 << 20);
    dp_buf_init(&doc, 1 << 23);
    dp_buf_init(&out2, 1 << 20);
    if (dp_registry_parse_schema(body, size, &out) == DP_OK) {
        if (out.len > size || !out.data || out.data[out.len] != 0) __builtin_trap();
        dp_buf_puts(&doc, "{\"schema\":");
        dp_json_put_str(&doc, (const char *)out.data, out.len);
        dp_buf_putc(&doc, '}');
        if (dp_registry_parse_schema((const char *)doc.data, doc.len, &out2) != DP_OK ||
            out2.len != out.len || memcmp(out2.data, out.data, out.len) != 0)
            __builtin_trap();
    }

    long long code = -7;
    dp_buf_t msg;
    dp_buf_init(&msg, 1024);
    dp_registry_parse_error(body, size, &code, &msg);
    if (msg.len > size || msg.len > msg.max) __builtin_trap(); /* decoding never grows */
    dp_buf_fini(&msg);
    dp_buf_fini(&out);
    dp_buf_fini(&doc);
    dp_buf_fini(&out2);
    return 0;
}
