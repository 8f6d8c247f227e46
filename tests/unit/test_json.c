/* test_json - Jackson-compatible escaping of every awkward string, base64
 * vectors, and the parser's acceptance and rejection at its limits. */
#include <stdlib.h>

#include "common/json.h"
#include "testlib.h"

static const char *esc(dp_buf_t *b, const char *s, size_t n) {
    dp_buf_reset(b);
    dp_json_put_str(b, s, n);
    return dp_buf_cstr(b);
}

static const char *b64(dp_buf_t *b, const char *s) {
    dp_buf_reset(b);
    dp_json_put_base64(b, (const uint8_t *)s, strlen(s));
    return dp_buf_cstr(b);
}

static int parses(const char *s) {
    dp_json_t j = {0};
    char err[128];
    int ok = dp_json_parse(&j, s, strlen(s), 1000, err, sizeof err) == DP_OK;
    dp_json_fini(&j);
    return ok;
}

int main(void) {
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    /* dp_json_unescape: what dp_json_put_str wrote comes back; an escape
     * cut short at the end is refused, not read past */
    static const char *const back[] = {"", "plain", "a\"b\\c", "\x01\n\t\xc3\xa9",
                                       "\xf0\x9f\x98\x80 \u2028"};
    for (size_t i = 0; i < sizeof back / sizeof back[0]; i++) {
        dp_buf_t u;
        dp_buf_init(&u, 1 << 10);
        const char *w = esc(&b, back[i], strlen(back[i]));
        CHECK_EQ_INT(dp_json_unescape(w + 1, strlen(w) - 2, &u), DP_OK);
        CHECK_EQ_MEM(u.data, u.len, back[i], strlen(back[i]));
        dp_buf_fini(&u);
    }
    static const char *const cut[] = {"abc\\", "\\u12", "x\\u"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        dp_buf_t u;
        dp_buf_init(&u, 1 << 10);
        CHECK_EQ_INT(dp_json_unescape(cut[i], strlen(cut[i]), &u), DP_ERR_INVALID);
        dp_buf_fini(&u);
    }
    CHECK_EQ_STR(esc(&b, "", 0), "\"\"");
    CHECK_EQ_STR(esc(&b, "plain", 5), "\"plain\"");
    CHECK_EQ_STR(esc(&b, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_EQ_STR(esc(&b, "\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"");
    CHECK_EQ_STR(esc(&b, "\x01\x1f", 2), "\"\\u0001\\u001F\"");
    CHECK_EQ_STR(esc(&b, "nul\0x", 5), "\"nul\\u0000x\"");
    CHECK_EQ_STR(esc(&b, "/\x7f", 2), "\"/\x7f\""); /* Jackson leaves '/' and DEL raw */
    CHECK_EQ_STR(esc(&b, "Zoë 李 😀", strlen("Zoë 李 😀")), "\"Zoë 李 \\uD83D\\uDE00\"");
    /* near the bound the exact size is reserved, not the 6x worst case */
    {
        dp_buf_t tight;
        dp_buf_init(&tight, 12);
        CHECK_EQ_INT(dp_json_put_str(&tight, "0123456789", 10), DP_OK);
        CHECK_EQ_INT(tight.len, 12);
        dp_buf_fini(&tight);
    }
    /* every control character has an escape of the right form */
    for (int c = 0; c < 0x20; c++) {
        char in = (char)c;
        const char *o = esc(&b, &in, 1);
        CHECK(o[0] == '"' && o[1] == '\\' && (strlen(o) == 4 || strlen(o) == 8));
    }
    /* a bounded buffer refuses rather than truncating */
    dp_buf_t small;
    dp_buf_init(&small, 8);
    CHECK_EQ_INT(dp_json_put_str(&small, "0123456789", 10), DP_ERR_NOMEM);
    CHECK_EQ_INT(small.len, 0);
    CHECK(small.overflow);
    dp_buf_fini(&small);

    /* RFC 4648 test vectors */
    CHECK_EQ_STR(b64(&b, ""), "\"\"");
    CHECK_EQ_STR(b64(&b, "f"), "\"Zg==\"");
    CHECK_EQ_STR(b64(&b, "fo"), "\"Zm8=\"");
    CHECK_EQ_STR(b64(&b, "foo"), "\"Zm9v\"");
    CHECK_EQ_STR(b64(&b, "foob"), "\"Zm9vYg==\"");
    CHECK_EQ_STR(b64(&b, "fooba"), "\"Zm9vYmE=\"");
    CHECK_EQ_STR(b64(&b, "foobar"), "\"Zm9vYmFy\"");

    /* parser: accepted */
    CHECK(parses("{}"));
    CHECK(parses("[]"));
    CHECK(parses(" {\"a\": [1, -2.5e+3, true, false, null, \"x\"]} "));
    CHECK(parses("\"\\u00e9\\ud83d\\ude00\\/\""));
    CHECK(parses("0"));
    CHECK(parses("-0.0"));
    /* parser: rejected */
    CHECK(!parses(""));
    CHECK(!parses("{"));
    CHECK(!parses("{\"a\":1,}"));
    CHECK(!parses("[1,]"));
    CHECK(!parses("{\"a\" 1}"));
    CHECK(!parses("{a:1}"));
    CHECK(!parses("01"));
    CHECK(!parses("1."));
    CHECK(!parses("-"));
    CHECK(!parses("\"\\x\""));
    CHECK(!parses("\"\\u12\""));
    CHECK(!parses("\"tab\there\""));
    CHECK(!parses("\"\xff\""));
    CHECK(!parses("\"\xc0\x80\"")); /* overlong */
    CHECK(!parses("\"\xed\xa0\x80\"")); /* UTF-16 surrogate in UTF-8 */
    CHECK(!parses("nul"));
    CHECK(!parses("{} {}"));
    /* nesting: 64 deep is fine, 65 is not */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    CHECK(!parses(deep));
    CHECK(!parses(deep + 1)); /* 64 opening, 65 closing: malformed */
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    CHECK(parses(deep));
    /* node limit */
    {
        dp_json_t j = {0};
        char err[128];
        CHECK_EQ_INT(dp_json_parse(&j, "[1,2,3]", 7, 3, err, sizeof err), DP_ERR_INVALID);
        dp_json_fini(&j);
    }

    /* lookups and decoding */
    const char *doc =
        "{\"payload\":{\"op\":\"c\",\"name\":\"a\\\"b\\u00e9\\ud83d\\ude00\\ud800\",\"n\":-42}}";
    dp_json_t j = {0};
    char err[128];
    CHECK_EQ_INT(dp_json_parse(&j, doc, strlen(doc), 100, err, sizeof err), DP_OK);
    uint32_t p = dp_json_get(&j, 0, "payload");
    CHECK(p != 0);
    CHECK(dp_json_get(&j, 0, "missing") == 0);
    uint32_t name = dp_json_get(&j, p, "name");
    dp_buf_t out;
    dp_buf_init(&out, 100);
    CHECK_EQ_INT(dp_json_str(&j, name, &out), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&out), "a\"bé😀\xef\xbf\xbd");
    int64_t v;
    CHECK_EQ_INT(dp_json_int64(&j, dp_json_get(&j, p, "n"), &v), DP_OK);
    CHECK_EQ_INT(v, -42);
    CHECK_EQ_INT(dp_json_int64(&j, dp_json_get(&j, p, "op"), &v), DP_ERR_INVALID);
    dp_json_fini(&j);
    dp_buf_fini(&out);
    dp_buf_fini(&b);
    return tl_finish("test_json");
}
