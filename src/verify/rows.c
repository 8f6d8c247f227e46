/* rows.c - the rows check of `datapipe verify`: archived rows folded into
 * the latest state per key (state.c), then each captured table read live
 * and encoded as the capture encodes a snapshot row, so that both sides
 * are the same Debezium JSON; see rows.h.
 *
 * The tables are the capture's: its publication, filtered by
 * table.include.list / table.exclude.list, keyed by their primary key (a
 * table without one is listed as not compared). Values are encoded with
 * the capture's decimal, time and binary handling modes. The live tables
 * are read in one REPEATABLE READ transaction, through a cursor. */
#include "verify/rows.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "common/config.h"
#include "common/json.h"
#include "common/relist.h"
#include "event/debezium.h"
#include "parquet/reader.h"
#include "pg/catalog.h"
#include "pg/repl.h"
#include "verify/verify.h"

#define FETCH_ROWS 2000
#define MAX_LISTED 1000 /* findings kept for the report */
#define TEXT_LISTED 20 /* of which the text report prints */
#define MAX_UNREADABLE 20

typedef struct live_table {
    dbz_table_t t; /* how the capture encodes its rows */
    int state; /* index in the state, -1: not compared (no primary key) */
} live_table_t;

typedef struct finding {
    uint32_t table;
    vfy_row_kind_t kind;
    char *key;
} finding_t;

struct vfy_rows {
    capture_settings_t s;
    dbz_options_t opt;
    PGconn *pg;
    live_table_t *tables;
    size_t ntables;
    vfy_state_t *state;
    finding_t *findings;
    size_t nfindings;
    uint64_t objects, rows, other_rows, unreadable;
    char *unreadable_key[MAX_UNREADABLE], *unreadable_why[MAX_UNREADABLE];
    char at_lsn[32];
    int compared;
};

static void on_finding(void *ctx, uint32_t table, vfy_row_kind_t kind, const char *key) {
    vfy_rows_t *r = ctx;
    if (r->nfindings >= MAX_LISTED) return;
    r->findings = dp_xrealloc(r->findings, (r->nfindings + 1) * sizeof *r->findings);
    r->findings[r->nfindings++] = (finding_t){table, kind, dp_xstrdup(key)};
}

/* refuse_unwrap: the archive's rows are envelopes only without
 * ExtractNewRecordState; with it there is no before/after to rebuild */
static dp_err_t refuse_unwrap(const capture_settings_t *s, char *errstr, size_t n) {
    for (size_t i = 0; i < s->transforms_kv.n; i++)
        if (strstr(s->transforms_kv.values[i], "ExtractNewRecordState"))
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "--against-postgres needs Debezium's envelope in the archive, but the "
                             "capture's \"transforms.%s\" unwraps it",
                             s->transforms_kv.keys[i]);
    return DP_OK;
}

/* add_table: the catalog of one published table, as the capture sees it */
static dp_err_t add_table(vfy_rows_t *r, uint32_t oid, const char *schema, const char *name,
                          char *errstr, size_t n) {
    pgcat_relation_t rel;
    pgcat_facts_t facts;
    dp_err_t err = pgcat_relation(r->pg, oid, schema, name, &rel, errstr, n);
    if (err) return err;
    if ((err = pgcat_facts(r->pg, oid, &facts, errstr, n))) {
        pgcat_relation_fini(&rel);
        return err;
    }
    r->tables = dp_xrealloc(r->tables, (r->ntables + 1) * sizeof *r->tables);
    live_table_t *lt = &r->tables[r->ntables];
    memset(lt, 0, sizeof *lt);
    err = dbz_table_init(&lt->t, &rel.rel, facts.cols, (size_t)facts.n, &r->opt, errstr, n);
    if (!err) {
        r->ntables++;
        const char **pk = dp_xcalloc(lt->t.ncols + 1, sizeof *pk);
        size_t npk = 0;
        for (int i = 0; i < facts.n; i++)
            if (facts.cols[i].in_pk) pk[npk++] = facts.cols[i].name;
        lt->state = npk ? (int)vfy_state_add_table(r->state, schema, name, pk, npk) : -1;
        free(pk);
    }
    pgcat_facts_fini(&facts);
    pgcat_relation_fini(&rel);
    return err;
}

/* list_tables: the capture's tables: its publication, its include and exclude lists */
static dp_err_t list_tables(vfy_rows_t *r, char *errstr, size_t n) {
    dp_relist_t inc, exc;
    dp_err_t err =
        dp_relist_compile(r->s.table_include_list, &inc, "table.include.list", errstr, n);
    if (err) return err;
    if ((err = dp_relist_compile(r->s.table_exclude_list, &exc, "table.exclude.list", errstr, n))) {
        dp_relist_free(&inc);
        return err;
    }
    const char *params[1] = {r->s.publication_name};
    PGresult *res =
        PQexecParams(r->pg,
                     "SELECT c.oid, n.nspname, c.relname FROM pg_publication_tables pt "
                     "JOIN pg_namespace n ON n.nspname = pt.schemaname "
                     "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
                     "WHERE pt.pubname = $1 ORDER BY 2, 3",
                     1, NULL, params, NULL, NULL, 0);
    err = pgcat_check(r->pg, res, PGRES_TUPLES_OK, "the publication's tables", errstr, n);
    if (err) res = NULL; /* freed */
    for (int i = 0; !err && i < PQntuples(res); i++) {
        char full[1024];
        snprintf(full, sizeof full, "%s.%s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        if ((inc.n && !dp_relist_match(&inc, full)) || dp_relist_match(&exc, full)) continue;
        err = add_table(r, (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10),
                        PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), errstr, n);
    }
    PQclear(res);
    if (!err && !r->ntables)
        err = dp_seterr(errstr, n, DP_ERR_CONFIG,
                        "publication \"%s\" has no table the capture "
                        "captures",
                        r->s.publication_name);
    dp_relist_free(&inc);
    dp_relist_free(&exc);
    return err;
}

dp_err_t vfy_rows_open(vfy_rows_t **out, const char *capture_config, char *errstr, size_t n) {
    vfy_rows_t *r = dp_xcalloc(1, sizeof *r);
    *out = r;
    r->state = vfy_state_new();
    char e[512];
    dp_err_t err = cfg_load(&capture_config_table, &r->s, capture_config, e, sizeof e);
    if (!err) err = cfg_finish(&capture_config_table, &r->s, e, sizeof e);
    if (err) return dp_seterr(errstr, n, DP_ERR_CONFIG, "--against-postgres: %s", e);
    if ((err = refuse_unwrap(&r->s, errstr, n))) return err;
    r->opt.topic_prefix = r->s.topic_prefix;
    r->opt.dbname = r->s.dbname;
    r->opt.decimal_mode = (dbz_decimal_mode_t)r->s.decimal_handling_mode;
    r->opt.time_mode = (dbz_time_mode_t)r->s.time_precision_mode;
    r->opt.binary_mode = (dbz_binary_mode_t)r->s.binary_handling_mode;
    repl_conninfo_t ci;
    capture_conninfo(&r->s, &ci);
    ci.application_name = "datapipe-verify";
    r->pg = repl_connect(&ci, 0, errstr, n);
    if (!r->pg) return DP_ERR_NET;
    return list_tables(r, errstr, n);
}

void vfy_rows_close(vfy_rows_t *r) {
    if (!r) return;
    if (r->pg) PQfinish(r->pg);
    for (size_t i = 0; i < r->ntables; i++) dbz_table_fini(&r->tables[i].t);
    free(r->tables);
    vfy_state_free(r->state);
    for (size_t i = 0; i < r->nfindings; i++) free(r->findings[i].key);
    free(r->findings);
    for (size_t i = 0; i < MAX_UNREADABLE; i++)
        free(r->unreadable_key[i]), free(r->unreadable_why[i]);
    cfg_free(&capture_config_table, &r->s);
    free(r);
}

/* ---- the archive ---- */

enum { C_OP, C_SCHEMA, C_TABLE, C_LSN, C_BEFORE, C_AFTER, C_OFFSET, NCOLS };
static const char *const col_names[NCOLS] = {"operation_type", "schema_name", "table_name",  "lsn",
                                             "before_data",    "after_data",  "kafka_offset"};

static const char *str_at(const pqt_column_t *c, size_t i, size_t *len) {
    *len = c->null[i] ? 0 : c->len[i];
    return c->null[i] ? NULL : (const char *)c->bytes.data + c->off[i];
}

static int str_eq(const pqt_column_t *c, size_t i, const char *s) {
    size_t len;
    const char *p = str_at(c, i, &len);
    return p && len == strlen(s) && !memcmp(p, s, len);
}

/* fold_rows: every row of the decoded columns into the state */
static dp_err_t fold_rows(vfy_rows_t *r, const pqt_column_t *c, size_t nrows, char *errstr,
                          size_t n) {
    int table = -1;
    for (size_t i = 0; i < nrows; i++) {
        r->rows++;
        if (table < 0 ||
            !str_eq(&c[C_SCHEMA], i, vfy_state_counts(r->state, (uint32_t)table)->schema) ||
            !str_eq(&c[C_TABLE], i, vfy_state_counts(r->state, (uint32_t)table)->table)) {
            size_t sl, tl;
            const char *sp = str_at(&c[C_SCHEMA], i, &sl), *tp = str_at(&c[C_TABLE], i, &tl);
            char schema[256], name[256];
            snprintf(schema, sizeof schema, "%.*s", (int)sl, sp ? sp : "");
            snprintf(name, sizeof name, "%.*s", (int)tl, tp ? tp : "");
            table = vfy_state_table(r->state, schema, name);
        }
        if (table < 0) {
            r->other_rows++;
            continue;
        }
        size_t oplen, blen, alen;
        const char *op = str_at(&c[C_OP], i, &oplen);
        const char *before = str_at(&c[C_BEFORE], i, &blen), *after = str_at(&c[C_AFTER], i, &alen);
        int64_t lsn = c[C_LSN].null[i] ? -1 : c[C_LSN].i64[i];
        dp_err_t err = vfy_state_fold(r->state, (uint32_t)table, oplen == 1 ? op[0] : '?', lsn,
                                      c[C_OFFSET].i64[i], before, blen, after, alen, errstr, n);
        if (err) {
            char why[512];
            snprintf(why, sizeof why, "%s", errstr);
            return dp_seterr(errstr, n, err, "row %zu: %s", i, why);
        }
    }
    return DP_OK;
}

static void note_unreadable(vfy_rows_t *r, const char *key, const char *why) {
    if (r->unreadable < MAX_UNREADABLE) {
        r->unreadable_key[r->unreadable] = dp_xstrdup(key);
        r->unreadable_why[r->unreadable] = dp_xstrdup(why);
    }
    r->unreadable++;
}

dp_err_t vfy_rows_object(vfy_rows_t *r, const char *key, const uint8_t *data, size_t len,
                         char *errstr, size_t n) {
    r->objects++;
    pqt_file_t *f = NULL;
    pqt_column_t cols[NCOLS];
    memset(cols, 0, sizeof cols);
    char why[512] = "";
    dp_err_t err = pqt_file_open(&f, data, len, why, sizeof why);
    for (int k = 0; !err && k < NCOLS; k++) {
        int ci = pqt_file_col_index(f, col_names[k]);
        if (ci < 0)
            err = dp_seterr(why, sizeof why, DP_ERR_INVALID, "no column \"%s\"", col_names[k]);
        else
            err = pqt_column_read(f, (size_t)ci, &cols[k], why, sizeof why);
        if (!err && (k == C_LSN || k == C_OFFSET ? !cols[k].i64 : !cols[k].off))
            err = dp_seterr(why, sizeof why, DP_ERR_INVALID, "column \"%s\" has another type",
                            col_names[k]);
    }
    if (!err) err = fold_rows(r, cols, (size_t)pqt_file_rows(f), why, sizeof why);
    for (int k = 0; k < NCOLS; k++) pqt_column_fini(&cols[k]);
    pqt_file_close(f);
    if (err) {
        note_unreadable(r, key, why);
        return dp_seterr(errstr, n, DP_ERR_INVALID, "object \"%s\": %s", key, why);
    }
    return DP_OK;
}

/* ---- the live tables ---- */

static dp_err_t exec_ok(vfy_rows_t *r, const char *sql, char *errstr, size_t n) {
    PGresult *res = PQexec(r->pg, sql);
    dp_err_t err = pgcat_check(r->pg, res, PGRES_COMMAND_OK, sql, errstr, n);
    if (!err) PQclear(res);
    return err;
}

/* check_batch: each row of res, encoded as the capture would, against the state */
static dp_err_t check_batch(vfy_rows_t *r, live_table_t *lt, PGresult *res, pgo_value_t *vals,
                            dp_buf_t *out, dp_json_t *j, char *errstr, size_t n) {
    int ncols = PQnfields(res);
    if (ncols != lt->t.ncols)
        return dp_seterr(errstr, n, DP_ERR_PG, "table %s.%s: %d columns, the catalog says %u",
                         lt->t.schema, lt->t.table, ncols, (unsigned)lt->t.ncols);
    dbz_source_t src = {0};
    src.snapshot = "true";
    char jerr[160];
    for (int i = 0; i < PQntuples(res); i++) {
        for (int k = 0; k < ncols; k++) {
            int null = PQgetisnull(res, i, k);
            vals[k].kind = null ? PGO_VAL_NULL : PGO_VAL_TEXT;
            vals[k].data = null ? NULL : PQgetvalue(res, i, k);
            vals[k].len = null ? 0 : (uint32_t)PQgetlength(res, i, k);
        }
        pgo_tuple_t row = {(uint16_t)ncols, vals};
        dp_buf_reset(out);
        dbz_event_t ev = {&lt->t, 'r', NULL, &row, src, 0};
        dp_err_t err = dbz_encode_value(&ev, &r->opt, out);
        if (err || dp_json_parse(j, (const char *)out->data, out->len, 1u << 22, jerr, sizeof jerr))
            return dp_seterr(errstr, n, DP_ERR_INVALID, "a row of %s.%s could not be encoded",
                             lt->t.schema, lt->t.table);
        uint32_t after = dp_json_get(j, 0, "after");
        if (!after) return dp_seterr(errstr, n, DP_ERR_INVALID, "encoded row without \"after\"");
        err = vfy_state_check(r->state, (uint32_t)lt->state, dp_json_raw(j, after),
                              j->nodes[after].len, on_finding, r, errstr, n);
        if (err) return err;
    }
    return DP_OK;
}

static dp_err_t compare_table(vfy_rows_t *r, live_table_t *lt, char *errstr, size_t n) {
    char qs[512], qt[512], q[1200];
    repl_quote_ident(lt->t.schema, qs, sizeof qs);
    repl_quote_ident(lt->t.table, qt, sizeof qt);
    snprintf(q, sizeof q, "DECLARE dp_verify NO SCROLL CURSOR FOR SELECT * FROM ONLY %s.%s", qs,
             qt);
    dp_err_t err = exec_ok(r, q, errstr, n);
    if (err) return err;
    pgo_value_t *vals = dp_xcalloc(lt->t.ncols + 1u, sizeof *vals);
    dp_buf_t out;
    dp_buf_init(&out, (size_t)1 << 30);
    dp_json_t j;
    memset(&j, 0, sizeof j);
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM dp_verify", FETCH_ROWS);
    for (;;) {
        PGresult *res = PQexec(r->pg, fetch);
        if ((err = pgcat_check(r->pg, res, PGRES_TUPLES_OK, "fetch", errstr, n))) break;
        int rows = PQntuples(res);
        if (rows) err = check_batch(r, lt, res, vals, &out, &j, errstr, n);
        PQclear(res);
        if (err || !rows) break;
    }
    free(vals);
    dp_buf_fini(&out);
    dp_json_fini(&j);
    if (!err) err = exec_ok(r, "CLOSE dp_verify", errstr, n);
    if (!err) vfy_state_finish_table(r->state, (uint32_t)lt->state, on_finding, r);
    return err;
}

dp_err_t vfy_rows_compare(vfy_rows_t *r, char *errstr, size_t n) {
    dp_err_t err = exec_ok(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr, n);
    if (err) return err;
    PGresult *res = PQexec(r->pg, "SELECT pg_current_wal_lsn()::text");
    if ((err = pgcat_check(r->pg, res, PGRES_TUPLES_OK, "pg_current_wal_lsn()", errstr, n)))
        return err;
    snprintf(r->at_lsn, sizeof r->at_lsn, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (size_t i = 0; !err && i < r->ntables; i++)
        if (r->tables[i].state >= 0) err = compare_table(r, &r->tables[i], errstr, n);
    if (!err) err = exec_ok(r, "COMMIT", errstr, n);
    r->compared = !err;
    return err;
}

int vfy_rows_complete(const vfy_rows_t *r) {
    if (!r->compared || r->unreadable) return 0;
    for (size_t i = 0; i < vfy_state_ntables(r->state); i++) {
        const vfy_table_rows_t *t = vfy_state_counts(r->state, (uint32_t)i);
        if (t->missing || t->extra || t->differs) return 0;
    }
    return 1;
}

/* ---- the report ---- */

static const char *kind_word(vfy_row_kind_t k) {
    return k == VFY_ROW_MISSING ? "missing" : k == VFY_ROW_EXTRA ? "extra" : "differs";
}

void vfy_rows_report_text(const vfy_rows_t *r, FILE *out) {
    fprintf(out, "\nrows: the archive's latest state per key against PostgreSQL (at %s)\n",
            r->at_lsn);
    fprintf(out, "  %llu objects, %llu rows read\n", (unsigned long long)r->objects,
            (unsigned long long)r->rows);
    for (size_t i = 0; i < r->ntables; i++) {
        const live_table_t *lt = &r->tables[i];
        char full[600];
        snprintf(full, sizeof full, "%s.%s", lt->t.schema, lt->t.table);
        if (lt->state < 0) {
            fprintf(out, "  --   %-28s not compared: no primary key\n", full);
            continue;
        }
        const vfy_table_rows_t *t = vfy_state_counts(r->state, (uint32_t)lt->state);
        int ok = !t->missing && !t->extra && !t->differs;
        fprintf(out, "  %s %-28s %llu live rows, %llu archived, from %llu changes",
                ok ? "ok  " : "FAIL", full, (unsigned long long)t->live,
                (unsigned long long)t->keys, (unsigned long long)t->changes);
        if (!ok)
            fprintf(out, ": %llu missing, %llu extra, %llu differ", (unsigned long long)t->missing,
                    (unsigned long long)t->extra, (unsigned long long)t->differs);
        fputc('\n', out);
    }
    for (size_t i = 0; i < r->nfindings && i < TEXT_LISTED; i++) {
        const vfy_table_rows_t *t = vfy_state_counts(r->state, r->findings[i].table);
        fprintf(out, "    %-7s %s.%s %s\n", kind_word(r->findings[i].kind), t->schema, t->table,
                r->findings[i].key);
    }
    if (r->nfindings > TEXT_LISTED) fprintf(out, "    ... (--json lists up to %d)\n", MAX_LISTED);
    if (r->other_rows)
        fprintf(out,
                "  --   %llu archived rows of tables the capture does not capture (not compared)\n",
                (unsigned long long)r->other_rows);
    for (size_t i = 0; i < r->unreadable && i < MAX_UNREADABLE; i++)
        fprintf(out, "  FAIL unreadable object %s: %s\n", r->unreadable_key[i],
                r->unreadable_why[i]);
    fprintf(out, "  rows: %s\n",
            vfy_rows_complete(r) ? "the archive reproduces every table"
                                 : "the archive does NOT reproduce the tables");
}

static void put_str(dp_buf_t *b, const char *s) { dp_json_put_str(b, s, strlen(s)); }

void vfy_rows_report_json(const vfy_rows_t *r, dp_buf_t *b) {
    dp_buf_printf(b, "{\"complete\":%s,\"at_lsn\":", vfy_rows_complete(r) ? "true" : "false");
    put_str(b, r->at_lsn);
    dp_buf_printf(b, ",\"objects\":%llu,\"rows\":%llu,\"other_rows\":%llu,\"tables\":[",
                  (unsigned long long)r->objects, (unsigned long long)r->rows,
                  (unsigned long long)r->other_rows);
    for (size_t i = 0; i < r->ntables; i++) {
        const live_table_t *lt = &r->tables[i];
        char full[600];
        snprintf(full, sizeof full, "%s.%s", lt->t.schema, lt->t.table);
        dp_buf_puts(b, i ? ",{\"table\":" : "{\"table\":");
        put_str(b, full);
        if (lt->state < 0) {
            dp_buf_puts(b, ",\"compared\":false,\"reason\":\"no primary key\"}");
            continue;
        }
        const vfy_table_rows_t *t = vfy_state_counts(r->state, (uint32_t)lt->state);
        dp_buf_printf(b,
                      ",\"compared\":true,\"live\":%llu,\"archived\":%llu,\"changes\":%llu,"
                      "\"missing\":%llu,\"extra\":%llu,\"differs\":%llu}",
                      (unsigned long long)t->live, (unsigned long long)t->keys,
                      (unsigned long long)t->changes, (unsigned long long)t->missing,
                      (unsigned long long)t->extra, (unsigned long long)t->differs);
    }
    dp_buf_puts(b, "],\"findings\":[");
    for (size_t i = 0; i < r->nfindings; i++) {
        const vfy_table_rows_t *t = vfy_state_counts(r->state, r->findings[i].table);
        char full[600];
        snprintf(full, sizeof full, "%s.%s", t->schema, t->table);
        dp_buf_puts(b, i ? ",{\"table\":" : "{\"table\":");
        put_str(b, full);
        dp_buf_printf(b, ",\"kind\":\"%s\",\"key\":", kind_word(r->findings[i].kind));
        put_str(b, r->findings[i].key);
        dp_buf_puts(b, "}");
    }
    dp_buf_printf(b, "],\"unreadable_objects\":%llu,\"unreadable\":[",
                  (unsigned long long)r->unreadable);
    for (size_t i = 0; i < r->unreadable && i < MAX_UNREADABLE; i++) {
        dp_buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
        put_str(b, r->unreadable_key[i]);
        dp_buf_puts(b, ",\"reason\":");
        put_str(b, r->unreadable_why[i]);
        dp_buf_puts(b, "}");
    }
    dp_buf_puts(b, "]}");
}
