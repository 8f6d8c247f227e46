/* fuzz_parquet_footer - pqt_footer_kv on arbitrary bytes (an S3 object the
 * archive did not write): never reads outside the input, and a found value
 * is NUL-terminated within out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/footer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char out[32], err[256];
    size_t need = 0;
    dp_err_t e = pqt_footer_kv(data, size, "datapipe.kafka.end.offset", out, sizeof out, &need, err,
                               sizeof err);
    if (e == DP_OK && strlen(out) >= sizeof out) abort();
    if (e == DP_ERR_FULL && need <= size) abort();
    return 0;
}
