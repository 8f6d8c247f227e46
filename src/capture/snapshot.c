/* snapshot.c - capture's side of the initial snapshot: the sink that
 * pg/snapshot.c reads the captured tables into, as op "r" events.
 *
 * The slot's consistent point and the exported snapshot describe the same
 * instant, so rows read in it plus changes streamed from the slot
 * afterwards are every change exactly once: no gap, no overlap. Each table
 * is bound from the Relation description the reader builds from the
 * catalog, so it is encoded exactly as streaming will encode it. Events go
 * through the same bounded in-flight window as streaming, so memory does
 * not grow with table size. All snapshot events form one unit in the
 * acknowledgement ring that ends at the consistent point. */
#include <stdio.h>
#include <string.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "pg/repl.h"
#include "pg/snapshot.h"

typedef struct snap_sink {
    capture_t *c;
    uint64_t lsn; /* the consistent point */
    table_entry_t *last; /* the table of the previous row */
} snap_sink_t;

/* include_rank: position of the first table.include.list expression that
 * matches te (Debezium reads tables in that order); 0 without a list */
static long include_rank(const capture_t *c, const table_entry_t *te) {
    char full[1024];
    snprintf(full, sizeof full, "%s.%s", te->t.schema, te->t.table);
    for (size_t i = 0; i < c->include.n; i++)
        if (regexec(&c->include.re[i], full, 0, NULL, 0) == 0) return (long)i;
    return (long)c->include.n;
}

static dp_err_t on_table(void *ctx, const pgo_relation_t *rel, long *rank, char *errstr, size_t n) {
    snap_sink_t *k = ctx;
    table_entry_t *te = capture_add_table(k->c, rel->relid);
    dp_err_t err = capture_bind_table(k->c, te, rel, errstr, n);
    if (err) return err;
    *rank = te->included ? include_rank(k->c, te) : -1;
    return DP_OK;
}

static dp_err_t on_begin(void *ctx, size_t ntables, char *errstr, size_t n) {
    snap_sink_t *k = ctx;
    capture_t *c = k->c;
    dp_info(MOD, "snapshot at %X/%X: %zu tables", (unsigned)(k->lsn >> 32), (unsigned)k->lsn,
            ntables);
    dp_err_t err = capture_begin_txn(c, errstr, n);
    if (err) return err;
    c->commit_ts_us = dp_wall_us();
    c->xid = 0;
    c->last_commit_lsn = 0;
    return DP_OK;
}

static dp_err_t on_row(void *ctx, uint32_t relid, const pgo_tuple_t *row, const char *marker,
                       char *errstr, size_t n) {
    snap_sink_t *k = ctx;
    capture_t *c = k->c;
    /* every table was bound before the first row: pointers are stable */
    if (!k->last || k->last->relid != relid) k->last = capture_find_table(c, relid);
    if (!k->last)
        return dp_seterr(errstr, n, DP_ERR_PROTO, "snapshot: a row of unknown relation %u", relid);
    /* the same in-flight bound as streaming */
    while ((c->acks.inflight >= c->s.max_queue_size ||
            c->acks.inflight_bytes >= c->s.max_queue_size_bytes) &&
           !capture_stop_requested)
        capture_serve(c, 20);
    if (capture_stop_requested) return DP_ERR_STOPPED;
    dp_err_t err =
        capture_emit(c, k->last, 'r', NULL, row, k->lsn, dp_wall_us(), marker, errstr, n);
    if (!err && (++c->snapshot_rows & 1023) == 0) capture_tick_metrics(c, NULL);
    return err;
}

static void on_end(void *ctx, int ok) {
    snap_sink_t *k = ctx;
    (void)ok;
    /* the unit ends at the consistent point whatever happened: the caller
     * drops the slot when the snapshot failed */
    capture_end_txn(k->c, k->lsn);
    /* Debezium's first streamed event has no previous commit either */
    k->c->last_commit_lsn = 0;
}

dp_err_t capture_snapshot(capture_t *c, const char *snapshot_name, uint64_t lsn, char *errstr,
                          size_t n) {
    repl_conninfo_t ci;
    capture_conninfo(&c->s, &ci);
    PGconn *snap = repl_connect(&ci, 0, errstr, n);
    if (!snap) return DP_ERR_NET;
    snap_sink_t k = {c, lsn, NULL};
    pgsnap_sink_t sink = {&k, on_table, on_begin, on_row, on_end};
    c->snapshotting = 1;
    capture_tick_metrics(c, NULL);
    dp_err_t err = pgsnap_read(snap, snapshot_name, c->s.publication_name, c->s.snapshot_fetch_size,
                               &sink, errstr, n);
    PQfinish(snap);
    /* wait for Kafka to take every snapshot event before streaming starts,
     * so a failure here still leaves the slot to be dropped */
    while (!err && c->acks.inflight > 0 && !c->delivery_failed && !capture_stop_requested)
        capture_serve(c, 50);
    if (!err && c->delivery_failed)
        err = dp_seterr(errstr, n, DP_ERR_KAFKA, "snapshot: %s", c->delivery_err);
    if (!err && capture_stop_requested) err = DP_ERR_STOPPED;
    c->snapshotting = 0;
    if (!err)
        dp_info(MOD, "snapshot done: %llu rows acknowledged by Kafka",
                (unsigned long long)c->snapshot_rows);
    return err;
}
