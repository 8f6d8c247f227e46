/* snapshot.c - the initial snapshot: every captured table read inside the
 * snapshot the slot exported when it was created, as op "r" events.
 *
 * The slot's consistent point and the exported snapshot describe the same
 * instant, so rows read here plus changes streamed from the slot afterwards
 * are every change exactly once: no gap, no overlap. Tables are read through
 * a cursor, snapshot.fetch.size rows per round trip, and events go through
 * the same bounded in-flight window as streaming, so memory does not grow
 * with table size. All snapshot events form one unit in the acknowledgement
 * ring that ends at the consistent point.
 *
 * source.snapshot follows Debezium: "first" for the first record,
 * "first_in_data_collection" for the first of each later table,
 * "last_in_data_collection" for the last of each table but the last,
 * "last" for the very last record, "true" otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/internal.h"
#include "common/log.h"
#include "pg/catalog.h"
#include "pg/repl.h"

typedef struct snap_table {
    uint32_t oid;
    char *schema, *name;
} snap_table_t;

static dp_err_t sql_ok(PGconn *c, PGresult *r, ExecStatusType want, const char *what,
                       char *errstr, size_t n) {
    char label[128];
    snprintf(label, sizeof label, "snapshot: %s", what);
    return pgcat_check(c, r, want, label, errstr, n);
}

/* exec_cmd: run a command that returns no rows; the result is freed. */
static dp_err_t exec_cmd(PGconn *c, const char *sql, const char *what, char *errstr, size_t n) {
    PGresult *r = PQexec(c, sql);
    dp_err_t err = sql_ok(c, r, PGRES_COMMAND_OK, what, errstr, n);
    if (!err) PQclear(r);
    return err;
}

/* list_tables: the publication's tables that the include/exclude lists
 * keep, in schema.table order. */
static dp_err_t list_tables(capture_t *c, PGconn *snap, snap_table_t **out, size_t *nout,
                            char *errstr, size_t n) {
    const char *params[1] = {c->s.publication_name};
    PGresult *r = PQexecParams(snap,
                               "SELECT c.oid, n.nspname, c.relname FROM pg_publication_tables pt "
                               "JOIN pg_namespace n ON n.nspname = pt.schemaname "
                               "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
                               "WHERE pt.pubname = $1 ORDER BY 2, 3",
                               1, NULL, params, NULL, NULL, 0);
    dp_err_t err = sql_ok(snap, r, PGRES_TUPLES_OK, "list tables", errstr, n);
    if (err) return err;
    int rows = PQntuples(r);
    snap_table_t *t = dp_xcalloc((size_t)rows + 1, sizeof *t);
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        t[k].oid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        t[k].schema = dp_xstrdup(PQgetvalue(r, i, 1));
        t[k].name = dp_xstrdup(PQgetvalue(r, i, 2));
        k++;
    }
    PQclear(r);
    *out = t;
    *nout = k;
    return DP_OK;
}

/* bind: a Relation message built from the catalog (inside the snapshot)
 * so the table is encoded exactly as streaming will encode it. */
static dp_err_t bind_table(capture_t *c, PGconn *snap, const snap_table_t *st, table_entry_t **out,
                           char *errstr, size_t n) {
    pgcat_relation_t rel;
    dp_err_t err = pgcat_relation(snap, st->oid, st->schema, st->name, &rel, errstr, n);
    if (err) return err;
    table_entry_t *te = capture_add_table(c, st->oid);
    err = capture_bind_table(c, te, &rel.msg, errstr, n);
    pgcat_relation_fini(&rel);
    *out = te;
    return err;
}

/* reader: the state of one snapshot read. One row is always held back
 * (pending) until the next row or the end shows which marker it gets:
 * whether it ends its table, or the whole snapshot, is only known then. */
typedef struct reader {
    capture_t *c;
    uint64_t lsn;
    PGresult *res;       /* holds the pending row; NULL when none */
    int row;
    table_entry_t *te;
    int first_of_table;  /* the pending row is its table's first */
    int emitted;         /* rows emitted so far */
} reader_t;

/* flush_pending: emit the held row; ends_table / ends_snapshot say what
 * the row after it (or the end) revealed. Frees its batch when done. */
static dp_err_t flush_pending(reader_t *rd, int ends_table, int ends_snapshot, PGresult *keep,
                              char *errstr, size_t n) {
    if (!rd->res) return DP_OK;
    capture_t *c = rd->c;
    const char *marker = "true";
    if (ends_snapshot) marker = "last";
    else if (rd->first_of_table && rd->emitted == 0) marker = "first";
    else if (ends_table) marker = "last_in_data_collection";
    else if (rd->first_of_table) marker = "first_in_data_collection";
    pgo_value_t *vals = c->dec->vals[1];
    int ncols = PQnfields(rd->res);
    if (ncols > PGO_MAX_COLUMNS) ncols = PGO_MAX_COLUMNS;
    for (int i = 0; i < ncols; i++) {
        if (PQgetisnull(rd->res, rd->row, i)) {
            vals[i].kind = PGO_VAL_NULL;
            vals[i].data = NULL;
            vals[i].len = 0;
        } else {
            vals[i].kind = PGO_VAL_TEXT;
            vals[i].data = PQgetvalue(rd->res, rd->row, i);
            vals[i].len = (uint32_t)PQgetlength(rd->res, rd->row, i);
        }
    }
    pgo_tuple_t row = {(uint16_t)ncols, vals};
    /* the same in-flight bound as streaming */
    while ((c->acks.inflight >= c->s.max_queue_size || c->acks.inflight_bytes >= c->s.max_queue_size_bytes) &&
           !capture_stop_requested)
        capture_serve(c, 20);
    dp_err_t err = capture_stop_requested
                       ? DP_ERR_STOPPED
                       : capture_emit(c, rd->te, 'r', NULL, &row, rd->lsn, repl_now_us(), marker,
                                      errstr, n);
    if (!err) {
        c->snapshot_rows++;
        rd->emitted++;
    }
    if (rd->res != keep) PQclear(rd->res);
    rd->res = NULL;
    return err;
}

/* hold: make row r of res (table te) the pending row, emitting the one
 * held before it */
static dp_err_t hold(reader_t *rd, PGresult *res, int r, table_entry_t *te, int first_of_table,
                     char *errstr, size_t n) {
    dp_err_t err = flush_pending(rd, rd->te != te, 0, res, errstr, n);
    rd->res = res;
    rd->row = r;
    rd->te = te;
    rd->first_of_table = first_of_table;
    return err;
}

static dp_err_t read_table(reader_t *rd, PGconn *snap, table_entry_t *te, char *errstr, size_t n) {
    char qs[512], qt[512], q[1200];
    repl_quote_ident(te->t.schema, qs, sizeof qs);
    repl_quote_ident(te->t.table, qt, sizeof qt);
    snprintf(q, sizeof q, "DECLARE dp_snapshot NO SCROLL CURSOR FOR SELECT * FROM ONLY %s.%s", qs, qt);
    dp_err_t err = exec_cmd(snap, q, "declare cursor", errstr, n);
    if (err) return err;
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH FORWARD %lld FROM dp_snapshot", rd->c->s.snapshot_fetch_size);
    uint64_t rows = 0;
    for (;;) {
        PGresult *r = PQexec(snap, fetch);
        if ((err = sql_ok(snap, r, PGRES_TUPLES_OK, "fetch", errstr, n))) break;
        int nr = PQntuples(r);
        if (nr == 0) {
            PQclear(r);
            break;
        }
        for (int i = 0; i < nr && !err; i++, rows++) err = hold(rd, r, i, te, rows == 0, errstr, n);
        /* r now belongs to the pending row (its last one) unless we failed */
        if (err) {
            if (rd->res != r) PQclear(r);
            break;
        }
    }
    if (!err) {
        dp_info(MOD, "snapshot of \"%s.%s\": %llu rows", te->t.schema, te->t.table,
                (unsigned long long)rows);
        err = exec_cmd(snap, "CLOSE dp_snapshot", "close cursor", errstr, n);
    }
    return err;
}

/* include_rank: position of the first table.include.list expression that
 * matches te (Debezium reads tables in that order); 0 without a list */
static size_t include_rank(const capture_t *c, const table_entry_t *te) {
    char full[1024];
    snprintf(full, sizeof full, "%s.%s", te->t.schema, te->t.table);
    for (size_t i = 0; i < c->include.n; i++)
        if (regexec(&c->include.re[i], full, 0, NULL, 0) == 0) return i;
    return c->include.n;
}

dp_err_t capture_snapshot(capture_t *c, const char *snapshot_name, uint64_t lsn, char *errstr,
                          size_t n) {
    repl_conninfo_t ci = {c->s.hostname, c->s.user, c->s.password, c->s.dbname, c->s.port, c->s.name};
    PGconn *snap = repl_connect(&ci, 0, errstr, n);
    if (!snap) return DP_ERR_NET;
    snap_table_t *tables = NULL;
    size_t ntables = 0;
    char q[200];
    snprintf(q, sizeof q, "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
    dp_err_t err = exec_cmd(snap, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin", errstr, n);
    /* snapshot names are hex digits and dashes; anything else is refused
     * rather than quoted into SQL */
    if (!err && (!*snapshot_name || strspn(snapshot_name, "0123456789ABCDEF-") != strlen(snapshot_name)))
        err = dp_seterr(errstr, n, DP_ERR_PROTO, "snapshot: unexpected snapshot name \"%s\"", snapshot_name);
    if (!err) err = exec_cmd(snap, q, "import snapshot", errstr, n);
    if (!err) err = list_tables(c, snap, &tables, &ntables, errstr, n);

    /* bind every table first: binding may grow the relation cache, so
     * pointers into it are taken only afterwards */
    uint32_t *keep_ids = dp_xcalloc(ntables + 1, sizeof *keep_ids);
    size_t nkeep = 0;
    for (size_t i = 0; !err && i < ntables; i++) {
        table_entry_t *te;
        if ((err = bind_table(c, snap, &tables[i], &te, errstr, n))) break;
        if (te->included) keep_ids[nkeep++] = te->relid;
    }
    table_entry_t **keep = dp_xcalloc(nkeep + 1, sizeof *keep);
    for (size_t i = 0; i < nkeep; i++) keep[i] = capture_find_table(c, keep_ids[i]);
    free(keep_ids);
    /* table.include.list order (insertion sort: stable, lists are short) */
    for (size_t i = 1; i < nkeep; i++) {
        table_entry_t *t = keep[i];
        size_t rank = include_rank(c, t), j = i;
        while (j > 0 && include_rank(c, keep[j - 1]) > rank) {
            keep[j] = keep[j - 1];
            j--;
        }
        keep[j] = t;
    }
    dp_info(MOD, "snapshot %s at %X/%X: %zu tables", snapshot_name, (unsigned)(lsn >> 32),
            (unsigned)lsn, nkeep);
    if (!err) err = capture_begin_txn(c, errstr, n);
    if (!err) {
        c->commit_ts_us = repl_now_us();
        c->xid = 0;
        c->last_commit_lsn = 0;
        reader_t rd = {c, lsn, NULL, 0, NULL, 0, 0};
        for (size_t i = 0; !err && i < nkeep; i++) err = read_table(&rd, snap, keep[i], errstr, n);
        if (!err) err = flush_pending(&rd, 1, 1, NULL, errstr, n);
        if (rd.res) PQclear(rd.res);
        /* the unit ends at the consistent point whatever happened: the
         * caller drops the slot when the snapshot failed */
        capture_end_txn(c, lsn);
        /* Debezium's first streamed event has no previous commit either */
        c->last_commit_lsn = 0;
    }
    if (!err) err = exec_cmd(snap, "COMMIT", "commit", errstr, n);
    /* wait for Kafka to take every snapshot event before streaming starts,
     * so a failure here still leaves the slot to be dropped */
    while (!err && c->acks.inflight > 0 && !c->delivery_failed && !capture_stop_requested)
        capture_serve(c, 50);
    if (!err && c->delivery_failed)
        err = dp_seterr(errstr, n, DP_ERR_KAFKA, "snapshot: %s", c->delivery_err);
    if (!err && capture_stop_requested) err = DP_ERR_STOPPED;
    if (!err)
        dp_info(MOD, "snapshot done: %llu rows acknowledged by Kafka",
                (unsigned long long)c->snapshot_rows);
    for (size_t i = 0; i < ntables; i++) {
        free(tables[i].schema);
        free(tables[i].name);
    }
    free(tables);
    free(keep);
    PQfinish(snap);
    return err;
}
