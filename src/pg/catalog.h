/* catalog.h - what pgoutput does not say about a table, read from
 * pg_catalog: NOT NULL, the primary key, domains' base types, enum labels
 * and column defaults (catalog facts), and a table's columns as a Relation
 * message would carry them (for readers of a table outside the stream: the
 * snapshot and `datapipe verify --against-postgres`). */
#ifndef DP_PG_CATALOG_H
#define DP_PG_CATALOG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "common/err.h"
#include "event/debezium.h"
#include "pg/pgoutput.h"

/* the catalog facts of one table; cols point into res */
typedef struct pgcat_facts {
    PGresult *res;
    dbz_catalog_col_t *cols;
    int n;
} pgcat_facts_t;

/* pgcat_facts: the facts of relation relid. DP_ERR_PG (or DP_ERR_NET when
 * the connection broke) names the relation on failure. */
dp_err_t pgcat_facts(PGconn *c, uint32_t relid, pgcat_facts_t *out, char *errstr,
                     size_t errstr_size);
void pgcat_facts_fini(pgcat_facts_t *f);

/* a table described from the catalog as a Relation message would describe
 * it; rel points into the rest */
typedef struct pgcat_relation {
    pgo_relation_t rel;
    pgo_column_t *cols;
    PGresult *res;
    char *schema, *name;
} pgcat_relation_t;

/* pgcat_relation: relation relid (schema.name) described as pgoutput does
 * it: its columns in attribute order, the primary key as the key flag. */
dp_err_t pgcat_relation(PGconn *c, uint32_t relid, const char *schema, const char *name,
                        pgcat_relation_t *out, char *errstr, size_t errstr_size);
void pgcat_relation_fini(pgcat_relation_t *r);

/* pgcat_check: whether r holds want; else the error, naming what and the
 * server's message (DP_ERR_NET when the connection is gone), and r freed. */
dp_err_t pgcat_check(PGconn *c, PGresult *r, ExecStatusType want, const char *what, char *errstr,
                     size_t errstr_size);

#endif
