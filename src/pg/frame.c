/* frame.c - the replication stream's framing; see frame.h. The frames
 * come from the server: every length is checked before it is read. */
#include "pg/frame.h"

#include "pg/pgoutput.h"
#include "pg/repl.h"

#define XLOGDATA_HEADER 25 /* 'w', start, end, time */
#define KEEPALIVE_LEN 18 /* 'k', end, time, reply */

dp_err_t pgf_parse(const uint8_t *p, size_t len, pgf_frame_t *out, char *errstr, size_t n) {
    if (!len) return dp_seterr(errstr, n, DP_ERR_PROTO, "empty copy message");
    *out = (pgf_frame_t){0};
    switch (p[0]) {
    case 'w':
        if (len < XLOGDATA_HEADER)
            return dp_seterr(errstr, n, DP_ERR_PROTO, "XLogData of %zu bytes", len);
        out->kind = PGF_XLOGDATA;
        out->wal_start = pgo_be64(p + 1);
        out->wal_end = pgo_be64(p + 9);
        out->server_time = (int64_t)pgo_be64(p + 17);
        out->data = p + XLOGDATA_HEADER;
        out->len = len - XLOGDATA_HEADER;
        return DP_OK;
    case 'k':
        if (len < KEEPALIVE_LEN)
            return dp_seterr(errstr, n, DP_ERR_PROTO, "keepalive of %zu bytes", len);
        out->kind = PGF_KEEPALIVE;
        out->wal_end = pgo_be64(p + 1);
        out->server_time = (int64_t)pgo_be64(p + 9);
        out->reply_requested = p[17] != 0;
        return DP_OK;
    default: return dp_seterr(errstr, n, DP_ERR_PROTO, "unexpected copy message 0x%02x", p[0]);
    }
}

void pgf_status_update(uint8_t out[PGF_STATUS_LEN], uint64_t written, uint64_t flushed,
                       int64_t now_us) {
    out[0] = 'r';
    pgo_put_be64(out + 1, written);
    pgo_put_be64(out + 9, flushed);
    pgo_put_be64(out + 17, flushed);
    pgo_put_be64(out + 25, (uint64_t)(now_us - REPL_PG_EPOCH_US));
    out[33] = 0; /* no reply requested */
}

void pgf_feedback_init(pgf_feedback_t *f, int64_t interval_us) {
    *f = (pgf_feedback_t){.interval_us = interval_us};
}

int pgf_feedback_due(const pgf_feedback_t *f, int64_t now_us, uint64_t flushed) {
    return now_us >= pgf_feedback_deadline(f, flushed);
}

int64_t pgf_feedback_deadline(const pgf_feedback_t *f, uint64_t flushed) {
    if (flushed != f->reported && f->last_us + 1000000 < f->next_us) return f->last_us + 1000000;
    return f->next_us;
}

void pgf_feedback_sent(pgf_feedback_t *f, int64_t now_us, uint64_t flushed) {
    f->last_us = now_us;
    f->next_us = now_us + f->interval_us;
    f->reported = flushed;
}
