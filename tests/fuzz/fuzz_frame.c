/* fuzz_frame - the replication stream's frame parser on arbitrary bytes
 * (a CopyData message from the server): a parsed frame's data lies inside
 * the input, and an accepted XLogData or keepalive is exactly as long as
 * its header says. */
#include <stdint.h>
#include <string.h>

#include "pg/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pgf_frame_t f;
    char err[128];
    if (pgf_parse(data, size, &f, err, sizeof err)) {
        if (!memchr(err, 0, sizeof err)) __builtin_trap();
        return 0;
    }
    if (f.kind == PGF_XLOGDATA) {
        if (size < 25 || f.data != data + 25 || f.len != size - 25) __builtin_trap();
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < f.len; i++) sum ^= f.data[i]; /* every byte readable */
        (void)sum;
    } else if (f.kind != PGF_KEEPALIVE || size < 18 || f.data || f.len) {
        __builtin_trap();
    }
    return 0;
}
