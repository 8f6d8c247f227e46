#!/usr/bin/env python3
"""make run: capture + archive + the seed's workload on the local stack.

Shows a live progress line; on Ctrl-C (or after --duration seconds) stops
the load, drains capture and archive, then checks with independent tools
(boto3, pyarrow, DuckDB, psycopg) that every change made is in S3 exactly
once, and that replaying the archive reproduces the tables. Exit 0 only
if so. The stack stays up for inspection; `make down` stops it.
"""
import argparse
import json
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))
import dpcheck  # noqa: E402

ROOT = dpcheck.ROOT
CAPTURE_CFG = ROOT / "config" / "postgres-cdc-connector.json"
ARCHIVE_CFG = ROOT / "config" / "s3-sink-connector.json"
PREFIX = "cdc-events"

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
    args = ap.parse_args()
    binary = ROOT / args.build / "datapipe"
    env = dpcheck.process_env()
    logdir = ROOT / ".stack" / "logs" / time.strftime("run-%Y%m%d-%H%M%S")
    logdir.mkdir(parents=True, exist_ok=True)
    report = logdir / "load.json"
    signal.signal(signal.SIGINT, on_sigint)

    start_lsn = dpcheck.pg_rows(env, "SELECT pg_current_wal_lsn()::text")[0][0]
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
    return verify(env, start_lsn, ledger(report), time.monotonic() - t0) or (0 if complete else 1)


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


def verify(env, start_lsn, led, elapsed):
    mirror = ROOT / ".stack" / "archive-mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    keys = dpcheck.download_archive(env, PREFIX + "/", mirror)
    bad_keys = dpcheck.check_key_layout(keys, PREFIX)
    table = dpcheck.read_archive(mirror, PREFIX)
    rows = table.to_pylist() if table is not None else []
    ok = True
    print(f"\narchive: {len(keys)} objects, {len(rows)} rows under s3://{env['S3_BUCKET']}/{PREFIX}/")
    if bad_keys:
        ok = False
        print(f"  FAIL {len(bad_keys)} keys do not follow the layout, e.g. {bad_keys[0]}")
    offsets = Counter((r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]) for r in rows)
    dups = sum(1 for v in offsets.values() if v > 1)
    print(f"  {'ok  ' if not dups else 'FAIL'} each Kafka record in exactly one row ({dups} duplicated)")
    ok &= dups == 0
    s = lsn_int(start_lsn)
    run_rows = [r for r in rows if r["lsn"] is not None and r["lsn"] >= s]
    got = Counter((r["table_name"], r["operation_type"]) for r in run_rows)
    distinct = len({(r["table_name"], r["lsn"]) for r in run_rows})
    print(f"  this run: {led['total']} changes made, {len(run_rows)} rows archived ({distinct} distinct changes)")
    for t in ("users", "products"):
        for op in ("c", "u", "d"):
            want, have = led[t][op], got.get((t, op), 0)
            flag = "ok  " if want == have else "FAIL"
            ok &= want == have
            print(f"  {flag} {t:9} {op}: made {want:>7}  archived {have:>7}")
    ok &= distinct == len(run_rows)
    for t, pk, cols in (("users", "user_id", ("tier", "last_name")), ("products", "product_id", ("is_active",))):
        state = dpcheck.replay(rows, t, pk)
        src = {str(r[0]): r[1:] for r in dpcheck.pg_rows(env, f"SELECT {pk}, {', '.join(cols)} FROM {t}")}
        same_keys = set(state) == set(src)
        same_vals = same_keys and all(tuple(state[k][c] for c in cols) == src[k] for k in src)
        flag = "ok  " if same_vals else "FAIL"
        ok &= same_vals
        print(f"  {flag} replaying the archive reproduces table {t} ({len(src)} rows)")
    prices_ok = True
    state = dpcheck.replay(rows, "products", "product_id")
    for pid, price in dpcheck.pg_rows(env, "SELECT product_id, price FROM products"):
        a = state.get(str(pid), {}).get("price")
        if price is not None and (a is None or abs(dpcheck.decode_decimal(a, 2) - float(price)) > 1e-9):
            prices_ok = False
    print(f"  {'ok  ' if prices_ok else 'FAIL'} product prices (Debezium decimals) decode to the table's values")
    ok &= prices_ok
    q = ("table_name, operation_type, count(*) AS n FROM {src} "
         "GROUP BY ALL ORDER BY 1, 2")
    print("\nDuckDB over the archive (hive partitioning on):")
    print(f"  SELECT {q.format(src=dpcheck.duckdb_source(PREFIX + '/**/*.parquet'))}")
    for row in dpcheck.duckdb_query(mirror, PREFIX, q):
        print(f"    {row[0]:10} {row[1]}  {row[2]:>8}")
    hours = dpcheck.duckdb_query(mirror, PREFIX, "count(DISTINCT (year, month, day, hour)) FROM {src}")[0][0]
    print(f"  rows span {hours} hour partition(s); local copy in {mirror.relative_to(ROOT)}")
    rate = led["total"] / led["seconds"] if led.get("seconds") else 0
    print(f"\nsummary: {led['total']} changes in {led['seconds']:.0f} s ({rate:.0f}/s), run took {elapsed:.0f} s: "
          + ("every change made is in S3, exactly once" if ok else "MISMATCH, see above"))
    print("the stack is still up: `scripts/stack status`, `make down` to stop it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
