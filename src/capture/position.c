/* position.c - parsing the stored stream position of exactly-once capture
 * (a JSON record from the offset topic) without trusting its bytes. */
#include "capture/position.h"

#include <string.h>

#include "common/json.h"

int capture_position_parse(const char *v, size_t len, capture_eos_pos_t *pos) {
    dp_json_t j;
    memset(&j, 0, sizeof j);
    char err[128];
    int ok = 0;
    if (dp_json_parse(&j, v, len, 64, err, sizeof err) == DP_OK &&
        j.nodes[0].type == DP_JSON_OBJECT) {
        uint32_t l = dp_json_get(&j, 0, "lsn_commit"), r = dp_json_get(&j, 0, "records"),
                 cpl = dp_json_get(&j, 0, "complete"), snap = dp_json_get(&j, 0, "snapshot");
        int64_t lsn, recs;
        if (l && r && cpl && dp_json_int64(&j, l, &lsn) == DP_OK &&
            dp_json_int64(&j, r, &recs) == DP_OK && lsn >= 0 && recs >= 0 &&
            (j.nodes[cpl].type == DP_JSON_TRUE || j.nodes[cpl].type == DP_JSON_FALSE) &&
            (!snap || j.nodes[snap].type == DP_JSON_TRUE || j.nodes[snap].type == DP_JSON_FALSE)) {
            pos->lsn_commit = (uint64_t)lsn;
            pos->records = (uint64_t)recs;
            pos->complete = j.nodes[cpl].type == DP_JSON_TRUE;
            pos->snapshot = snap && j.nodes[snap].type == DP_JSON_TRUE;
            pos->valid = 1;
            ok = 1;
        }
    }
    dp_json_fini(&j);
    return ok;
}

dp_err_t capture_position_write(const capture_eos_pos_t *pos, dp_buf_t *out) {
    dp_buf_reset(out);
    dp_buf_puts(out, "{\"lsn_commit\":");
    dp_buf_put_u64(out, pos->lsn_commit);
    dp_buf_puts(out, ",\"records\":");
    dp_buf_put_u64(out, pos->records);
    dp_buf_puts(out, pos->complete ? ",\"complete\":true" : ",\"complete\":false");
    if (pos->snapshot) dp_buf_puts(out, ",\"snapshot\":true");
    dp_buf_putc(out, '}');
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}
