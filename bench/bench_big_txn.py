#!/usr/bin/env python3
"""One huge transaction through capture: peak RSS must follow the
configured in-flight bound (max.queue.size / max.queue.size.in.bytes), not
the transaction's size. Prints figures; asserts nothing.

usage: .venv/bin/python bench/bench_big_txn.py [--rows N] [--build DIR] [--set KEY=VALUE]...
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))
import dpcheck  # noqa: E402
from bench_pipeline import cpu_seconds, watch  # noqa: E402
from conftest import Pipeline, lsn_int  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="another capture setting, e.g. datapipe.exactly.once=false")
    args = ap.parse_args()
    env = dpcheck.process_env()
    tmp = Path(tempfile.mkdtemp(prefix="dp-bigtxn-"))
    p = Pipeline(env, ROOT / args.build / "datapipe", tmp)
    try:
        cfg = p.capture_config(**{"snapshot.mode": "no_data", "max.queue.size": "4096",
                                  "max.queue.size.in.bytes": "8388608", "datapipe.log.level": "warn",
                                  **dict(kv.split("=", 1) for kv in args.set)})
        cap = p.start("capture", cfg)
        p.wait_streaming()
        t = time.monotonic()
        p.sql("INSERT INTO products (product_id, name, category, price) SELECT gen_random_uuid(), "
              f"'P' || g, 'bulk', g % 1000 FROM generate_series(1, {args.rows}) g")
        end = p.current_lsn()
        print(f"one transaction of {args.rows} rows committed in {time.monotonic() - t:.1f} s")
        secs, rss = watch(cap, lambda: lsn_int(p.slot()[1]) >= lsn_int(end), 3600)
        print(f"capture: {secs:.1f} s until Kafka acknowledged it all ({args.rows / secs:,.0f} events/s), "
              f"peak RSS {rss / 1024:.1f} MiB, CPU {cpu_seconds(cap.pid):.1f} s "
              f"(bounds: max.queue.size 4096 events, max.queue.size.in.bytes 8 MiB; {' '.join(args.set)})")
        dpcheck.stop(cap)
    finally:
        p.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
