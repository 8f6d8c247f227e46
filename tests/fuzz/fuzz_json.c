/* fuzz_json - the JSON parser and string decoder on arbitrary bytes; a
 * parsed document's strings are re-escaped and must parse again. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dp_json_t j = {0};
    char err[128];
    if (dp_json_parse(&j, (const char *)data, size, 1 << 16, err, sizeof err) == DP_OK) {
        dp_buf_t s, again;
        dp_buf_init(&s, 1 << 20);
        dp_buf_init(&again, 1 << 22);
        for (uint32_t i = 0; i < j.n; i++) {
            if (j.nodes[i].type != DP_JSON_STRING) continue;
            if (dp_json_str(&j, i, &s)) continue;
            dp_buf_reset(&again);
            dp_json_put_str(&again, (const char *)s.data, s.len);
            dp_json_t k = {0};
            if (dp_json_parse(&k, (const char *)again.data, again.len, 4, err, sizeof err) != DP_OK)
                abort(); /* our own output must be valid JSON */
            dp_json_fini(&k);
        }
        dp_buf_fini(&s);
        dp_buf_fini(&again);
    }
    dp_json_fini(&j);
    return 0;
}
