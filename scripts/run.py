#!/usr/bin/env python3
"""make run: capture + archive + the seed's workload on the local stack.

Shows a live progress line; on Ctrl-C (or after --duration seconds) stops
the load, drains capture and archive, then checks with independent tools
(boto3, pyarrow, DuckDB, psycopg, confluent-kafka) that every change made is
in S3 exactly once, and that replaying the archive reproduces the tables. Exit
0 only if so. The stack stays up for inspection; `make down` stops it.

The check reads only the objects this run wrote (chosen by their time path and
by the topics' offsets at the start, see dpcheck.run_objects), one at a time,
and folds them into counters: its memory depends on the run, not on the
archive. `datapipe verify` checks the whole archive's offsets beside it.
`--check LOGDIR` repeats the check of a finished run (meaningful until the next
run changes the tables).
"""
import argparse
import importlib
import json
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))
import dpcheck  # noqa: E402

ROOT = dpcheck.ROOT
CAPTURE_CFG = ROOT / "config" / "postgres-cdc-connector.json"
ARCHIVE_CFG = ROOT / "config" / "s3-sink-connector.json"
ARCHIVE = json.loads(ARCHIVE_CFG.read_text())["config"]
PREFIX = ARCHIVE.get("topics.dir", "topics")
# the tables of the seed's workload: key, compared columns, Debezium decimal column
TABLES = (("users", "user_id", ("tier", "last_name"), None),
          ("products", "product_id", ("is_active",), "price"))
# the check lists the archive from the time path of the run's start less this margin
MARGIN_S = 600

stop_requested = False
children = []  # every process this run started: stopped on every way out


def on_sigint(sig, frame):
    global stop_requested
    stop_requested = True


def start(cmd, env, log):
    p = dpcheck.start(cmd, env, log)
    children.append(p)
    return p


def stop_children():
    """Stop whatever this run started and is still running (bounded)."""
    for p in reversed(children):
        if p.poll() is None:
            dpcheck.stop(p, timeout=30)


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def status(binary, env):
    import subprocess
    try:
        r = subprocess.run([str(binary), "status", "--capture", str(CAPTURE_CFG), "--archive",
                            str(ARCHIVE_CFG), "--json"], env=env, capture_output=True, text=True,
                           timeout=60)
        return json.loads(r.stdout)
    except (ValueError, subprocess.TimeoutExpired):
        return None


def ledger(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def main():
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(143))
    try:
        return run()
    finally:
        stop_children()


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=float, default=0, help="seconds; 0 = until Ctrl-C")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--check", metavar="LOGDIR", help="only repeat the end-of-run check of the run in LOGDIR")
    args = ap.parse_args()
    binary = ROOT / args.build / "datapipe"
    env = dpcheck.process_env()
    if args.check:
        run_start = json.loads((Path(args.check) / "run-start.json").read_text())
        return verify(env, run_start, ledger(Path(args.check) / "load.json"), None)
    logdir = ROOT / ".stack" / "logs" / time.strftime("run-%Y%m%d-%H%M%S")
    logdir.mkdir(parents=True, exist_ok=True)
    report = logdir / "load.json"
    signal.signal(signal.SIGINT, on_sigint)

    # Where this run starts, for the check to read only what it wrote: the time, then
    # the topics' offsets, then the LSN. In this order every change after start_lsn
    # is produced after the offsets were taken, so it is at or above them.
    run_start = {"time_ms": int(time.time() * 1000)}
    try:
        run_start["offsets"] = [[t, p, o] for (t, p), o in dpcheck.topic_end_offsets(
            env, ARCHIVE.get("topics.regex"), [t for t in ARCHIVE.get("topics", "").split(",") if t]).items()]
    except Exception as e:  # the check then reads every object since the start time
        print(f"warning: cannot read the topics' offsets ({e}); the check will read more objects")
        run_start["offsets"] = None
    run_start["lsn"] = dpcheck.pg_rows(env, "SELECT pg_current_wal_lsn()::text")[0][0]
    (logdir / "run-start.json").write_text(json.dumps(run_start) + "\n")
    t0 = time.monotonic()
    capture = start([str(binary), "capture", "--config", str(CAPTURE_CFG)], env, logdir / "capture.log")
    archive = start([str(binary), "archive", "--config", str(ARCHIVE_CFG)], env, logdir / "archive.log")
    print(f"datapipe run: logs in {logdir.relative_to(ROOT)}; capture pid {capture.pid}, archive pid {archive.pid}")
    ports = [json.loads(c.read_text())["config"].get("datapipe.metrics.port") for c in (CAPTURE_CFG, ARCHIVE_CFG)]
    if all(ports):
        print(f"metrics: http://127.0.0.1:{ports[0]}/metrics (capture), http://127.0.0.1:{ports[1]}/metrics "
              "(archive), /health on both")
    try:
        dpcheck.wait_for(lambda: capture.poll() is not None or dpcheck.pg_rows(
            env, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'debezium_slot' AND active")[0][0] == 1,
            60, what="capture to start streaming")
    except TimeoutError as e:
        print(f"error: {e}; see {logdir}/capture.log")
        return 1
    if capture.poll() is not None:
        print(f"error: capture exited with {capture.returncode}; see {logdir}/capture.log")
        print((logdir / "capture.log").read_text()[-2000:])
        return 1
    load = start([str(binary), "load", "--rate", str(args.rate), "--duration",
                          str(args.duration if args.duration > 0 else 0), "--report", str(report)],
                         env, logdir / "load.log")
    print(f"load: {args.rate:.0f} changes/s " + (f"for {args.duration:.0f} s" if args.duration else "until Ctrl-C"))
    failed = None
    while not stop_requested:
        time.sleep(2)
        for name, p in (("capture", capture), ("archive", archive)):
            if p.poll() is not None:
                failed = f"{name} exited with {p.returncode}; see {logdir}/{name}.log"
        if failed or load.poll() is not None:
            break
        st = status(binary, env) or {}
        led = ledger(report) or {}
        k, s3, pg = st.get("kafka", {}), st.get("s3", {}), st.get("postgres", {})
        sys.stdout.write(
            ("\r" if sys.stdout.isatty() else "") + f"{time.monotonic() - t0:6.0f}s  changes made {led.get('total', 0):>8}  "
            f"kafka records {k.get('end_offsets', 0):>8}  archived {k.get('archived_offsets', 0):>8}  "
            f"(lag {k.get('lag', 0):>6})  s3 objects {s3.get('objects', 0):>5}  "
            f"slot behind {pg.get('lag_bytes', 0):>9} B " + ("" if sys.stdout.isatty() else "\n"))
        sys.stdout.flush()
    print()
    if dpcheck.stop(load, signal.SIGINT) not in (0, None):
        failed = f"load exited with {load.returncode}; see {logdir}/load.log"
    if failed:
        print("error:", failed)
        dpcheck.stop(capture)
        dpcheck.stop(archive)
        return 1
    print("draining: waiting for capture to confirm the last change, then for the archive to upload it")
    end_lsn = dpcheck.pg_rows(env, "SELECT pg_current_wal_lsn()::text")[0][0]
    try:
        dpcheck.wait_for(lambda: (dpcheck.pg_rows(
            env, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'debezium_slot'")
            or [["0/0"]])[0][0] and lsn_int(dpcheck.pg_rows(
                env, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'debezium_slot'")[0][0])
            >= lsn_int(end_lsn), 120, what="capture to confirm " + end_lsn)
    except TimeoutError as e:
        print("error:", e)
    dpcheck.stop(archive, signal.SIGUSR1, timeout=300)
    dpcheck.stop(capture)
    if archive.returncode != 0:
        print(f"error: archive exited with {archive.returncode}; see {logdir}/archive.log")
        return 1
    complete = datapipe_verify(binary, env)
    return verify(env, run_start, ledger(report), time.monotonic() - t0) or (0 if complete else 1)


def datapipe_verify(binary, env):
    """`datapipe verify` over the whole archive (footers only): complete?"""
    import subprocess
    print("\ndatapipe verify (the Parquet footers against Kafka):")
    try:
        r = subprocess.run([str(binary), "verify", "--config", str(ARCHIVE_CFG)], env=env,
                           capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        print("  FAIL datapipe verify did not answer within 600 s")
        return False
    for line in (r.stdout + r.stderr).strip().splitlines():
        print("  " + line)
    print(f"  {'ok  ' if r.returncode == 0 else 'FAIL'} datapipe verify exit {r.returncode}")
    return r.returncode == 0


def verify(env, run_start, led, elapsed):
    """The independent check of the run that started at run_start (run-start.json): only
    its objects, read one at a time; see dpcheck.RunFold for what memory it keeps."""
    t_check = time.monotonic()
    for lib in ("boto3", "duckdb", "psycopg", "pyarrow.parquet", "pyarrow.compute"):
        importlib.import_module(lib)  # loaded first, so that rss0 is the base the data adds to
    rss0 = dpcheck.rss_mib()
    s = lsn_int(run_start["lsn"])
    start_offsets = None if run_start.get("offsets") is None else {(t, p): o for t, p, o in run_start["offsets"]}
    ok = True
    s3 = dpcheck.s3_client(env)
    objs = dpcheck.run_objects(env, PREFIX + "/", run_start["time_ms"], start_offsets,
                               ARCHIVE.get("path.format", "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"),
                               int(ARCHIVE.get("partition.duration.ms", 3600000)), ARCHIVE.get("timezone", "UTC"),
                               margin_ms=MARGIN_S * 1000, s3=s3)
    tables = [dpcheck.LatestState(t, pk, cols, dec) for t, pk, cols, dec in TABLES]
    fold = dpcheck.RunFold(s, start_offsets, tables)
    # a mirror of the objects read (only those: the run's, and any older object that
    # reaches into its offsets), for DuckDB; replaced by the next run
    mirror = ROOT / ".stack" / "archive-mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    for _, path in dpcheck.fetch_objects(env, objs.read, mirror, s3=s3):
        fold.add_file(path)
    print(f"\narchive: read {len(objs.read)} objects ({objs.bytes / 2**20:.1f} MiB), {fold.rows} rows, under "
          f"s3://{env['S3_BUCKET']}/{PREFIX}/: the objects this run can have written")
    print(f"  listed {objs.listed} keys "
          + (f"after {objs.start_after!r} (the run's start time less {MARGIN_S // 60} min)"
             if objs.start_after else "(the whole prefix)")
          + f"; {objs.older} older by their offsets ({objs.footers} footers read)"
          + ("" if start_offsets is not None else "; no start offsets: every listed object read"))
    if objs.foreign:
        ok = False
        print(f"  FAIL {len(objs.foreign)} keys do not follow the layout, e.g. {objs.foreign[0]}")
    records, dups = fold.duplicated_records()
    print(f"  {'ok  ' if not dups else 'FAIL'} each Kafka record of this run in exactly one row "
          f"({records} records, {dups} duplicated)")
    ok &= dups == 0
    if fold.below_start:
        ok = False
        print(f"  FAIL {fold.below_start} rows of this run lie below the topics' offsets at its start: "
              "the objects were chosen wrongly")
    distinct = fold.distinct_changes()
    print(f"  this run: {led['total']} changes made, {fold.run_rows} rows archived ({distinct} distinct changes)")
    for t, _, _, _ in TABLES:
        for op in ("c", "u", "d"):
            want, have = led[t][op], fold.counts.get((t, op), 0)
            flag = "ok  " if want == have else "FAIL"
            ok &= want == have
            print(f"  {flag} {t:9} {op}: made {want:>7}  archived {have:>7}")
    if distinct != fold.run_rows:
        ok = False
        print(f"  FAIL {fold.run_rows - distinct} rows repeat a change (same table and lsn) of another row")
    prices_ok = True
    for st in tables:
        r = st.compare(env)
        same = not (r["missing"] or r["extra"] or r["differ"])
        ok &= same
        print(f"  {'ok  ' if same else 'FAIL'} replaying the archive reproduces table {st.table} for the "
              f"{r['keys']} keys this run touched ({r['present']} present, {r['deleted']} deleted"
              + ("" if same else f"; {r['missing']} missing, {r['extra']} not deleted, {r['differ']} differ") + ")")
        for e in r["examples"]:
            print(f"         e.g. {e}")
        if st.decimal:
            prices_ok &= r["decimal_differ"] == 0
    print(f"  {'ok  ' if prices_ok else 'FAIL'} product prices (Debezium decimals) decode to the table's values")
    ok &= prices_ok
    print("\nDuckDB over the objects read (hive partitioning on), this run's rows:")
    if objs.read:
        q = f"table_name, operation_type, count(*) AS n FROM {{src}} WHERE lsn >= {s} GROUP BY ALL ORDER BY 1, 2"
        print(f"  SELECT {q.format(src=dpcheck.duckdb_source(PREFIX + '/**/*.parquet'))}")
        rows = dpcheck.duckdb_query_bounded(mirror, PREFIX, q)
        for row in rows:
            print(f"    {row[0]:10} {row[1]}  {row[2]:>8}")
        same = {(r[0], r[1]): r[2] for r in rows} == dict(fold.counts)
        ok &= same
        print(f"  {'ok  ' if same else 'FAIL'} DuckDB counts the rows as pyarrow does")
        hours = dpcheck.duckdb_query_bounded(mirror, PREFIX, "count(DISTINCT (year, month, day, hour)) FROM {src} "
                                                            f"WHERE lsn >= {s}")[0][0]
        disk = sum(f.stat().st_size for f in mirror.rglob("*.parquet"))
        print(f"  rows span {hours} hour partition(s); local copy of the objects read in "
              f"{mirror.relative_to(ROOT)} ({disk / 2**20:.1f} MiB, replaced by the next run)")
    else:
        print("  no object to query")
    print(f"\ncheck: {time.monotonic() - t_check:.1f} s for {fold.objects} objects, {fold.rows} rows; peak RSS "
          f"{dpcheck.peak_rss_mib():.0f} MiB (this process; {rss0:.0f} MiB with its libraries loaded, before reading)")
    rate = led["total"] / led["seconds"] if led.get("seconds") else 0
    print(f"\nsummary: {led['total']} changes in {led['seconds']:.0f} s ({rate:.0f}/s)"
          + (f", run took {elapsed:.0f} s: " if elapsed is not None else ": ")
          + ("every change made is in S3, exactly once" if ok else "MISMATCH, see above"))
    print("the stack is still up: `scripts/stack status`, `make down` to stop it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
