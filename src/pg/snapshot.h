/* snapshot.h - reading every table of a publication inside a snapshot
 * exported by a replication slot, row by row, into a sink.
 *
 * The reader knows PostgreSQL and nothing of what the rows become: it
 * imports the snapshot, describes each table (pgo_relation_t, the
 * description a Relation message carries, here read from the catalog
 * inside the snapshot: no message is made up), asks the sink
 * whether and in which order to read it, and hands every row over with
 * Debezium's source.snapshot marker. Memory is one cursor batch
 * (fetch_size rows) whatever the table's size. */
#ifndef DP_PG_SNAPSHOT_H
#define DP_PG_SNAPSHOT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "common/err.h"
#include "pg/pgoutput.h"

typedef struct pgsnap_sink {
    void *ctx;
    /* table: a table of the publication; *rank its place in the read
     * order (lower first, ties in schema.table order), or -1: not read */
    dp_err_t (*table)(void *ctx, const pgo_relation_t *table, long *rank, char *errstr,
                      size_t errstr_size);
    /* begin: the tables are known, the first row comes next */
    dp_err_t (*begin)(void *ctx, size_t ntables, char *errstr, size_t errstr_size);
    /* row: one row of table relid, its columns as text; marker is
     * Debezium's source.snapshot: "first" for the very first row,
     * "first_in_data_collection" for the first of each later table,
     * "last_in_data_collection" for the last of each table but the last,
     * "last" for the very last row, "true" otherwise */
    dp_err_t (*row)(void *ctx, uint32_t relid, const pgo_tuple_t *row, const char *marker,
                    char *errstr, size_t errstr_size);
    /* end: after the last row, or after a failure (ok = 0); called once
     * whenever begin succeeded */
    void (*end)(void *ctx, int ok);
} pgsnap_sink_t;

/* pgsnap_read: on snap (a plain connection, no transaction open) read the
 * tables of publication inside the exported snapshot snapshot_name, in
 * batches of fetch_size rows, into sink. DP_ERR_PG / DP_ERR_NET name the
 * step that failed; a sink's error comes back as it is. */
dp_err_t pgsnap_read(PGconn *snap, const char *snapshot_name, const char *publication,
                     long long fetch_size, const pgsnap_sink_t *sink, char *errstr,
                     size_t errstr_size);

#endif
