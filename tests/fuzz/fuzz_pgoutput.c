/* fuzz_pgoutput - pgoutput bytes from a hostile server: decode, and feed
 * relations and changes through the Debezium encoder. */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "event/debezium.h"
#include "pg/pgoutput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pgo_decoder_t dec;
    static dbz_table_t table;
    static int have_table;
    static dp_buf_t out;
    static int init;
    if (!init) {
        dp_log_level = -1;
        dp_buf_init(&out, 1 << 20);
        init = 1;
    }
    dbz_options_t opt = {"fz", "db", 1, 1, 0, 0, 0};
    pgo_msg_t m;
    char err[256];
    if (pgo_decode(&dec, data, size, &m, err, sizeof err)) return 0;
    if (m.kind == PGO_RELATION) {
        if (have_table) dbz_table_fini(&table);
        have_table = dbz_table_init(&table, &m.u.relation, NULL, 0, &opt, err, sizeof err) == DP_OK;
        return 0;
    }
    if (!have_table) return 0;
    if (m.kind == PGO_INSERT || m.kind == PGO_UPDATE || m.kind == PGO_DELETE) {
        const pgo_tuple_t *old = m.u.change.old_kind ? &m.u.change.old_tuple : NULL;
        const pgo_tuple_t *neu = m.kind == PGO_DELETE ? NULL : &m.u.change.new_tuple;
        dbz_source_t src = {0, 1, 2, 3, "false", NULL};
        int has_key;
        dbz_event_t ev = {&table, 'u', old, neu, src, 0};
        dbz_encode_key(&ev, &opt, &out, &has_key);
        dbz_encode_value(&ev, &opt, &out);
    }
    return 0;
}
