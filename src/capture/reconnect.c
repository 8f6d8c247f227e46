/* reconnect.c - capture heals itself when PostgreSQL goes away (a fast
 * or immediate shutdown, a restart, a network cut) instead of exiting.
 *
 * 1. Settle: wait until Kafka has acknowledged everything handed to it
 *    and, with exactly-once, commit the open Kafka transaction. Then the
 *    records received so far are all in Kafka, and the position they
 *    reach (the PostgreSQL transaction being read and how many of its
 *    records were sent) is exact.
 * 2. Close the transaction that was cut in the middle: its ring entry
 *    moves nothing (end 0); the slot sends the whole transaction again.
 * 3. Remember that position as the one to skip up to, exactly as after a
 *    restart (eos.c): the slot resends from its confirmed LSN, which may
 *    be behind what Kafka holds, and the records up to the position are
 *    skipped. So a reconnect adds no duplicate, in either delivery mode.
 * 4. Connect again with the retry policy's backoff (1 s doubling to 30 s,
 *    with jitter) until the slot streams. Kafka keeps being served, and
 *    the log, the metrics and /health say what capture waits for. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/retry.h"
#include "pg/repl.h"

/* settle: steps 1 to 3 above */
static dp_err_t settle(capture_t *c, char *errstr, size_t n) {
    dp_err_t err = capture_wait_acked(c, "before reconnecting to PostgreSQL", errstr, n);
    if (err) return err;
    if ((err = capture_eos_flush(c, errstr, n))) return err;
    c->resume = capture_eos_position(c);
    if (c->acks.open) capture_end_txn(c, 0);
    capture_serve(c, 0);
    return DP_OK;
}

/* attempt: both connections and START_REPLICATION, once */
static dp_err_t attempt(capture_t *c, char *errstr, size_t n) {
    const capture_settings_t *s = &c->s;
    repl_conninfo_t ci;
    capture_conninfo(s, &ci);
    if (c->repl) PQfinish(c->repl);
    if (c->sql) PQfinish(c->sql);
    c->repl = c->sql = NULL;
    if (!(c->sql = repl_connect(&ci, 0, errstr, n))) return DP_ERR_NET;
    if (!(c->repl = repl_connect(&ci, 1, errstr, n))) return DP_ERR_NET;
    return repl_start(c->repl, s->slot_name, s->publication_name, errstr, n);
}

dp_err_t capture_reconnect(capture_t *c, const char *why, char *errstr, size_t n) {
    char reason[512], waiting[600];
    snprintf(reason, sizeof reason, "%s", why);
    for (char *q = reason; *q; q++) /* libpq's messages span lines: one log line */
        if (*q == '\n' || *q == '\t') *q = ' ';
    dp_warn(MOD, "lost the connection to PostgreSQL: %s", reason);
    c->pg_lost = 0;
    dp_err_t err = settle(c, errstr, n);
    if (err) return err;
    dp_retry_t retry = {0};
    for (;;) {
        long delay = dp_retry_failed(&retry, dp_mono_ms());
        snprintf(waiting, sizeof waiting, "waiting for postgresql: %s", reason);
        dp_warn(MOD, "reconnecting to PostgreSQL in %ld ms (confirmed %X/%X)", delay,
                (unsigned)(c->flushed_lsn >> 32), (unsigned)c->flushed_lsn);
        while (!dp_retry_due(&retry, dp_mono_ms()) && !capture_stop_requested) {
            capture_serve(c, 100);
            capture_tick_metrics(c, waiting);
        }
        if (capture_stop_requested) return DP_ERR_STOPPED;
        if (!(err = attempt(c, reason, sizeof reason))) break;
        for (char *q = reason; *q; q++)
            if (*q == '\n' || *q == '\t') *q = ' ';
    }
    c->reconnects++;
    capture_tick_metrics(c, NULL);
    dp_info(MOD, "reconnected to PostgreSQL: streaming from slot \"%s\" again", c->s.slot_name);
    return DP_OK;
}
