/* catalog.c - catalog facts and Relation messages from pg_catalog; see
 * catalog.h. */
#include "pg/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "pg/repl.h"

dp_err_t pgcat_check(PGconn *c, PGresult *r, ExecStatusType want, const char *what, char *errstr,
                     size_t n) {
    if (PQresultStatus(r) == want) return DP_OK;
    return repl_error(c, r, what, errstr, n);
}

/* query_relation: sql with relation relid as $1; *res on success, the
 * error naming what (and the relation) otherwise */
static dp_err_t query_relation(PGconn *c, uint32_t relid, const char *sql, const char *what,
                               PGresult **res, char *errstr, size_t n) {
    char oid[16], label[96];
    snprintf(oid, sizeof oid, "%u", relid);
    snprintf(label, sizeof label, "%s of relation %s", what, oid);
    const char *params[1] = {oid};
    *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    dp_err_t err = pgcat_check(c, *res, PGRES_TUPLES_OK, label, errstr, n);
    if (err) *res = NULL;
    return err;
}

dp_err_t pgcat_facts(PGconn *c, uint32_t relid, pgcat_facts_t *out, char *errstr, size_t n) {
    memset(out, 0, sizeof *out);
    PGresult *r;
    dp_err_t err = query_relation(
        c, relid,
        "SELECT a.attname, a.attnotnull, COALESCE(a.attnum = ANY(i.indkey), false), "
        /* and what Debezium's schemas need: domains' base types, enum
         * labels, column defaults */
        "t.typname, CASE WHEN t.typtype = 'd' THEN t.typbasetype END, t.typtypmod, "
        "(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e "
        " WHERE e.enumtypid = t.oid OR (t.typcategory = 'A' AND e.enumtypid = t.typelem)), "
        "CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, t.typelem "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
        "catalog lookup", &r, errstr, n);
    if (err) return err;
    int nc = PQntuples(r);
    dbz_catalog_col_t *cat = dp_xcalloc((size_t)nc + 1, sizeof *cat);
    for (int i = 0; i < nc; i++) {
        cat[i].name = PQgetvalue(r, i, 0);
        cat[i].not_null = PQgetvalue(r, i, 1)[0] == 't';
        cat[i].in_pk = PQgetvalue(r, i, 2)[0] == 't';
        cat[i].type_name = PQgetvalue(r, i, 3);
        if (!PQgetisnull(r, i, 4)) {
            cat[i].base_oid = (uint32_t)strtoul(PQgetvalue(r, i, 4), NULL, 10);
            cat[i].base_typmod = (int32_t)strtol(PQgetvalue(r, i, 5), NULL, 10);
        }
        cat[i].enum_labels = PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6);
        cat[i].default_expr = PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7);
        cat[i].elem_oid = (uint32_t)strtoul(PQgetvalue(r, i, 8), NULL, 10);
    }
    out->res = r;
    out->cols = cat;
    out->n = nc;
    return DP_OK;
}

void pgcat_facts_fini(pgcat_facts_t *f) {
    free(f->cols);
    PQclear(f->res);
    memset(f, 0, sizeof *f);
}

dp_err_t pgcat_relation(PGconn *c, uint32_t relid, const char *schema, const char *name,
                        pgcat_relation_t *out, char *errstr, size_t n) {
    memset(out, 0, sizeof *out);
    PGresult *r;
    dp_err_t err = query_relation(
        c, relid,
        "SELECT a.attname, a.atttypid, a.atttypmod, "
        "COALESCE(a.attnum = ANY(i.indkey), false), c.relreplident "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        "columns", &r, errstr, n);
    if (err) return err;
    int ncols = PQntuples(r);
    if (ncols > PGO_MAX_COLUMNS) ncols = PGO_MAX_COLUMNS;
    out->res = r;
    out->schema = dp_xstrdup(schema);
    out->name = dp_xstrdup(name);
    out->cols = dp_xcalloc((size_t)ncols + 1, sizeof *out->cols);
    for (int i = 0; i < ncols; i++) {
        pgo_column_t *col = &out->cols[i];
        col->flags = PQgetvalue(r, i, 3)[0] == 't';
        col->name.p = PQgetvalue(r, i, 0);
        col->name.len = (uint32_t)PQgetlength(r, i, 0);
        col->type_oid = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
        col->typmod = (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
    }
    pgo_relation_t *m = &out->rel;
    m->relid = relid;
    m->nspname.p = out->schema;
    m->nspname.len = (uint32_t)strlen(out->schema);
    m->relname.p = out->name;
    m->relname.len = (uint32_t)strlen(out->name);
    m->replident = ncols ? PQgetvalue(r, 0, 4)[0] : 'd';
    m->ncols = (uint16_t)ncols;
    m->cols = out->cols;
    return DP_OK;
}

void pgcat_relation_fini(pgcat_relation_t *r) {
    free(r->cols);
    free(r->schema);
    free(r->name);
    PQclear(r->res);
    memset(r, 0, sizeof *r);
}
