/* fuzz_sts - the STS AssumeRoleWithWebIdentity answer parser and its time
 * format on arbitrary bytes: accepted answers always carry both keys, and
 * accepted times lie in the years 1970..9999. */
#include <stdint.h>
#include <stdlib.h>

#include "s3/sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    s3_sts_credentials_t c;
    if (s3_sts_parse_credentials((const char *)data, size, &c, err, sizeof err) == DP_OK) {
        if (!c.access_key || !*c.access_key || !c.secret_key || !*c.secret_key) abort();
        if (c.session_token && !*c.session_token) abort();
        if (c.expires_ms < 0) abort();
    } else if (c.access_key || c.secret_key || c.session_token) {
        abort(); /* a failed parse holds nothing */
    }
    s3_sts_credentials_fini(&c);
    int64_t ms;
    if (s3_sts_parse_time((const char *)data, size, &ms) == 0 &&
        (ms < 0 || ms >= 253402300800000LL))
        abort();
    return 0;
}
