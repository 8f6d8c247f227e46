"""kill -9 of capture at random moments under load loses nothing, and with
datapipe.exactly.once (the default) duplicates nothing.

The load writes a ledger of every change it made; an independent Kafka
consumer (confluent-kafka, read_committed) counts the changes that reached
the topics. Exactly-once: each change once, tombstones included. With
datapipe.exactly.once=false (at-least-once, as Debezium) duplicates after
a kill are counted and reported, never a missing change."""
import json
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

import dpcheck

KILLS = 20


def start_capture(p, cfg):
    """Start capture; a slot still held by the killed process's walsender
    for a moment makes it exit at once, so try again (bounded)."""
    for _ in range(50):
        proc = p.start("capture", cfg)
        time.sleep(0.4)
        if proc.poll() is None:
            return proc
        time.sleep(0.2)
    raise AssertionError("capture would not start:\n" + p.log("capture")[-3000:])


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly-once", "at-least-once"])
def test_kill9_loop_loses_no_change(pipeline, exactly_once):
    p = pipeline
    rnd = random.Random(20261124)
    cfg = p.capture_config(**{"snapshot.mode": "no_data",
                              "datapipe.exactly.once": str(exactly_once).lower()})
    proc = start_capture(p, cfg)
    p.wait_streaming()
    dsn = (f"host={p.env['PGHOST']} port={p.env['PGPORT']} user={p.env['PGUSER']} "
           f"password={p.env['PGPASSWORD']} dbname={p.db}")
    ledger = p.tmp / "ledger.json"
    load = subprocess.Popen([str(p.binary), "load", "--dsn", dsn, "--rate", "2000", "--duration", "60",
                             "--report", str(ledger), "--seed", "11"], env=p.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kills = 0
    while kills < KILLS and load.poll() is None:
        time.sleep(rnd.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = start_capture(p, cfg)
    assert load.wait(timeout=120) == 0
    assert kills == KILLS
    p.wait_streaming()
    p.wait_confirmed(p.current_lsn(), timeout=300)
    made = json.loads(ledger.read_text())
    msgs = dpcheck.read_topics(p.env, list(p.topics.values()), timeout=300)
    events = [json.loads(m.value())["payload"] for m in msgs if m.value() is not None]
    distinct = {(e["source"]["table"], e["source"]["lsn"], e["op"]) for e in events}
    by_op = Counter((t, op) for t, _, op in distinct)
    for t in ("users", "products"):
        for op in ("c", "u", "d"):
            assert by_op[(t, op)] == made[t][op], (t, op, by_op[(t, op)], made[t][op])
    dups = len(events) - len(distinct)
    tombstones = sum(1 for m in msgs if m.value() is None)
    print(f"{kills} kills, {made['total']} changes made, {len(distinct)} distinct events, "
          f"{dups} duplicates, {tombstones} tombstones "
          f"({'exactly-once' if exactly_once else 'at-least-once'})")
    if exactly_once:
        assert dups == 0, f"{dups} duplicate events"
        assert tombstones == made["users"]["d"] + made["products"]["d"], "tombstones sent twice or lost"
    # and the stream still reproduces the tables
    state = {}
    for e in sorted(events, key=lambda e: e["source"]["lsn"]):
        if e["source"]["table"] != "users":
            continue
        if e["op"] in ("c", "u"):
            state[e["after"]["user_id"]] = e["after"]["tier"]
        elif e["op"] == "d":
            state.pop(e["before"]["user_id"], None)
    assert state == {r[0]: r[1] for r in p.sql("SELECT user_id::text, tier FROM users", fetch=True)}
