/* repl.c - replication connection set-up and protocol framing. */
#include "pg/repl.h"

#include "pg/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "pg/pgoutput.h"

void repl_quote_ident(const char *name, char *out, size_t outsize) {
    size_t o = 0;
    if (outsize < 3) {
        if (outsize) out[0] = 0;
        return;
    }
    out[o++] = '"';
    for (const char *p = name; *p && o + 3 < outsize; p++) {
        if (*p == '"') out[o++] = '"';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = 0;
}

PGconn *repl_connect(const repl_conninfo_t *ci, int replication, char *errstr, size_t errstr_size) {
    char port[24];
    snprintf(port, sizeof port, "%lld", ci->port);
    const char *keys[24], *vals[24];
    int n = 0;
#define KV(k, v) (keys[n] = (k), vals[n] = (v), n++)
#define KV_SET(k, v) ((v) && *(v) ? KV(k, v) : 0)
    KV("host", ci->host);
    KV("port", port);
    KV("user", ci->user);
    KV("password", ci->password);
    KV("dbname", ci->dbname);
    KV("application_name", ci->application_name);
    KV("options", "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3");
    KV("connect_timeout", "10");
    /* a peer that vanished (network cut, host gone) is noticed within
     * about half a minute, not after TCP's retransmissions give up */
    KV("keepalives_idle", "10");
    KV("keepalives_interval", "5");
    KV("keepalives_count", "3");
    KV("tcp_user_timeout", "30000");
    if (replication) KV("replication", "database");
    KV_SET("sslmode", ci->sslmode);
    KV_SET("sslrootcert", ci->sslrootcert);
    KV_SET("sslcert", ci->sslcert);
    KV_SET("sslkey", ci->sslkey);
    KV_SET("sslpassword", ci->sslpassword);
#undef KV_SET
#undef KV
    keys[n] = vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = 0;
        /* TLS refused or unverifiable: name the key that asked for it */
        char tls[96] = "";
        if (ci->sslmode && *ci->sslmode &&
            (strcasestr(msg, "ssl") || strcasestr(msg, "encryption") ||
             strcasestr(msg, "certificate")))
            snprintf(tls, sizeof tls, " (database.sslmode is \"%.40s\")", ci->sslmode);
        dp_seterr(errstr, errstr_size, DP_ERR_NET,
                  "cannot connect to postgresql %s:%s as \"%s\": %s%s", ci->host, port, ci->user,
                  msg, tls);
        PQfinish(c);
        return NULL;
    }
    return c;
}

dp_err_t repl_error(PGconn *c, PGresult *r, const char *what, char *errstr, size_t n) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    msg[strcspn(msg, "\n")] = 0;
    if (r) PQclear(r);
    return dp_seterr(errstr, n, PQstatus(c) == CONNECTION_OK ? DP_ERR_PG : DP_ERR_NET, "%s: %s",
                     what, msg);
}

dp_err_t repl_check_server(PGconn *sql, const char *user, char *errstr, size_t errstr_size) {
    PGresult *r = PQexec(sql, "SHOW wal_level");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "show wal_level", errstr, errstr_size);
    if (strcmp(PQgetvalue(r, 0, 0), "logical") != 0) {
        dp_err_t e = dp_seterr(errstr, errstr_size, DP_ERR_PG,
                               "wal_level is \"%s\" on the server; logical decoding needs "
                               "wal_level=logical (restart required)",
                               PQgetvalue(r, 0, 0));
        PQclear(r);
        return e;
    }
    PQclear(r);
    const char *params[1] = {user};
    r = PQexecParams(sql, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = $1", 1,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "check role", errstr, errstr_size);
    int ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ok)
        return dp_seterr(errstr, errstr_size, DP_ERR_PG,
                         "user \"%s\" lacks the REPLICATION attribute (ALTER ROLE %s REPLICATION)",
                         user, user);
    return DP_OK;
}

/* publication_lookup: *exists = whether pubname exists; a missing one with
 * publication.autocreate.mode=disabled is an error */
static dp_err_t publication_lookup(PGconn *sql, const char *pubname, repl_pub_mode_t mode,
                                   int *exists, char *errstr, size_t errstr_size) {
    const char *params[1] = {pubname};
    PGresult *r = PQexecParams(sql, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, NULL,
                               params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "look up publication", errstr, errstr_size);
    *exists = PQntuples(r) == 1;
    PQclear(r);
    if (!*exists && mode == REPL_PUB_DISABLED)
        return dp_seterr(errstr, errstr_size, DP_ERR_PG,
                         "publication \"%s\" does not exist and publication.autocreate.mode is "
                         "disabled",
                         pubname);
    return DP_OK;
}

dp_err_t repl_ensure_publication(PGconn *sql, const char *pubname, repl_pub_mode_t mode,
                                 const char *tables, char *errstr, size_t errstr_size) {
    int exists;
    dp_err_t err = publication_lookup(sql, pubname, mode, &exists, errstr, errstr_size);
    if (err || exists) return err;
    char q[8192], qname[512];
    repl_quote_ident(pubname, qname, sizeof qname);
    if (mode == REPL_PUB_ALL_TABLES) {
        snprintf(q, sizeof q, "CREATE PUBLICATION %s FOR ALL TABLES", qname);
    } else if (mode == REPL_PUB_NO_TABLES) {
        snprintf(q, sizeof q, "CREATE PUBLICATION %s", qname);
    } else {
        if (!tables || !*tables)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "publication.autocreate.mode filtered needs table.include.list");
        snprintf(q, sizeof q, "CREATE PUBLICATION %s FOR TABLE %s", qname, tables);
    }
    dp_info("pg", "creating publication: %s", q);
    PGresult *r = PQexec(sql, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return repl_error(sql, r, "create publication", errstr, errstr_size);
    PQclear(r);
    return DP_OK;
}

/* add_rows: column 0 of every row of r to the list */
static void add_rows(PGresult *r, char ***out, size_t *nout) {
    int rows = PQntuples(r);
    *out = dp_xrealloc(*out, sizeof(char *) * (*nout + (size_t)rows + 1));
    for (int i = 0; i < rows; i++) (*out)[(*nout)++] = dp_xstrdup(PQgetvalue(r, i, 0));
}

/* filtered_tables: each table of table.include.list (the list a filtered
 * publication is created FOR) as schema.table, found as SQL names it */
static dp_err_t filtered_tables(PGconn *sql, const char *tables, char ***out, size_t *nout,
                                char *errstr, size_t n) {
    if (!tables || !*tables)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "publication.autocreate.mode filtered needs table.include.list");
    char *copy = dp_xstrdup(tables), *save = NULL;
    dp_err_t err = DP_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l && tok[l - 1] == ' ') tok[--l] = 0;
        if (!l) continue;
        const char *params[1] = {tok};
        PGresult *r = PQexecParams(sql,
                                   "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE c.oid = to_regclass($1)",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            err = repl_error(sql, r, "look up a table of table.include.list", errstr, n);
            break;
        }
        if (PQntuples(r) != 1)
            err = dp_seterr(errstr, n, DP_ERR_PG,
                            "table \"%s\" of table.include.list does not exist (a filtered "
                            "publication is created for it)",
                            tok);
        else
            add_rows(r, out, nout);
        PQclear(r);
    }
    free(copy);
    return err;
}

dp_err_t repl_publication_tables(PGconn *sql, const char *pubname, repl_pub_mode_t mode,
                                 const char *tables, char ***out, size_t *nout, char *errstr,
                                 size_t n) {
    *out = NULL;
    *nout = 0;
    int exists;
    dp_err_t err = publication_lookup(sql, pubname, mode, &exists, errstr, n);
    if (err) return err;
    if (!exists && mode == REPL_PUB_NO_TABLES) return DP_OK;
    if (!exists && mode == REPL_PUB_FILTERED)
        return filtered_tables(sql, tables, out, nout, errstr, n);
    /* the publication's tables; FOR ALL TABLES publishes every permanent
     * table outside the system schemas */
    const char *params[1] = {pubname};
    PGresult *r;
    if (exists)
        r = PQexecParams(sql,
                         "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                         "WHERE pubname = $1 ORDER BY 1",
                         1, NULL, params, NULL, NULL, 0);
    else
        r = PQexec(sql,
                   "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
                   "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                   "AND n.nspname !~ '^pg_(toast|temp)' ORDER BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "list the publication's tables", errstr, n);
    add_rows(r, out, nout);
    PQclear(r);
    return DP_OK;
}

uint64_t repl_parse_lsn(const char *s) {
    unsigned hi, lo;
    char tail;
    if (!s || sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2) return 0;
    return (uint64_t)hi << 32 | lo;
}

dp_err_t repl_ensure_slot(PGconn *sql, PGconn *repl, const char *slot, int export,
                          repl_slot_info_t *info, char *errstr, size_t errstr_size) {
    const char *params[1] = {slot};
    memset(info, 0, sizeof *info);
    PGresult *r =
        PQexecParams(sql,
                     "SELECT plugin, active_pid, confirmed_flush_lsn, wal_status = 'lost' "
                     "FROM pg_replication_slots WHERE slot_name = $1 AND database = "
                     "current_database()",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "look up slot", errstr, errstr_size);
    if (PQntuples(r) == 1) {
        dp_err_t e = DP_OK;
        if (strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0)
            e = dp_seterr(errstr, errstr_size, DP_ERR_PG,
                          "replication slot \"%s\" uses plugin \"%s\", not pgoutput", slot,
                          PQgetvalue(r, 0, 0));
        else if (!PQgetisnull(r, 0, 1))
            e = dp_seterr(errstr, errstr_size, DP_ERR_PG,
                          "replication slot \"%s\" is active for pid %s", slot,
                          PQgetvalue(r, 0, 1));
        else
            dp_info("pg", "resuming replication slot \"%s\" at %s", slot, PQgetvalue(r, 0, 2));
        info->wal_lost = PQgetvalue(r, 0, 3)[0] == 't';
        PQclear(r);
        return e;
    }
    PQclear(r);
    char q[600], qslot[512];
    repl_quote_ident(slot, qslot, sizeof qslot);
    snprintf(q, sizeof q, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", qslot,
             export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    r = PQexec(repl, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(repl, r, "create replication slot", errstr, errstr_size);
    info->created = 1;
    info->consistent_lsn = repl_parse_lsn(PQgetvalue(r, 0, 1));
    if (export && !PQgetisnull(r, 0, 2))
        snprintf(info->snapshot, sizeof info->snapshot, "%s", PQgetvalue(r, 0, 2));
    dp_info("pg", "created replication slot \"%s\" at %s%s%s", slot, PQgetvalue(r, 0, 1),
            export ? ", snapshot " : "", export ? info->snapshot : "");
    PQclear(r);
    return DP_OK;
}

dp_err_t repl_start(PGconn *repl, const char *slot, const char *pubname, char *errstr,
                    size_t errstr_size) {
    char q[1400], qslot[512], qpub[512], lit[600];
    repl_quote_ident(slot, qslot, sizeof qslot);
    repl_quote_ident(pubname, qpub, sizeof qpub);
    /* publication_names is a string literal holding a quoted identifier list */
    size_t o = 0;
    lit[o++] = '\'';
    for (const char *p = qpub; *p && o + 3 < sizeof lit; p++) {
        if (*p == '\'') lit[o++] = '\'';
        lit[o++] = *p;
    }
    lit[o++] = '\'';
    lit[o] = 0;
    snprintf(q, sizeof q,
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names %s)",
             qslot, lit);
    PGresult *r = PQexec(repl, q);
    if (PQresultStatus(r) != PGRES_COPY_BOTH)
        return repl_error(repl, r, "start replication", errstr, errstr_size);
    PQclear(r);
    return DP_OK;
}

dp_err_t repl_send_feedback(PGconn *repl, uint64_t written, uint64_t flushed, int64_t now_us,
                            char *errstr, size_t errstr_size) {
    uint8_t msg[PGF_STATUS_LEN];
    pgf_status_update(msg, written, flushed, now_us);
    if (PQputCopyData(repl, (const char *)msg, sizeof msg) <= 0 || PQflush(repl))
        return repl_error(repl, NULL, "send feedback", errstr, errstr_size);
    return DP_OK;
}

dp_err_t repl_drop_slot(PGconn *sql, const char *slot, char *errstr, size_t errstr_size) {
    const char *params[1] = {slot};
    PGresult *r =
        PQexecParams(sql, "SELECT pg_drop_replication_slot($1)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return repl_error(sql, r, "drop slot", errstr, errstr_size);
    PQclear(r);
    return DP_OK;
}

/* query_any: whether q (one parameter) returns a row */
static dp_err_t query_any(PGconn *sql, const char *q, const char *param, const char *what, int *any,
                          char *errstr, size_t n) {
    const char *params[1] = {param};
    PGresult *r = PQexecParams(sql, q, 1, NULL, params, NULL, NULL, 0);
    *any = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return repl_error(sql, r, what, errstr, n);
    *any = PQntuples(r) > 0;
    PQclear(r);
    return DP_OK;
}

dp_err_t repl_slot_exists(PGconn *sql, const char *slot, int *exists, char *errstr, size_t n) {
    return query_any(sql, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", slot,
                     "look up slot", exists, errstr, n);
}
