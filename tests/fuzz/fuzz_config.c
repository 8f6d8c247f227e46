/* fuzz_config - configuration text (JSON or .properties) against both
 * service tables. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "capture/capture.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dp_log_level = -1;
    char err[1024];
    capture_settings_t c;
    memset(&c, 0, sizeof c);
    cfg_load_text(&capture_config_table, &c, (const char *)data, size, "fuzz", err, sizeof err);
    cfg_free(&capture_config_table, &c);
    archive_settings_t a;
    memset(&a, 0, sizeof a);
    cfg_load_text(&archive_config_table, &a, (const char *)data, size, "fuzz", err, sizeof err);
    cfg_free(&archive_config_table, &a);
    return 0;
}
