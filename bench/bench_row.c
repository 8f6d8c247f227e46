/* bench_row - the archive reading one AvroConverter envelope into its row,
 * in process, no servers: the JSON way (dp_avro_to_json, then
 * arc_row_parse) against the direct way (dp_avro_read_fields, then
 * arc_row_from_avro), on the same record.
 *
 * The record: the JsonConverter envelope (with schema) in FILE, its schema
 * compiled and its payload encoded as AvroConverter does. `make bench-row`
 * runs it on tests/fuzz/corpus/avro/envelope-users.json (an update of the
 * seed's users table), CPU ns per record over N records, and instructions
 * per record under callgrind (--toggle-collect=way_*). Prints, asserts
 * nothing.
 *
 *   bench_row FILE N json|direct */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/archive.h"
#include "common/json.h"
#include "event/avro.h"

static dp_buf_t json, json2, scratch;
static dp_json_t parsed;
static arc_row_t row;

__attribute__((noinline)) void way_json(const dp_avro_reader_t *r, const uint8_t *b, size_t n,
                                        long iters);
__attribute__((noinline)) void way_direct(const dp_avro_reader_t *r, const uint8_t *b, size_t n,
                                          long iters);

void way_json(const dp_avro_reader_t *r, const uint8_t *b, size_t n, long iters) {
    char e[256];
    for (long i = 0; i < iters; i++) {
        dp_buf_reset(&json);
        if (dp_avro_to_json(r, b, n, &json, e, sizeof e) ||
            arc_row_parse(&row, &parsed, (const char *)json.data, json.len, e, sizeof e))
            abort();
    }
}

void way_direct(const dp_avro_reader_t *r, const uint8_t *b, size_t n, long iters) {
    char e[256];
    dp_avro_got_t got[ARC_ROW_AVRO_NWANT];
    for (long i = 0; i < iters; i++) {
        if (dp_avro_read_fields(r, b, n, arc_row_avro_want, ARC_ROW_AVRO_NWANT, got, &json2,
                                &scratch, e, sizeof e) ||
            arc_row_from_avro(&row, got, &json2, e, sizeof e))
            abort();
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_row FILE N json|direct\n");
        return 2;
    }
    static char doc[1 << 16];
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    size_t dl = fread(doc, 1, sizeof doc, f);
    fclose(f);
    char *end;
    long iters = strtol(argv[2], &end, 10);
    if (*end || iters <= 0) return 2;
    dp_json_t d = {0};
    char e[256];
    dp_avro_schema_t *s;
    dp_avro_reader_t *r;
    dp_buf_t bin;
    dp_buf_init(&bin, 1 << 20);
    if (dp_json_parse(&d, doc, dl, 1 << 20, e, sizeof e) ||
        dp_avro_schema_new(&d, dp_json_get(&d, 0, "schema"), &s, e, sizeof e) ||
        dp_avro_encode(s, &d, dp_json_get(&d, 0, "payload"), &bin, e, sizeof e)) {
        fprintf(stderr, "bench_row: %s\n", e);
        return 1;
    }
    size_t sl;
    const char *st = dp_avro_schema_json(s, &sl);
    if (dp_avro_reader_new(st, sl, &r, e, sizeof e)) return 1;
    dp_buf_init(&json, 1 << 20), dp_buf_init(&json2, 1 << 20), dp_buf_init(&scratch, 1 << 20);
    dp_buf_init(&row.scratch, 1 << 20);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    if (!strcmp(argv[3], "json"))
        way_json(r, bin.data, bin.len, iters);
    else
        way_direct(r, bin.data, bin.len, iters);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ns =
        ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)iters;
    printf("%-6s %zu-byte Avro body: %.0f CPU ns per record\n", argv[3], bin.len, ns);
    return 0;
}
