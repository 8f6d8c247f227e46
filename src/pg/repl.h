/* repl.h - PostgreSQL logical replication plumbing: connections, slot and
 * publication management, the streaming protocol's framing and feedback. */
#ifndef DP_PG_REPL_H
#define DP_PG_REPL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "common/err.h"

/* PostgreSQL epoch (2000-01-01) minus Unix epoch, in µs */
#define REPL_PG_EPOCH_US 946684800000000LL

typedef struct repl_conninfo {
    const char *host, *user, *password, *dbname;
    long long port;
    const char *application_name;
    /* TLS, as libpq names it (NULL or empty: libpq's default) */
    const char *sslmode, *sslrootcert, *sslcert, *sslkey, *sslpassword;
} repl_conninfo_t;

/* repl_error: the failure of a query (r, freed; NULL: the connection's
 * error) as "what: message": DP_ERR_PG, or DP_ERR_NET when the connection
 * is gone */
dp_err_t repl_error(PGconn *c, PGresult *r, const char *what, char *errstr, size_t errstr_size);

/* repl_connect: a regular (replication=0) or replication=database
 * connection, with TimeZone UTC so timestamptz text is in UTC. */
PGconn *repl_connect(const repl_conninfo_t *ci, int replication, char *errstr, size_t errstr_size);

/* repl_check_server: wal_level must be logical and the user must have
 * REPLICATION (or be superuser). */
dp_err_t repl_check_server(PGconn *sql, const char *user, char *errstr, size_t errstr_size);

/* publication.autocreate.mode */
typedef enum {
    REPL_PUB_ALL_TABLES, /* FOR ALL TABLES */
    REPL_PUB_DISABLED, /* must exist */
    REPL_PUB_FILTERED, /* FOR TABLE tables, a comma-separated list of schema.table */
    REPL_PUB_NO_TABLES /* no tables */
} repl_pub_mode_t;

/* repl_ensure_publication: create pubname if missing, as mode says */
dp_err_t repl_ensure_publication(PGconn *sql, const char *pubname, repl_pub_mode_t mode,
                                 const char *tables, char *errstr, size_t errstr_size);

/* repl_publication_tables: every table (as "schema.table", a new list of
 * new strings in *out) that pubname publishes, or, while it does not
 * exist, would publish once repl_ensure_publication creates it as mode
 * says (tables: table.include.list). */
dp_err_t repl_publication_tables(PGconn *sql, const char *pubname, repl_pub_mode_t mode,
                                 const char *tables, char ***out, size_t *nout, char *errstr,
                                 size_t errstr_size);

/* repl_slot_info: what we need to know of an existing slot */
typedef struct repl_slot_info {
    int created; /* made by this call */
    int wal_lost; /* exists, but its WAL is gone (wal_status lost) */
    uint64_t consistent_lsn; /* when created: the slot's consistent point */
    char snapshot[64]; /* when created with export: the snapshot name */
} repl_slot_info_t;

/* repl_ensure_slot: create the pgoutput slot if missing (exporting a
 * snapshot when export is set; the snapshot stays valid until the next
 * command on repl); fail if another process holds it. */
dp_err_t repl_ensure_slot(PGconn *sql, PGconn *repl, const char *slot, int export,
                          repl_slot_info_t *info, char *errstr, size_t errstr_size);

/* repl_slot_exists: *exists says whether the slot is there. */
dp_err_t repl_slot_exists(PGconn *sql, const char *slot, int *exists, char *errstr,
                          size_t errstr_size);

/* repl_parse_lsn: "X/X" -> LSN; 0 on malformed text. */
uint64_t repl_parse_lsn(const char *s);

/* repl_start: START_REPLICATION from the slot's confirmed position. */
dp_err_t repl_start(PGconn *repl, const char *slot, const char *pubname, char *errstr,
                    size_t errstr_size);

/* repl_send_feedback: Standby Status Update with write/flush/apply. */
dp_err_t repl_send_feedback(PGconn *repl, uint64_t written, uint64_t flushed, int64_t now_us,
                            char *errstr, size_t errstr_size);

/* repl_drop_slot: drop slot (slot.drop.on.stop). */
dp_err_t repl_drop_slot(PGconn *sql, const char *slot, char *errstr, size_t errstr_size);

/* repl_quote_ident: "name" with embedded quotes doubled, into out. */
void repl_quote_ident(const char *name, char *out, size_t outsize);

#endif
