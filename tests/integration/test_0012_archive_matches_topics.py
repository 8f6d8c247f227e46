"""The archive of a real capture run matches the topic contents exactly,
read three independent ways: pyarrow, DuckDB (hive partitioning on) and
parquet-java. DP_ARCHIVE_EVENTS sets the run's size (default 30000 in
`make test`; the closing figure was measured with 1000000)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dpcheck

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jvm"))
import jvmreader  # noqa: E402

N = int(os.environ.get("DP_ARCHIVE_EVENTS", "30000"))


def test_archive_matches_topics_three_readers(pipeline):
    p = pipeline
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data"}))
    p.wait_streaming()
    dsn = (f"host={p.env['PGHOST']} port={p.env['PGPORT']} user={p.env['PGUSER']} "
           f"password={p.env['PGPASSWORD']} dbname={p.db}")
    subprocess.run([str(p.binary), "load", "--dsn", dsn, "--changes", str(N), "--rate", "10000000",
                    "--duration", "0", "--seed", "3"], env=p.env, check=True, capture_output=True)
    p.wait_confirmed(p.current_lsn(), timeout=1800)
    t0 = time.monotonic()
    p.start("archive", p.archive_config(**{"flush.size": "20000", "rotate.interval.ms": "600000"}))
    time.sleep(1)
    p.drain_archive(timeout=1800)
    archive_s = time.monotonic() - t0

    # the topics, independently
    expected = {}
    msgs = dpcheck.read_topics(p.env, list(p.topics.values()), timeout=600)
    records = len(msgs)
    for m in msgs:
        if m.value() is None:
            continue
        pl = json.loads(m.value())["payload"]
        src = pl["source"]
        expected[(m.topic(), m.partition(), m.offset())] = (
            pl["op"], src["table"], src["db"], src["schema"], src["version"], src["txId"],
            src["lsn"], src["ts_ms"], pl["before"], pl["after"])
    assert len(expected) == N

    keys, table, mirror = p.archive_rows()
    assert not dpcheck.check_key_layout(keys, p.dir)

    def row_tuple(r):
        ts = r["event_timestamp"]
        ms = ts if isinstance(ts, int) else int(ts.timestamp() * 1000)
        return (r["operation_type"], r["table_name"], r["database_name"], r["schema_name"],
                r["connector_version"], r["transaction_id"], r["lsn"], ms,
                json.loads(r["before_data"]) if r["before_data"] else None,
                json.loads(r["after_data"]) if r["after_data"] else None)

    # 1. pyarrow: every record once, field for field
    rows = table.to_pylist()
    got = {(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]): row_tuple(r) for r in rows}
    assert len(rows) == len(got) == N
    assert got == expected

    # 2. DuckDB with hive partitioning: counts and offset sums per topic and partition
    want = {}
    for (t, part, off) in expected:
        n, s = want.get((t, part), (0, 0))
        want[(t, part)] = (n + 1, s + off)
    res = dpcheck.duckdb_query(mirror, p.dir, "kafka_topic, kafka_partition, count(*), sum(kafka_offset) "
                                              "FROM {src} WHERE year >= 2024 GROUP BY 1, 2")
    assert {(t, part): (n, int(s)) for t, part, n, s in res} == want

    # 3. parquet-java: the same rows as pyarrow, file by file
    cols = None
    jvm_rows = 0
    for f in jvmreader.read_files(sorted(str(x) for x in mirror.rglob("*.parquet"))):
        cols = f.columns
        for vals in f.rows:
            r = dict(zip(cols, vals))
            k = (r["kafka_topic"], r["kafka_partition"], r["kafka_offset"])
            assert row_tuple(r) == expected[k], k
            jvm_rows += 1
    assert jvm_rows == N
    size = sum(x.stat().st_size for x in mirror.rglob("*.parquet"))
    print(f"{N} events: {records} records, {len(keys)} objects, {size / N:.1f} bytes/event, "
          f"archive drained in {archive_s:.1f} s")
