/* json.c - Jackson-compatible escaping and a flat, zero-copy parser. */
#include "common/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

dp_err_t dp_json_put_str(dp_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    /* worst case: every byte a control character written as \u00XX */
    dp_err_t err = dp_buf_reserve(b, n * 6 + 2);
    if (err) {
        /* near the buffer's bound: reserve what this string really needs */
        size_t need = 2;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0xf0 && c < 0xf5 && i + 3 < n) {
                need += 12;
                i += 3;
            } else
                need += (c == '"' || c == '\\') ? 2 : c < 0x20 ? 6 : 1;
        }
        if ((err = dp_buf_reserve(b, need))) return err;
    }
    uint8_t *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xf0 && c < 0xf5 && i + 3 < n && ((unsigned char)s[i + 1] & 0xc0) == 0x80 &&
            ((unsigned char)s[i + 2] & 0xc0) == 0x80 && ((unsigned char)s[i + 3] & 0xc0) == 0x80) {
            uint32_t cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                (uint32_t)(s[i + 2] & 0x3f) << 6 | (uint32_t)(s[i + 3] & 0x3f);
            if (cp >= 0x10000 && cp <= 0x10ffff) {
                uint32_t v = cp - 0x10000, units[2] = {0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff)};
                for (int k = 0; k < 2; k++) {
                    *o++ = '\\';
                    *o++ = 'u';
                    for (int sh = 12; sh >= 0; sh -= 4) *o++ = (uint8_t)hex[(units[k] >> sh) & 15];
                }
                i += 3;
                continue;
            }
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hex[c >> 4];
            *o++ = (uint8_t)hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return DP_OK;
}

dp_err_t dp_json_put_base64(dp_buf_t *b, const uint8_t *p, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    dp_err_t err = dp_buf_reserve(b, (n + 2) / 3 * 4 + 2);
    if (err) return err;
    uint8_t *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = (uint8_t)tbl[(v >> 6) & 63];
        *o++ = (uint8_t)tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = (uint8_t)tbl[(v >> 6) & 63];
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return DP_OK;
}

/* ---- parser ---- */

typedef struct parser {
    dp_json_t *j;
    size_t pos;
    char *errstr;
    size_t errstr_size;
} parser_t;

static dp_err_t perr(parser_t *p, const char *what) {
    return dp_seterr(p->errstr, p->errstr_size, DP_ERR_INVALID, "json: %s at byte %zu", what,
                     p->pos);
}

static void skip_ws(parser_t *p) {
    const char *s = p->j->src;
    while (p->pos < p->j->src_len &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
}

static dp_err_t new_node(parser_t *p, dp_json_type_t t, uint32_t *idx) {
    dp_json_t *j = p->j;
    if (j->n >= j->max) return perr(p, "too many values");
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 64;
        if (j->cap > j->max) j->cap = j->max;
        j->nodes = dp_xrealloc(j->nodes, sizeof *j->nodes * j->cap);
    }
    *idx = j->n++;
    dp_json_node_t *nd = &j->nodes[*idx];
    memset(nd, 0, sizeof *nd);
    nd->type = t;
    nd->start = (uint32_t)p->pos;
    return DP_OK;
}

/* utf8_ok: validate one UTF-8 sequence at s[0..n), return its length or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static dp_err_t parse_string(parser_t *p, uint32_t *idx) {
    const unsigned char *s = (const unsigned char *)p->j->src;
    size_t n = p->j->src_len;
    p->pos++; /* opening quote */
    dp_err_t err = new_node(p, DP_JSON_STRING, idx);
    if (err) return err;
    while (p->pos < n) {
        unsigned char c = s[p->pos];
        if (c == '"') {
            p->j->nodes[*idx].len = (uint32_t)(p->pos - p->j->nodes[*idx].start);
            p->pos++;
            return DP_OK;
        }
        if (c < 0x20) return perr(p, "control character in string");
        if (c == '\\') {
            if (p->pos + 1 >= n) break;
            char e = (char)s[p->pos + 1];
            if (e == 'u') {
                if (p->pos + 6 > n) break;
                for (int k = 2; k < 6; k++)
                    if (hexval((char)s[p->pos + (size_t)k]) < 0) return perr(p, "bad \\u escape");
                p->pos += 6;
            } else if (strchr("\"\\/bfnrt", e) && e) {
                p->pos += 2;
            } else {
                return perr(p, "bad escape");
            }
            continue;
        }
        size_t l = utf8_len(s + p->pos, n - p->pos);
        if (!l) return perr(p, "invalid utf-8");
        p->pos += l;
    }
    return perr(p, "unterminated string");
}

static dp_err_t parse_number(parser_t *p, uint32_t *idx) {
    const char *s = p->j->src;
    size_t n = p->j->src_len;
    dp_err_t err = new_node(p, DP_JSON_NUMBER, idx);
    if (err) return err;
    size_t i = p->pos;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else {
        p->pos = i;
        return perr(p, "bad number");
    }
    if (i < n && s[i] == '.') {
        i++;
        if (!(i < n && s[i] >= '0' && s[i] <= '9')) {
            p->pos = i;
            return perr(p, "bad number");
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (!(i < n && s[i] >= '0' && s[i] <= '9')) {
            p->pos = i;
            return perr(p, "bad number");
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    p->j->nodes[*idx].len = (uint32_t)(i - p->pos);
    p->pos = i;
    return DP_OK;
}

static dp_err_t parse_value(parser_t *p, uint32_t *idx, int depth);

static dp_err_t parse_container(parser_t *p, uint32_t *idx, int depth, int is_obj) {
    dp_err_t err = new_node(p, is_obj ? DP_JSON_OBJECT : DP_JSON_ARRAY, idx);
    if (err) return err;
    char close = is_obj ? '}' : ']';
    p->pos++;
    skip_ws(p);
    uint32_t prev = 0, count = 0;
    if (p->pos < p->j->src_len && p->j->src[p->pos] == close) {
        p->pos++;
        p->j->nodes[*idx].len = (uint32_t)(p->pos - p->j->nodes[*idx].start);
        return DP_OK;
    }
    for (;;) {
        uint32_t k;
        skip_ws(p);
        if (is_obj) {
            if (p->pos >= p->j->src_len || p->j->src[p->pos] != '"') return perr(p, "expected key");
            if ((err = parse_string(p, &k))) return err;
            skip_ws(p);
            if (p->pos >= p->j->src_len || p->j->src[p->pos] != ':') return perr(p, "expected ':'");
            p->pos++;
            if (prev)
                p->j->nodes[prev].next = k;
            else
                p->j->nodes[*idx].child = k;
            prev = k;
            count++;
            skip_ws(p);
        }
        uint32_t v;
        if ((err = parse_value(p, &v, depth + 1))) return err;
        if (prev)
            p->j->nodes[prev].next = v;
        else
            p->j->nodes[*idx].child = v;
        prev = v;
        count++;
        skip_ws(p);
        if (p->pos >= p->j->src_len) return perr(p, "unexpected end");
        char c = p->j->src[p->pos++];
        if (c == ',') continue;
        if (c == close) break;
        p->pos--;
        return perr(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p->j->nodes[*idx].count = count;
    p->j->nodes[*idx].len = (uint32_t)(p->pos - p->j->nodes[*idx].start);
    return DP_OK;
}

static dp_err_t parse_lit(parser_t *p, uint32_t *idx, const char *lit, dp_json_type_t t) {
    size_t l = strlen(lit);
    if (p->j->src_len - p->pos < l || memcmp(p->j->src + p->pos, lit, l) != 0)
        return perr(p, "unexpected character");
    dp_err_t err = new_node(p, t, idx);
    if (err) return err;
    p->j->nodes[*idx].len = (uint32_t)l;
    p->pos += l;
    return DP_OK;
}

static dp_err_t parse_value(parser_t *p, uint32_t *idx, int depth) {
    if (depth >= 64) return perr(p, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->j->src_len) return perr(p, "unexpected end");
    switch (p->j->src[p->pos]) {
    case '{': return parse_container(p, idx, depth, 1);
    case '[': return parse_container(p, idx, depth, 0);
    case '"': return parse_string(p, idx);
    case 't': return parse_lit(p, idx, "true", DP_JSON_TRUE);
    case 'f': return parse_lit(p, idx, "false", DP_JSON_FALSE);
    case 'n': return parse_lit(p, idx, "null", DP_JSON_NULL);
    default: return parse_number(p, idx);
    }
}

dp_err_t dp_json_parse(dp_json_t *j, const char *src, size_t len, uint32_t max_nodes, char *errstr,
                       size_t errstr_size) {
    j->src = src;
    j->src_len = len;
    j->n = 0;
    j->max = max_nodes;
    if (len > UINT32_MAX)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "json: document too large");
    parser_t p = {j, 0, errstr, errstr_size};
    uint32_t root;
    dp_err_t err = parse_value(&p, &root, 0);
    if (err) return err;
    skip_ws(&p);
    if (p.pos != len) return perr(&p, "trailing characters");
    return DP_OK;
}

void dp_json_fini(dp_json_t *j) {
    free(j->nodes);
    j->nodes = NULL;
    j->n = j->cap = 0;
}

int dp_json_key_eq(const dp_json_t *j, uint32_t node, const char *key) {
    const dp_json_node_t *nd = &j->nodes[node];
    size_t kl = strlen(key);
    /* keys with escapes are compared after decoding; the fast path covers
     * every key we look up (plain ASCII) */
    if (nd->len == kl && memcmp(j->src + nd->start, key, kl) == 0) return 1;
    if (!memchr(j->src + nd->start, '\\', nd->len)) return 0;
    dp_buf_t b;
    dp_buf_init(&b, nd->len + 1);
    int eq = dp_json_str(j, node, &b) == DP_OK && b.len == kl && memcmp(b.data, key, kl) == 0;
    dp_buf_fini(&b);
    return eq;
}

uint32_t dp_json_get(const dp_json_t *j, uint32_t obj, const char *key) {
    if (j->nodes[obj].type != DP_JSON_OBJECT) return 0;
    for (uint32_t k = j->nodes[obj].child; k; k = j->nodes[j->nodes[k].next].next) {
        if (dp_json_key_eq(j, k, key)) return j->nodes[k].next;
    }
    return 0;
}

static dp_err_t put_utf8(dp_buf_t *out, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 63));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 63));
        u[2] = (char)(0x80 | (cp & 63));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 63));
        u[2] = (char)(0x80 | ((cp >> 6) & 63));
        u[3] = (char)(0x80 | (cp & 63));
        n = 4;
    }
    return dp_buf_append(out, u, n);
}

static uint32_t hex4(const char *s) {
    return (uint32_t)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

dp_err_t dp_json_str(const dp_json_t *j, uint32_t node, dp_buf_t *out) {
    const dp_json_node_t *nd = &j->nodes[node];
    dp_buf_reset(out);
    if (nd->type != DP_JSON_STRING) return DP_ERR_INVALID;
    return dp_json_unescape(j->src + nd->start, nd->len, out);
}

dp_err_t dp_json_unescape(const char *s, size_t n, dp_buf_t *out) {
    const char *e = s + n;
    dp_err_t err = DP_OK;
    while (s < e && !err) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        if (!bs) return dp_buf_append(out, s, (size_t)(e - s));
        if ((err = dp_buf_append(out, s, (size_t)(bs - s)))) return err;
        s = bs + 1;
        if (s == e) return DP_ERR_INVALID;
        char c = *s++;
        switch (c) {
        case 'b': err = dp_buf_putc(out, '\b'); break;
        case 'f': err = dp_buf_putc(out, '\f'); break;
        case 'n': err = dp_buf_putc(out, '\n'); break;
        case 'r': err = dp_buf_putc(out, '\r'); break;
        case 't': err = dp_buf_putc(out, '\t'); break;
        case 'u': {
            if (e - s < 4) return DP_ERR_INVALID;
            uint32_t cp = hex4(s);
            s += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                uint32_t lo = hex4(s + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; /* lone surrogate */
            err = put_utf8(out, cp);
            break;
        }
        default: err = dp_buf_putc(out, c); break;
        }
    }
    return err;
}

dp_err_t dp_json_int64(const dp_json_t *j, uint32_t node, int64_t *out) {
    const dp_json_node_t *nd = &j->nodes[node];
    if (nd->type != DP_JSON_NUMBER || nd->len >= 32) return DP_ERR_INVALID;
    char tmp[32];
    memcpy(tmp, j->src + nd->start, nd->len);
    tmp[nd->len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end) return DP_ERR_INVALID;
    *out = v;
    return DP_OK;
}
