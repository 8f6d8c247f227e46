/* xml.h - just enough XML for S3 responses: find an element's text by tag
 * name, iterate repeated elements, undo entity escapes, escape text for
 * request bodies.
 *
 * S3 answers are flat, machine-written documents, so elements are found by
 * scanning for "<Tag>" / "<Tag attr=...>" / "<Tag/>" and the matching
 * "</Tag>"; there is no DTD, CDATA or namespace handling. Spans point into the
 * scanned document; nothing is allocated except by the dp_buf functions. */
#ifndef DP_S3_XML_H
#define DP_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct s3_xml_span {
    const char *p;
    size_t len;
} s3_xml_span_t;

/* s3_xml_find: the raw (still escaped) content of the first complete element
 * named tag in doc[0..len) into *out; 1 if found, 0 if absent or
 * unterminated. "<Key>" never matches "<KeyCount>"; "<Tag/>" is found empty. */
int s3_xml_find(const char *doc, size_t len, const char *tag, s3_xml_span_t *out);

/* s3_xml_next: iterate the elements named tag in *rest: on 1, *out is the
 * next element's content and *rest moves past its end tag; 0 when no more. */
int s3_xml_next(s3_xml_span_t *rest, const char *tag, s3_xml_span_t *out);

/* s3_xml_unescape: append s[0..len) to out with the five predefined entities
 * (&amp; &lt; &gt; &quot; &apos;) and numeric references (&#N; &#xH;, as
 * UTF-8) replaced. DP_ERR_PROTO for an unknown or unterminated entity or a
 * code point that XML does not allow; DP_ERR_NOMEM past out's max. */
dp_err_t s3_xml_unescape(const char *s, size_t len, dp_buf_t *out);

/* s3_xml_escape: append s[0..len) to out with & < > " ' escaped. */
dp_err_t s3_xml_escape(dp_buf_t *out, const char *s, size_t len);

/* s3_xml_u64: parse a decimal unsigned integer filling all of s[0..len),
 * surrounding blanks allowed; 0 on success, -1 if empty, not a number or
 * over UINT64_MAX. */
int s3_xml_u64(const char *s, size_t len, uint64_t *out);

#endif
