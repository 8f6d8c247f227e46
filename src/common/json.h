/* json.h - JSON output helpers and a small validating parser.
 *
 * Output is byte for byte what Kafka's JsonConverter (Jackson) writes, as
 * checked against real Debezium: '"' and '\\' escaped, \b \f \n \r \t short
 * forms, other control characters as \u00XX (upper-case hex), characters
 * outside the Basic Multilingual Plane as an escaped surrogate pair
 * (\uD83D\uDE00), everything else as raw UTF-8.
 *
 * The parser builds a flat array of nodes that point into the source text
 * (zero copy). Strings keep their escapes; dp_json_str() decodes one. */
#ifndef DP_COMMON_JSON_H
#define DP_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* dp_json_put_str: append s[0..n) as a quoted, escaped JSON string. */
dp_err_t dp_json_put_str(dp_buf_t *b, const char *s, size_t n);
/* dp_json_put_base64: append a quoted standard base64 string of p[0..n). */
dp_err_t dp_json_put_base64(dp_buf_t *b, const uint8_t *p, size_t n);

typedef enum {
    DP_JSON_NULL,
    DP_JSON_FALSE,
    DP_JSON_TRUE,
    DP_JSON_NUMBER,
    DP_JSON_STRING,
    DP_JSON_ARRAY,
    DP_JSON_OBJECT
} dp_json_type_t;

typedef struct dp_json_node {
    dp_json_type_t type;
    uint32_t start, len; /* raw text span; strings exclude the quotes */
    uint32_t next; /* index of next sibling, 0 = none */
    uint32_t child; /* first child (arrays, objects), 0 = none;
                             object children alternate key, value */
    uint32_t count; /* number of children (objects: 2 per member) */
} dp_json_node_t;

typedef struct dp_json {
    const char *src;
    size_t src_len;
    dp_json_node_t *nodes; /* nodes[0] is the root */
    uint32_t n, cap, max;
} dp_json_t;

/* dp_json_parse: parse src[0..len) completely (trailing garbage is an
 * error); at most max_nodes nodes, nesting at most 64 deep. The dp_json_t
 * refers to src, which must outlive it. */
dp_err_t dp_json_parse(dp_json_t *j, const char *src, size_t len, uint32_t max_nodes, char *errstr,
                       size_t errstr_size);
void dp_json_fini(dp_json_t *j);

/* dp_json_get: value node of member key in object node obj, or 0. */
uint32_t dp_json_get(const dp_json_t *j, uint32_t obj, const char *key);
/* dp_json_str: decode string node into out (replacing its content). */
dp_err_t dp_json_str(const dp_json_t *j, uint32_t node, dp_buf_t *out);
/* dp_json_unescape: the inside of a JSON string literal, s[0..n) without
 * its quotes, unescaped and appended to out (DP_ERR_INVALID for an escape
 * cut short at the end) */
dp_err_t dp_json_unescape(const char *s, size_t n, dp_buf_t *out);
/* dp_json_key_eq: whether string node equals the (unescaped) key. */
int dp_json_key_eq(const dp_json_t *j, uint32_t node, const char *key);
/* dp_json_int64: parse an integer number node. */
dp_err_t dp_json_int64(const dp_json_t *j, uint32_t node, int64_t *out);
static inline const char *dp_json_raw(const dp_json_t *j, uint32_t node) {
    return j->src + j->nodes[node].start;
}

#endif
