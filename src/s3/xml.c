/* xml.c - tag scanning and entity handling for S3's XML answers. */
#include "s3/xml.h"

#include <string.h>

/* find_bytes: first occurrence of needle in hay, or NULL. */
static const char *find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    if (nlen == 0 || hlen < nlen) return NULL;
    const char *end = hay + hlen - nlen;
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, nlen) == 0) return p;
    }
    return NULL;
}

/* scan: locate the element named tag in doc; on success sets the content span
 * and the offset just past the element's end. */
static int scan(const char *doc, size_t len, const char *tag, s3_xml_span_t *out, size_t *end_off) {
    size_t tlen = strlen(tag);
    if (tlen == 0 || tlen > 200) return 0;
    for (size_t i = 0; i + tlen + 2 <= len;) {
        const char *lt = memchr(doc + i, '<', len - i);
        if (!lt) return 0;
        size_t at = (size_t)(lt - doc);
        i = at + 1;
        if (at + 1 + tlen >= len || memcmp(lt + 1, tag, tlen) != 0) continue;
        char after = lt[1 + tlen];
        if (after != '>' && after != '/' && after != ' ' && after != '\t' && after != '\n' &&
            after != '\r')
            continue;
        /* end of the start tag */
        const char *gt = memchr(lt + 1 + tlen, '>', len - (at + 1 + tlen));
        if (!gt) return 0;
        if (gt[-1] == '/') { /* <Tag/> or <Tag attr="x"/> */
            out->p = gt + 1;
            out->len = 0;
            *end_off = (size_t)(gt + 1 - doc);
            return 1;
        }
        const char *content = gt + 1;
        size_t rest = len - (size_t)(content - doc);
        char close[208];
        close[0] = '<';
        close[1] = '/';
        memcpy(close + 2, tag, tlen);
        close[2 + tlen] = '>';
        const char *ct = find_bytes(content, rest, close, tlen + 3);
        if (!ct) return 0;
        out->p = content;
        out->len = (size_t)(ct - content);
        *end_off = (size_t)(ct - doc) + tlen + 3;
        return 1;
    }
    return 0;
}

int s3_xml_find(const char *doc, size_t len, const char *tag, s3_xml_span_t *out) {
    size_t end;
    return scan(doc, len, tag, out, &end);
}

int s3_xml_next(s3_xml_span_t *rest, const char *tag, s3_xml_span_t *out) {
    size_t end;
    if (!scan(rest->p, rest->len, tag, out, &end)) return 0;
    rest->p += end;
    rest->len -= end;
    return 1;
}

static dp_err_t put_utf8(dp_buf_t *out, unsigned long cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return dp_buf_append(out, b, n);
}

/* xml_char_ok: the XML 1.0 Char production (S3 sends &#13; and the like). */
static int xml_char_ok(unsigned long cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
        (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* numeric_ref: parse the body of &#...; (without & and ;). */
static int numeric_ref(const char *s, size_t len, unsigned long *cp) {
    unsigned long v = 0;
    int base = 10;
    size_t i = 1; /* skip '#' */
    if (i < len && (s[i] == 'x' || s[i] == 'X')) {
        base = 16;
        i++;
    }
    if (i >= len) return -1;
    for (; i < len; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * (unsigned long)base + (unsigned long)d;
        if (v > 0x10FFFF) return -1;
    }
    *cp = v;
    return 0;
}

dp_err_t s3_xml_unescape(const char *s, size_t len, dp_buf_t *out) {
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t plain = amp ? (size_t)(amp - (s + i)) : len - i;
        dp_err_t err = dp_buf_append(out, s + i, plain);
        if (err) return err;
        i += plain;
        if (!amp) break;
        /* an entity: up to ';' within a short distance */
        size_t max = len - i < 12 ? len - i : 12;
        const char *semi = memchr(s + i, ';', max);
        if (!semi) return DP_ERR_PROTO;
        const char *name = s + i + 1;
        size_t nlen = (size_t)(semi - name);
        unsigned long cp;
        if (nlen == 3 && memcmp(name, "amp", 3) == 0)
            err = dp_buf_putc(out, '&');
        else if (nlen == 2 && memcmp(name, "lt", 2) == 0)
            err = dp_buf_putc(out, '<');
        else if (nlen == 2 && memcmp(name, "gt", 2) == 0)
            err = dp_buf_putc(out, '>');
        else if (nlen == 4 && memcmp(name, "quot", 4) == 0)
            err = dp_buf_putc(out, '"');
        else if (nlen == 4 && memcmp(name, "apos", 4) == 0)
            err = dp_buf_putc(out, '\'');
        else if (nlen >= 2 && name[0] == '#' && numeric_ref(name, nlen, &cp) == 0 &&
                 xml_char_ok(cp))
            err = put_utf8(out, cp);
        else
            return DP_ERR_PROTO;
        if (err) return err;
        i = (size_t)(semi - s) + 1;
    }
    return DP_OK;
}

dp_err_t s3_xml_escape(dp_buf_t *out, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        dp_err_t err;
        switch (s[i]) {
        case '&': err = dp_buf_puts(out, "&amp;"); break;
        case '<': err = dp_buf_puts(out, "&lt;"); break;
        case '>': err = dp_buf_puts(out, "&gt;"); break;
        case '"': err = dp_buf_puts(out, "&quot;"); break;
        case '\'': err = dp_buf_puts(out, "&apos;"); break;
        default: err = dp_buf_putc(out, s[i]); break;
        }
        if (err) return err;
    }
    return DP_OK;
}

int s3_xml_u64(const char *s, size_t len, uint64_t *out) {
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    while (len > i &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (i == len) return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
