/* load.c - rate-controlled workload generator.
 *
 * Connection parameters come from libpq's environment (PGHOST, PGPORT,
 * PGUSER, PGPASSWORD, PGDATABASE) or --dsn. Each transaction is one round
 * trip of several single-row statements; each statement must affect
 * exactly one row or the run fails, so the ledger (changes by table and
 * operation) is exact. The ledger is rewritten atomically to --report
 * every second and at the end.
 *
 * The server may go away (a restart, a network cut): load connects again
 * (bounded) and goes on. A transaction whose COMMIT got no answer is in
 * doubt, and the data says whether it committed: its first statement's
 * row exists (a create), is gone (a delete), or carries the transaction's
 * xid as its xmin (an update). The xid is read in a round trip of its own
 * before the statements are sent, and no other statement of the
 * transaction touches that row. txid_status() cannot decide it: an xid
 * the server handed out but never wrote to the WAL is handed out again
 * after a crash. So the ledger counts committed changes only. With
 * --synchronous-commit off (the default, for speed) a crash of the server
 * may also lose commits it had acknowledged: fault tests that crash
 * PostgreSQL use --synchronous-commit on. */
#include "load/load.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

#define MOD "load"
#define MAX_IDS 2000000

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

enum { T_USERS, T_PRODUCTS };
enum { OP_C, OP_U, OP_D };

static const char *const table_names[] = {"users", "products"};
static const char *const key_names[] = {"user_id", "product_id"};

typedef struct id_set {
    char (*ids)[37];
    size_t n, cap;
} id_set_t;

typedef struct load {
    PGconn *conn;
    uint64_t rng;
    id_set_t ids[2];
    uint64_t counts[2][3];
    dp_buf_t sql;
    struct {
        int t, op;
        char id[37];
    } ops[64]; /* each statement of the batch, to count or undo it */
    int nops;
    const char *dsn;
    const char *sync_commit;
    uint64_t reconnects, in_doubt;
} load_t;

static uint64_t rnd(load_t *l) {
    /* xorshift64* */
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return l->rng * 2685821657736338717ULL;
}

static void new_uuid(load_t *l, char out[37]) {
    uint8_t b[16];
    uint64_t a = rnd(l), c = rnd(l);
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* SQL literals: quotes are doubled */
static const char *const first_names[] = {"Ada",   "Grace",    "Linus", "Émilie", "Zoë",
                                          "Søren", "O''Brien", "Nuño",  "李",     "Amélie"};
static const char *const last_names[] = {"Lovelace", "Hopper",      "Torvalds", "du Châtelet",
                                         "Ng",       "Kierkegaard", "Müller",   "Peña",
                                         "王",       "Poulain"};
static const char *const tiers[] = {"bronze", "silver", "gold", "platinum"};
static const char *const categories[] = {"books", "games", "garden", "tools", "toys", "music"};

/* in_batch: does a statement of the batch being built touch row id of t? */
static int in_batch(const load_t *l, int t, const char *id) {
    for (int i = 0; i < l->nops; i++)
        if (l->ops[i].t == t && memcmp(l->ops[i].id, id, 37) == 0) return 1;
    return 0;
}

/* add_stmt: append one statement of the workload to the batch, on a row
 * no other statement of the batch touches */
static void add_stmt(load_t *l) {
    int t = (int)(rnd(l) % 2);
    id_set_t *ids = &l->ids[t];
    int op;
    uint64_t r = rnd(l) % 100;
    if (ids->n < 20 || r < 50)
        op = OP_C;
    else if (r < 85)
        op = OP_U;
    else
        op = OP_D;
    if (op == OP_C && ids->n >= MAX_IDS) op = OP_U;
    char id[37];
    size_t k = 0;
    if (op != OP_C) { /* a row no other statement of the batch touches */
        int tries = 0;
        do k = (size_t)(rnd(l) % ids->n);
        while (in_batch(l, t, ids->ids[k]) && ++tries < 16);
        if (tries == 16) op = OP_C;
    }
    dp_buf_t *s = &l->sql;
    if (op == OP_C) {
        new_uuid(l, id);
        if (ids->n == ids->cap) {
            ids->cap = ids->cap ? ids->cap * 2 : 1024;
            ids->ids = dp_xrealloc(ids->ids, sizeof *ids->ids * ids->cap);
        }
        memcpy(ids->ids[ids->n++], id, 37);
        if (t == T_USERS) {
            dp_buf_printf(s,
                          "INSERT INTO users (user_id, email, first_name, last_name, tier) VALUES "
                          "('%s', 'user-%s@example.com', '%s', '%s', '%s');",
                          id, id, first_names[rnd(l) % 10], last_names[rnd(l) % 10],
                          tiers[rnd(l) % 4]);
        } else {
            dp_buf_printf(s,
                          "INSERT INTO products (product_id, name, category, price, is_active) "
                          "VALUES ('%s', 'Product %s', '%s', %llu.%02llu, %s);",
                          id, id, categories[rnd(l) % 6], (unsigned long long)(rnd(l) % 10000),
                          (unsigned long long)(rnd(l) % 100), rnd(l) % 5 ? "true" : "false");
        }
    } else {
        memcpy(id, ids->ids[k], 37);
        if (op == OP_D) {
            memcpy(ids->ids[k], ids->ids[--ids->n], 37);
            dp_buf_printf(s, "DELETE FROM %s WHERE %s = '%s';", table_names[t], key_names[t], id);
        } else if (t == T_USERS) {
            dp_buf_printf(s, "UPDATE users SET tier = '%s', last_name = '%s' WHERE user_id = '%s';",
                          tiers[rnd(l) % 4], last_names[rnd(l) % 10], id);
        } else {
            dp_buf_printf(s,
                          "UPDATE products SET price = %llu.%02llu, is_active = %s WHERE "
                          "product_id = '%s';",
                          (unsigned long long)(rnd(l) % 10000), (unsigned long long)(rnd(l) % 100),
                          rnd(l) % 5 ? "true" : "false", id);
        }
    }
    l->ops[l->nops].t = t;
    l->ops[l->nops].op = op;
    memcpy(l->ops[l->nops].id, id, 37);
    l->nops++;
}

/* undo_batch: the batch did not commit: its creates are not rows, its
 * deletes still are */
static void undo_batch(load_t *l) {
    for (int i = l->nops - 1; i >= 0; i--) {
        id_set_t *ids = &l->ids[l->ops[i].t];
        if (l->ops[i].op == OP_C) {
            for (size_t k = ids->n; k-- > 0;)
                if (memcmp(ids->ids[k], l->ops[i].id, 37) == 0) {
                    memcpy(ids->ids[k], ids->ids[--ids->n], 37);
                    break;
                }
        } else if (l->ops[i].op == OP_D) {
            if (ids->n == ids->cap) {
                ids->cap = ids->cap ? ids->cap * 2 : 1024;
                ids->ids = dp_xrealloc(ids->ids, sizeof *ids->ids * ids->cap);
            }
            memcpy(ids->ids[ids->n++], l->ops[i].id, 37);
        }
    }
}

/* session: connect (bounded: attempts a second apart while the server is
 * away) and set the session up. 0 on success. */
static int session(load_t *l, int attempts) {
    for (int attempt = 0; attempt < attempts && !stop_requested; attempt++) {
        if (l->conn) PQfinish(l->conn);
        l->conn = PQconnectdb(l->dsn);
        if (PQstatus(l->conn) == CONNECTION_OK) {
            char q[64];
            snprintf(q, sizeof q, "SET synchronous_commit TO %s", l->sync_commit);
            PGresult *set = PQexec(l->conn, q);
            if (PQresultStatus(set) != PGRES_COMMAND_OK)
                dp_warn(MOD, "cannot set synchronous_commit: %s", PQresultErrorMessage(set));
            PQclear(set);
            return 0;
        }
        if (attempt == 0 && attempts > 1)
            dp_warn(MOD, "cannot connect to postgresql: %s (trying again for %d s)",
                    PQerrorMessage(l->conn), attempts);
        if (attempt + 1 < attempts) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    }
    dp_error(MOD, "cannot connect to postgresql: %s", PQerrorMessage(l->conn));
    return -1;
}

/* committed: after a reconnect, did the batch's transaction (xid) commit?
 * Its first statement's row says: 1, 0, -1 on error */
static int committed(load_t *l, const char *xid) {
    const char *params[1] = {l->ops[0].id};
    char q[128];
    snprintf(q, sizeof q, "SELECT xmin::text FROM %s WHERE %s = $1", table_names[l->ops[0].t],
             key_names[l->ops[0].t]);
    PGresult *r = PQexecParams(l->conn, q, 1, NULL, params, NULL, NULL, 0);
    int res = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        int rows = PQntuples(r), op = l->ops[0].op;
        /* xmin is the low 32 bits of the xid txid_current() gave */
        res = op == OP_D ? rows == 0
            : op == OP_C ? rows == 1
                         : rows == 1 &&
                strtoull(PQgetvalue(r, 0, 0), NULL, 10) ==
                    (strtoull(xid, NULL, 10) & 0xffffffffULL);
        dp_info(MOD, "transaction %s, in doubt after the reconnect: %s (its %s of %s %s %s)", xid,
                res ? "committed" : "not committed",
                op == OP_C       ? "insert"
                    : op == OP_D ? "delete"
                                 : "update",
                table_names[l->ops[0].t], l->ops[0].id,
                rows == 0 ? "finds no row" : "finds the row");
    } else {
        dp_error(MOD, "reading row %s of %s: %s", l->ops[0].id, table_names[l->ops[0].t],
                 PQresultErrorMessage(r));
    }
    PQclear(r);
    return res;
}

/* begin: BEGIN and the transaction's xid, a round trip of its own so that
 * the xid is known once COMMIT is sent. 0, 1 when the connection was lost
 * (nothing was sent that could commit), -1 on another error */
static int begin(load_t *l, char xid[32]) {
    PGresult *r = PQexec(l->conn, "BEGIN;SELECT txid_current()");
    int rc = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        snprintf(xid, 32, "%s", PQgetvalue(r, 0, 0));
    } else if (PQstatus(l->conn) != CONNECTION_OK) {
        rc = 1;
    } else {
        dp_error(MOD, "BEGIN: %s", PQresultErrorMessage(r));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

/* run_batch: BEGIN and the xid, then the statements and COMMIT as one
 * round trip; check that each statement changed exactly one row. A lost
 * connection is healed: the batch counts if it committed. 0: counted, 1:
 * not committed, -1: failed */
static int run_batch(load_t *l) {
    dp_buf_puts(&l->sql, "COMMIT;");
    char xid[32] = "";
    int b = begin(l, xid), ok = b == 0, in_doubt = 0;
    if (b < 0) return -1;
    if (ok && !PQsendQuery(l->conn, dp_buf_cstr(&l->sql))) {
        ok = 0;
        in_doubt = 1; /* part of it may have reached the server */
    } else if (ok) {
        PGresult *r;
        int idx = 0;
        while ((r = PQgetResult(l->conn))) {
            ExecStatusType st = PQresultStatus(r);
            if (st != PGRES_COMMAND_OK) {
                if (ok && PQstatus(l->conn) == CONNECTION_OK)
                    dp_error(MOD, "statement failed: %s", PQresultErrorMessage(r));
                ok = 0;
            } else if (idx < l->nops && strcmp(PQcmdTuples(r), "1") != 0) {
                dp_error(MOD, "statement %d changed %s rows, expected 1", idx, PQcmdTuples(r));
                ok = 0;
            }
            idx++;
            PQclear(r);
        }
        in_doubt = !ok;
    }
    int counted = ok;
    if (!ok && PQstatus(l->conn) != CONNECTION_OK) {
        /* the server went away: reconnect, then ask whether it committed */
        dp_warn(MOD, "lost the connection to postgresql: %s", PQerrorMessage(l->conn));
        if (session(l, 60)) return -1;
        l->reconnects++;
        counted = 0;
        if (in_doubt) {
            int c = committed(l, xid);
            if (c < 0) return -1;
            counted = c;
            l->in_doubt++;
        }
        ok = 1;
    }
    if (counted)
        for (int i = 0; i < l->nops; i++) l->counts[l->ops[i].t][l->ops[i].op]++;
    else
        undo_batch(l);
    l->nops = 0;
    dp_buf_reset(&l->sql);
    return ok ? (counted ? 0 : 1) : -1;
}

static void write_report(load_t *l, const char *path, double secs, int final) {
    if (!path) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    uint64_t total = 0;
    for (int t = 0; t < 2; t++)
        for (int o = 0; o < 3; o++) total += l->counts[t][o];
    fprintf(f,
            "{\"users\":{\"c\":%llu,\"u\":%llu,\"d\":%llu},"
            "\"products\":{\"c\":%llu,\"u\":%llu,\"d\":%llu},"
            "\"total\":%llu,\"seconds\":%.3f,\"final\":%s}\n",
            (unsigned long long)l->counts[0][0], (unsigned long long)l->counts[0][1],
            (unsigned long long)l->counts[0][2], (unsigned long long)l->counts[1][0],
            (unsigned long long)l->counts[1][1], (unsigned long long)l->counts[1][2],
            (unsigned long long)total, secs, final ? "true" : "false");
    fclose(f);
    rename(tmp, path);
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: datapipe load [--rate N] [--duration S] [--changes N] [--seed N]\n"
            "                     [--report FILE] [--dsn CONNINFO]\n"
            "  --rate N       changes per second (default 1000)\n"
            "  --duration S   stop after S seconds (default 10; 0 = until Ctrl-C)\n"
            "  --changes N    stop after N changes (default: no limit)\n"
            "  --report FILE  ledger of changes made, as JSON, rewritten every second\n"
            "  --dsn STR      libpq connection string (default: PG* environment)\n"
            "  --synchronous-commit on|off  wait for the WAL flush at each commit, so\n"
            "                 a crash of the server loses no counted change (default off)\n");
}

int load_main(int argc, char **argv) {
    static const struct option opts[] = {{"rate", required_argument, NULL, 'r'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"changes", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"report", required_argument, NULL, 'o'},
                                         {"dsn", required_argument, NULL, 'D'},
                                         {"synchronous-commit", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    double rate = 1000, duration = 10;
    long long max_changes = -1;
    unsigned long long seed = (unsigned long long)time(NULL);
    const char *report = NULL, *dsn = "", *sync_commit = "off";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "r:d:n:s:o:D:S:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'r': rate = strtod(optarg, &end); break;
        case 'd': duration = strtod(optarg, &end); break;
        case 'n': max_changes = strtoll(optarg, &end, 10); break;
        case 's': seed = strtoull(optarg, &end, 10); break;
        case 'o': report = optarg; break;
        case 'D': dsn = optarg; break;
        case 'S':
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "datapipe load: --synchronous-commit takes on or off\n");
                return 2;
            }
            sync_commit = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "datapipe load: invalid number \"%s\"\n", optarg);
            return 2;
        }
    }
    if (rate <= 0 || rate > 1e7 || duration < 0) {
        fprintf(stderr, "datapipe load: --rate must be in (0, 1e7], --duration >= 0\n");
        return 2;
    }
    load_t l;
    memset(&l, 0, sizeof l);
    l.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    dp_buf_init(&l.sql, 1 << 20);
    l.dsn = dsn;
    l.sync_commit = sync_commit;
    /* the workload measures capture, not the source's fsync: by default
     * commit without waiting for the WAL flush (the changes are in the WAL
     * all the same, which is what capture reads) */
    if (session(&l, 1)) {
        PQfinish(l.conn);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* statements per transaction: about one transaction per millisecond */
    int per_txn = (int)(rate / 1000);
    if (per_txn < 1) per_txn = 1;
    if (per_txn > 64) per_txn = 64;
    int64_t start = dp_mono_us(), next_report = start + 1000000;
    uint64_t done = 0;
    int rc = 0;
    while (!stop_requested) {
        int64_t now = dp_mono_us();
        double elapsed = (double)(now - start) / 1e6;
        if (duration > 0 && elapsed >= duration) break;
        if (max_changes >= 0 && done >= (uint64_t)max_changes) break;
        uint64_t due = (uint64_t)(elapsed * rate);
        if (done >= due) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
            continue;
        }
        int n = per_txn;
        if (max_changes >= 0 && (uint64_t)n > (uint64_t)max_changes - done)
            n = (int)((uint64_t)max_changes - done);
        for (int i = 0; i < n; i++) add_stmt(&l);
        int br = run_batch(&l);
        if (br < 0) {
            rc = 1;
            break;
        }
        if (br == 0) done += (uint64_t)n;
        if (now >= next_report) {
            write_report(&l, report, elapsed, 0);
            next_report = now + 1000000;
        }
    }
    double secs = (double)(dp_mono_us() - start) / 1e6;
    write_report(&l, report, secs, 1);
    printf("load: %llu changes in %.1f s (%.0f/s): users c=%llu u=%llu d=%llu, products c=%llu "
           "u=%llu d=%llu\n",
           (unsigned long long)done, secs, secs > 0 ? (double)done / secs : 0.0,
           (unsigned long long)l.counts[0][0], (unsigned long long)l.counts[0][1],
           (unsigned long long)l.counts[0][2], (unsigned long long)l.counts[1][0],
           (unsigned long long)l.counts[1][1], (unsigned long long)l.counts[1][2]);
    if (l.reconnects)
        printf("load: %llu reconnects, %llu transactions in doubt resolved\n",
               (unsigned long long)l.reconnects, (unsigned long long)l.in_doubt);
    PQfinish(l.conn);
    for (int t = 0; t < 2; t++) free(l.ids[t].ids);
    dp_buf_fini(&l.sql);
    return rc;
}
