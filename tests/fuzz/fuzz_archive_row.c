/* fuzz_archive_row - Kafka record values as the archive reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static arc_row_t row;
    static dp_json_t j;
    static int init;
    if (!init) {
        dp_buf_init(&row.scratch, 1 << 20);
        init = 1;
    }
    char err[256];
    if (arc_row_parse(&row, &j, (const char *)data, size, err, sizeof err) == DP_OK) {
        /* every span must lie inside the input or the scratch buffer */
        const arc_span_t *sp[] = {&row.op,     &row.table,  &row.version, &row.db,
                                  &row.schema, &row.before, &row.after};
        for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
            if (sp[i]->null) continue;
            const char *p = sp[i]->p;
            int in_input = p >= (const char *)data && p + sp[i]->len <= (const char *)data + size;
            int in_scratch = row.scratch.data && p >= (const char *)row.scratch.data &&
                p + sp[i]->len <= (const char *)row.scratch.data + row.scratch.len;
            if (!in_input && !in_scratch) abort();
        }
    }
    return 0;
}
