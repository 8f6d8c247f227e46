/* fuzz_s3_error - S3's <Error> document parser on arbitrary bytes (the body
 * of any failed request): the element spans lie inside the document, Code
 * and Message come back NUL-terminated within their buffers, even tiny ones,
 * and a Message that fits has no trailing dot, blank or newline. */
#include <stdint.h>
#include <string.h>

#include "s3/client.h"
#include "s3/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, size_t codesz, size_t msgsz) {
    char code[128], msg[512];
    memset(code, 'x', sizeof code);
    memset(msg, 'x', sizeof msg);
    s3_parse_error_body((const char *)data, size, code, codesz, msg, msgsz);
    size_t cl = strnlen(code, codesz), ml = strnlen(msg, msgsz);
    if (cl >= codesz || ml >= msgsz) __builtin_trap();
    if (cl > size || ml > size) __builtin_trap(); /* unescaping never grows text */
    if (ml > 0 && ml + 1 < msgsz &&
        (msg[ml - 1] == '.' || msg[ml - 1] == ' ' || msg[ml - 1] == '\n'))
        __builtin_trap();
    if (cl > 0 && !memmem(data, size, "<Code", 5)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const tags[] = {"Error", "Code", "Message", "RequestId"};
    const char *doc = (const char *)data;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        s3_xml_span_t v;
        if (s3_xml_find(doc, size, tags[i], &v) &&
            (v.p < doc || v.p > doc + size || v.len > (size_t)(doc + size - v.p)))
            __builtin_trap();
    }
    check(data, size, 128, 512); /* the sizes client.c uses */
    check(data, size, 1, 1);
    check(data, size, 5, 7);
    return 0;
}
