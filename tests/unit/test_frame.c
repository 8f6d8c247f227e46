/* test_frame - the replication stream's framing: XLogData and keepalive
 * frames parsed from bytes laid out as the protocol documents them, short
 * and unknown frames refused, the status update's bytes, and when the
 * feedback state says one is due. */
#include <stdint.h>

#include "pg/frame.h"
#include "pg/repl.h"
#include "testlib.h"

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static void test_parse(void) {
    uint8_t w[30] = {'w'};
    put64(w + 1, 0x16B3748);
    put64(w + 9, 0x16B3800);
    put64(w + 17, 123456789);
    memcpy(w + 25, "Bxyzw", 5);
    pgf_frame_t f;
    char err[128];
    CHECK_EQ_INT(pgf_parse(w, sizeof w, &f, err, sizeof err), DP_OK);
    CHECK_EQ_INT(f.kind, PGF_XLOGDATA);
    CHECK_EQ_INT(f.wal_start, 0x16B3748);
    CHECK_EQ_INT(f.wal_end, 0x16B3800);
    CHECK_EQ_INT(f.server_time, 123456789);
    CHECK(f.data == w + 25 && f.len == 5);
    /* an XLogData with no payload is a frame, an empty pgoutput message */
    CHECK_EQ_INT(pgf_parse(w, 25, &f, err, sizeof err), DP_OK);
    CHECK_EQ_INT(f.len, 0);
    CHECK_EQ_INT(pgf_parse(w, 24, &f, err, sizeof err), DP_ERR_PROTO);
    CHECK(strstr(err, "XLogData") != NULL);

    uint8_t k[18] = {'k'};
    put64(k + 1, 0xABCDEF);
    put64(k + 9, 42);
    k[17] = 1;
    CHECK_EQ_INT(pgf_parse(k, sizeof k, &f, err, sizeof err), DP_OK);
    CHECK_EQ_INT(f.kind, PGF_KEEPALIVE);
    CHECK_EQ_INT(f.wal_end, 0xABCDEF);
    CHECK_EQ_INT(f.server_time, 42);
    CHECK_EQ_INT(f.reply_requested, 1);
    CHECK(f.data == NULL);
    k[17] = 0;
    CHECK_EQ_INT(pgf_parse(k, sizeof k, &f, err, sizeof err), DP_OK);
    CHECK_EQ_INT(f.reply_requested, 0);
    CHECK_EQ_INT(pgf_parse(k, 17, &f, err, sizeof err), DP_ERR_PROTO);

    uint8_t x[20] = {'x'};
    CHECK_EQ_INT(pgf_parse(x, sizeof x, &f, err, sizeof err), DP_ERR_PROTO);
    CHECK(strstr(err, "0x78") != NULL);
    CHECK_EQ_INT(pgf_parse(x, 0, &f, err, sizeof err), DP_ERR_PROTO);
}

static void test_status_update(void) {
    uint8_t m[PGF_STATUS_LEN];
    pgf_status_update(m, 0x200, 0x100, REPL_PG_EPOCH_US + 5);
    uint8_t want[PGF_STATUS_LEN] = {'r'};
    put64(want + 1, 0x200);
    put64(want + 9, 0x100);
    put64(want + 17, 0x100);
    put64(want + 25, 5);
    CHECK_EQ_MEM(m, sizeof m, want, sizeof want);
}

static void test_feedback(void) {
    pgf_feedback_t fb;
    pgf_feedback_init(&fb, 10000000); /* status.update.interval.ms 10 s */
    CHECK(pgf_feedback_due(&fb, 0, 0)); /* the first at once */
    pgf_feedback_sent(&fb, 1000000, 50);
    CHECK(!pgf_feedback_due(&fb, 1500000, 50));
    CHECK_EQ_INT(pgf_feedback_deadline(&fb, 50), 11000000);
    /* the confirmed position moved: within a second of the last one */
    CHECK_EQ_INT(pgf_feedback_deadline(&fb, 60), 2000000);
    CHECK(!pgf_feedback_due(&fb, 1999999, 60));
    CHECK(pgf_feedback_due(&fb, 2000000, 60));
    pgf_feedback_sent(&fb, 2000000, 60);
    CHECK(!pgf_feedback_due(&fb, 11999999, 60));
    CHECK(pgf_feedback_due(&fb, 12000000, 60));
    /* a short interval: the periodic one comes first */
    pgf_feedback_init(&fb, 200000);
    pgf_feedback_sent(&fb, 0, 1);
    CHECK_EQ_INT(pgf_feedback_deadline(&fb, 2), 200000);
}

int main(void) {
    test_parse();
    test_status_update();
    test_feedback();
    return tl_finish("test_frame");
}
