#!/usr/bin/env python3
"""Pipeline benchmark on the local stack: prints figures, asserts nothing.

1. In a fresh database, create two slots at the same point (ours and one
   for pg_recvlogical), then make a backlog of N changes with `datapipe
   load` while nothing reads them.
2. pg_recvlogical drains its slot to /dev/null (--endpos): the ceiling.
3. `datapipe capture` drains ours into Kafka (acks=all, idempotent, lz4):
   events/s until the slot confirms the backlog's end, and peak RSS.
4. `datapipe archive` drains the topics to S3 as snappy Parquet: rows/s
   until every offset is committed, peak RSS, bytes per event in S3.

usage: .venv/bin/python bench/bench_pipeline.py [--changes N] [--build DIR]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import dpcheck  # noqa: E402
from conftest import Pipeline, lsn_int  # noqa: E402


def peak_rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def watch(proc, done, timeout):
    """Poll until done(); return (seconds, peak RSS KiB)."""
    t0 = time.monotonic()
    peak = 0
    while not done():
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        peak = max(peak, peak_rss_kib(proc.pid))
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.05)
    return time.monotonic() - t0, max(peak, peak_rss_kib(proc.pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=200000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--capture-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra capture configuration for the measured run")
    ap.add_argument("--archive-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra archive configuration for the measured run")
    args = ap.parse_args()
    env = dpcheck.process_env()
    binary = ROOT / args.build / "datapipe"
    tmp = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    p = Pipeline(env, binary, tmp)
    try:
        return run(p, args, env, binary, tmp)
    finally:
        p.close()
        dpcheck.pg_rows(env, f"SELECT pg_drop_replication_slot('ref_{p.id}') FROM pg_replication_slots "
                             f"WHERE slot_name = 'ref_{p.id}'")
        shutil.rmtree(tmp, ignore_errors=True)


def run(p, args, env, binary, tmp):
    n = args.changes
    # our slot and publication, created by a capture that we stop at once
    cap = p.start("capture", p.capture_config(**{"datapipe.log.level": "warn"}))
    p.wait_streaming()
    dpcheck.stop(cap)
    p.sql(f"SELECT pg_create_logical_replication_slot('ref_{p.id}', 'pgoutput')", fetch=True)
    dsn = (f"host={env['PGHOST']} port={env['PGPORT']} user={env['PGUSER']} "
           f"password={env['PGPASSWORD']} dbname={p.db}")
    t = time.monotonic()
    subprocess.run([str(binary), "load", "--dsn", dsn, "--changes", str(n), "--rate", "10000000",
                    "--duration", "0", "--seed", "7"], env=env, check=True, capture_output=True)
    load_s = time.monotonic() - t
    end = p.current_lsn()
    wal = lsn_int(end) - lsn_int(p.slot()[1])
    print(f"backlog: {n} changes in {load_s:.1f} s, {wal / 2**20:.1f} MiB of WAL, end LSN {end}")

    recv = shutil.which("pg_recvlogical") or "/usr/lib/postgresql/15/bin/pg_recvlogical"
    t = time.monotonic()
    subprocess.run([recv, "-d", dsn, "--slot", f"ref_{p.id}", "--start", "--endpos", end, "-o",
                    "proto_version=1", "-o", f"publication_names=pub_{p.id}", "-f", "/dev/null",
                    "--no-loop"], env=env, check=True, capture_output=True)
    ref_s = time.monotonic() - t
    print(f"pg_recvlogical: {ref_s:.2f} s to read the backlog = {n / ref_s:,.0f} changes/s (to /dev/null)")

    brokers = [int((ROOT / ".stack" / f"kafka-{i}.pid").read_text()) for i in (1, 2, 3)]
    kafka_cpu0 = sum(cpu_seconds(b) for b in brokers)
    extra = dict(kv.split("=", 1) for kv in args.capture_set)
    cap = p.start("capture", p.capture_config(**{"datapipe.log.level": "warn", **extra}))
    secs, rss = watch(cap, lambda: p.slot() and lsn_int(p.slot()[1]) >= lsn_int(end), 1800)
    cpu = cpu_seconds(cap.pid)
    kafka_cpu = sum(cpu_seconds(b) for b in brokers) - kafka_cpu0
    dpcheck.stop(cap)
    print(f"datapipe capture: {secs:.2f} s to confirm the backlog in Kafka = {n / secs:,.0f} changes/s "
          f"({n / secs / (n / ref_s) * 100:.0f} % of pg_recvlogical), peak RSS {rss / 1024:.1f} MiB, "
          f"CPU {cpu:.2f} s; the 3 Kafka brokers used {kafka_cpu:.2f} CPU-s meanwhile")

    records = len(dpcheck.read_topics(env, list(p.topics.values()), timeout=600))
    arc = p.start("archive", p.archive_config(**{"flush.size": "100000", "rotate.interval.ms": "600000",
                                                 "datapipe.log.level": "warn",
                                                 **dict(kv.split("=", 1) for kv in args.archive_set)}))
    time.sleep(0.5)
    arc.send_signal(signal.SIGUSR1)
    t = time.monotonic()
    peak = 0
    cpu = 0.0
    while arc.poll() is None and time.monotonic() - t < 1800:
        peak = max(peak, peak_rss_kib(arc.pid))
        cpu = max(cpu, cpu_seconds(arc.pid))
        time.sleep(0.05)
    secs = time.monotonic() - t + 0.5
    assert arc.returncode == 0, p.log("archive")
    keys = dpcheck.list_keys(env, p.dir + "/")
    s3 = dpcheck.s3_client(env)
    size = sum(s3.head_object(Bucket=env["S3_BUCKET"], Key=k)["ContentLength"] for k in keys)
    rows = n  # every change is one row; tombstones are not rows
    print(f"datapipe archive: {secs:.2f} s for {records} records ({rows} rows, {records - rows} tombstones) "
          f"= {records / secs:,.0f} records/s, peak RSS {peak / 1024:.1f} MiB, CPU {cpu:.2f} s")
    print(f"archive size: {len(keys)} objects, {size / 2**20:.2f} MiB = {size / rows:.1f} bytes per event "
          f"(snappy Parquet, before/after as JSON text)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
