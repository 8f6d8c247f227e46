/* fuzz_position - the stored capture position parser on arbitrary bytes
 * (a record of the offset topic): a refused record leaves the position
 * untouched; an accepted one is valid, within [0, INT64_MAX], and written
 * back as eos.c writes it, parses to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture/position.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    capture_eos_pos_t pos, before, again;
    memset(&pos, 0xA5, sizeof pos);
    before = pos;
    if (!capture_position_parse((const char *)data, size, &pos)) {
        if (memcmp(&pos, &before, sizeof pos) != 0) __builtin_trap();
        return 0;
    }
    if (pos.valid != 1 || (pos.complete != 0 && pos.complete != 1) ||
        (pos.snapshot != 0 && pos.snapshot != 1) || pos.lsn_commit > INT64_MAX ||
        pos.records > INT64_MAX)
        __builtin_trap();
    char val[160]; /* the format of produce_position in eos.c */
    int vl = snprintf(val, sizeof val, "{\"lsn_commit\":%llu,\"records\":%llu,\"complete\":%s%s}",
                      (unsigned long long)pos.lsn_commit, (unsigned long long)pos.records,
                      pos.complete ? "true" : "false", pos.snapshot ? ",\"snapshot\":true" : "");
    memset(&again, 0, sizeof again);
    if (vl <= 0 || (size_t)vl >= sizeof val || !capture_position_parse(val, (size_t)vl, &again))
        __builtin_trap();
    if (again.lsn_commit != pos.lsn_commit || again.records != pos.records ||
        again.complete != pos.complete || again.snapshot != pos.snapshot || again.valid != 1)
        __builtin_trap();
    return 0;
}
