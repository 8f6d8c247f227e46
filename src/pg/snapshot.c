/* snapshot.c - every table of a publication read inside an exported
 * snapshot, into a sink (see snapshot.h).
 *
 * One row is always held back until the next row, or the end, shows which
 * marker it gets: whether it ends its table, or the whole snapshot, is only
 * known then. */
#include "pg/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "pg/catalog.h"
#include "pg/repl.h"

#define MOD "snapshot"

typedef struct snap_table {
    uint32_t oid;
    char *schema, *name;
    long rank;
} snap_table_t;

static dp_err_t sql_ok(PGconn *c, PGresult *r, ExecStatusType want, const char *what, char *errstr,
                       size_t n) {
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

/* list_tables: the publication's tables in schema.table order */
static dp_err_t list_tables(PGconn *snap, const char *publication, snap_table_t **out, size_t *nout,
                            char *errstr, size_t n) {
    const char *params[1] = {publication};
    PGresult *r =
        PQexecParams(snap,
                     "SELECT c.oid, n.nspname, c.relname FROM pg_publication_tables pt "
                     "JOIN pg_namespace n ON n.nspname = pt.schemaname "
                     "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
                     "WHERE pt.pubname = $1 ORDER BY 2, 3",
                     1, NULL, params, NULL, NULL, 0);
    dp_err_t err = sql_ok(snap, r, PGRES_TUPLES_OK, "list tables", errstr, n);
    if (err) return err;
    int rows = PQntuples(r);
    snap_table_t *t = dp_xcalloc((size_t)rows + 1, sizeof *t);
    for (int i = 0; i < rows; i++) {
        t[i].oid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        t[i].schema = dp_xstrdup(PQgetvalue(r, i, 1));
        t[i].name = dp_xstrdup(PQgetvalue(r, i, 2));
    }
    PQclear(r);
    *out = t;
    *nout = (size_t)rows;
    return DP_OK;
}

/* describe: each table as a Relation message from the catalog (inside the
 * snapshot), offered to the sink; order gets the indexes of those it
 * ranks, in rank order (stable: schema.table order among equal ranks) */
static dp_err_t describe(PGconn *snap, const pgsnap_sink_t *sink, snap_table_t *t, size_t nt,
                         size_t *order, size_t *nkeep, char *errstr, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        pgcat_relation_t rel;
        dp_err_t err = pgcat_relation(snap, t[i].oid, t[i].schema, t[i].name, &rel, errstr, n);
        if (err) return err;
        t[i].rank = -1;
        err = sink->table(sink->ctx, &rel.rel, &t[i].rank, errstr, n);
        pgcat_relation_fini(&rel);
        if (err) return err;
        if (t[i].rank < 0) continue;
        size_t j = k++;
        for (; j > 0 && t[order[j - 1]].rank > t[i].rank; j--) order[j] = order[j - 1];
        order[j] = i;
    }
    *nkeep = k;
    return DP_OK;
}

typedef struct reader {
    const pgsnap_sink_t *sink;
    PGresult *res; /* holds the pending row; NULL when none */
    int row;
    uint32_t relid;
    int first_of_table; /* the pending row is its table's first */
    uint64_t emitted; /* rows handed over so far */
    pgo_value_t *vals; /* the pending row's columns, PGO_MAX_COLUMNS */
} reader_t;

/* flush_pending: hand the held row over; ends_table / ends_snapshot say
 * what the row after it (or the end) revealed. Frees its batch unless it
 * is keep. */
static dp_err_t flush_pending(reader_t *rd, int ends_table, int ends_snapshot, PGresult *keep,
                              char *errstr, size_t n) {
    if (!rd->res) return DP_OK;
    const char *marker = "true";
    if (ends_snapshot)
        marker = "last";
    else if (rd->first_of_table && rd->emitted == 0)
        marker = "first";
    else if (ends_table)
        marker = "last_in_data_collection";
    else if (rd->first_of_table)
        marker = "first_in_data_collection";
    int ncols = PQnfields(rd->res);
    if (ncols > PGO_MAX_COLUMNS) ncols = PGO_MAX_COLUMNS;
    for (int i = 0; i < ncols; i++) {
        pgo_value_t *v = &rd->vals[i];
        int null = PQgetisnull(rd->res, rd->row, i);
        v->kind = null ? PGO_VAL_NULL : PGO_VAL_TEXT;
        v->data = null ? NULL : PQgetvalue(rd->res, rd->row, i);
        v->len = null ? 0 : (uint32_t)PQgetlength(rd->res, rd->row, i);
    }
    pgo_tuple_t row = {(uint16_t)ncols, rd->vals};
    dp_err_t err = rd->sink->row(rd->sink->ctx, rd->relid, &row, marker, errstr, n);
    if (!err) rd->emitted++;
    if (rd->res != keep) PQclear(rd->res);
    rd->res = NULL;
    return err;
}

/* hold: make row r of res (table relid) the pending row, handing over the
 * one held before it */
static dp_err_t hold(reader_t *rd, PGresult *res, int r, uint32_t relid, int first_of_table,
                     char *errstr, size_t n) {
    dp_err_t err = flush_pending(rd, rd->relid != relid, 0, res, errstr, n);
    rd->res = res;
    rd->row = r;
    rd->relid = relid;
    rd->first_of_table = first_of_table;
    return err;
}

static dp_err_t read_table(reader_t *rd, PGconn *snap, const snap_table_t *t, long long fetch_size,
                           char *errstr, size_t n) {
    char qs[512], qt[512], q[1200];
    repl_quote_ident(t->schema, qs, sizeof qs);
    repl_quote_ident(t->name, qt, sizeof qt);
    snprintf(q, sizeof q, "DECLARE dp_snapshot NO SCROLL CURSOR FOR SELECT * FROM ONLY %s.%s", qs,
             qt);
    dp_err_t err = exec_cmd(snap, q, "declare cursor", errstr, n);
    if (err) return err;
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH FORWARD %lld FROM dp_snapshot", fetch_size);
    uint64_t rows = 0;
    for (;;) {
        PGresult *r = PQexec(snap, fetch);
        if ((err = sql_ok(snap, r, PGRES_TUPLES_OK, "fetch", errstr, n))) break;
        int nr = PQntuples(r);
        if (nr == 0) {
            PQclear(r);
            break;
        }
        for (int i = 0; i < nr && !err; i++, rows++)
            err = hold(rd, r, i, t->oid, rows == 0, errstr, n);
        /* r now belongs to the pending row (its last one) unless we failed */
        if (err) {
            if (rd->res != r) PQclear(r);
            break;
        }
    }
    if (!err) {
        dp_info(MOD, "\"%s.%s\": %llu rows", t->schema, t->name, (unsigned long long)rows);
        err = exec_cmd(snap, "CLOSE dp_snapshot", "close cursor", errstr, n);
    }
    return err;
}

/* read_all: the kept tables' rows into the sink, between begin and end */
static dp_err_t read_all(PGconn *snap, const pgsnap_sink_t *sink, const snap_table_t *t,
                         const size_t *order, size_t nkeep, long long fetch_size, char *errstr,
                         size_t n) {
    dp_err_t err = sink->begin(sink->ctx, nkeep, errstr, n);
    if (err) return err;
    reader_t rd = {sink, NULL, 0, 0, 0, 0, dp_xcalloc(PGO_MAX_COLUMNS, sizeof(pgo_value_t))};
    for (size_t i = 0; !err && i < nkeep; i++)
        err = read_table(&rd, snap, &t[order[i]], fetch_size, errstr, n);
    if (!err) err = flush_pending(&rd, 1, 1, NULL, errstr, n);
    if (rd.res) PQclear(rd.res);
    free(rd.vals);
    sink->end(sink->ctx, !err);
    return err;
}

dp_err_t pgsnap_read(PGconn *snap, const char *snapshot_name, const char *publication,
                     long long fetch_size, const pgsnap_sink_t *sink, char *errstr, size_t n) {
    snap_table_t *t = NULL;
    size_t nt = 0, nkeep = 0, *order = NULL;
    char q[200];
    dp_err_t err =
        exec_cmd(snap, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin", errstr, n);
    /* snapshot names are hex digits and dashes; anything else is refused
     * rather than quoted into SQL */
    if (!err &&
        (!*snapshot_name || strspn(snapshot_name, "0123456789ABCDEF-") != strlen(snapshot_name)))
        err = dp_seterr(errstr, n, DP_ERR_PROTO, "snapshot: unexpected snapshot name \"%s\"",
                        snapshot_name);
    snprintf(q, sizeof q, "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
    if (!err) err = exec_cmd(snap, q, "import snapshot", errstr, n);
    if (!err) err = list_tables(snap, publication, &t, &nt, errstr, n);
    if (!err) {
        order = dp_xcalloc(nt + 1, sizeof *order);
        err = describe(snap, sink, t, nt, order, &nkeep, errstr, n);
    }
    if (!err) {
        dp_info(MOD, "snapshot %s: %zu tables", snapshot_name, nkeep);
        err = read_all(snap, sink, t, order, nkeep, fetch_size, errstr, n);
    }
    if (!err) err = exec_cmd(snap, "COMMIT", "commit", errstr, n);
    for (size_t i = 0; i < nt; i++) {
        free(t[i].schema);
        free(t[i].name);
    }
    free(t);
    free(order);
    return err;
}
