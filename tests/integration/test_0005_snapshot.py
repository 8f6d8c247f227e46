"""Snapshots: tables read inside the slot's exported snapshot (op r), then
streaming from the slot's consistent point, with no gap and no overlap.
Read back with confluent-kafka; the source is the judge of the state."""
import json
import threading
import time
import uuid

import pytest

import dpcheck


def consume_all(env, topics, group):
    """Every committed record of topics (group: unused, kept for callers)."""
    return dpcheck.read_topics(env, list(topics))


def fill(p, users, products):
    p.sql("INSERT INTO users (user_id, email, first_name) SELECT gen_random_uuid(), "
          f"'s' || g || '@example.com', 'N' || g FROM generate_series(1, {users}) g")
    p.sql("INSERT INTO products (product_id, name, price) SELECT gen_random_uuid(), 'P' || g, g / 100.0 "
          f"FROM generate_series(1, {products}) g")


def test_snapshot_then_stream_without_gap_or_overlap(pipeline):
    p = pipeline
    fill(p, 20000, 7)
    ids = [r[0] for r in p.sql("SELECT user_id::text FROM users ORDER BY random() LIMIT 300", fetch=True)]
    stop = threading.Event()
    made = {"u": 0, "c": 0}

    def writer():
        # changes racing the snapshot: updates of existing rows, new rows
        i = 0
        while not stop.is_set() and i < len(ids):
            p.sql(f"UPDATE users SET tier = 'gold{i}' WHERE user_id = '{ids[i]}'")
            p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'race{i}@example.com')")
            made["u"] += 1
            made["c"] += 1
            i += 1
            time.sleep(0.005)

    t = threading.Thread(target=writer)
    t.start()
    p.start("capture", p.capture_config(**{"snapshot.mode": "initial", "snapshot.fetch.size": "1000"}))
    time.sleep(3)
    stop.set()
    t.join()
    p.wait_streaming()
    p.wait_confirmed(p.current_lsn(), timeout=120)
    log = p.log("capture")
    assert "snapshot done" in log, log
    msgs = [m for m in consume_all(p.env, p.topics.values(), f"snap-{p.id}") if m.value() is not None]
    events = [(m, json.loads(m.value())["payload"]) for m in msgs]
    reads = [e for m, e in events if e["op"] == "r"]
    # every row present at the snapshot is read once; markers as Debezium writes them
    snap_users = [e for e in reads if e["source"]["table"] == "users"]
    snap_products = [e for e in reads if e["source"]["table"] == "products"]
    assert len(snap_products) == 7
    assert 20000 <= len(snap_users) <= 20000 + made["c"]
    markers = [e["source"]["snapshot"] for e in reads]
    assert markers.count("first") == 1 and markers.count("last") == 1
    assert markers.count("first_in_data_collection") == 1  # the second table's first row
    assert markers.count("last_in_data_collection") == 1   # the first table's last row
    assert all(e["before"] is None and e["after"] for e in reads)
    assert all(e["source"]["snapshot"] == "false" for m, e in events if e["op"] != "r")
    # no overlap: a key is read by the snapshot or created by the stream, not both
    key_ops = {}
    for m, e in sorted(events, key=lambda me: (me[0].topic(), me[0].partition(), me[0].offset())):
        key_ops.setdefault((m.topic(), m.key()), []).append(e["op"])
    both = [k for k, ops in key_ops.items() if "r" in ops and "c" in ops]
    assert not both, f"{len(both)} keys both snapshotted and created"
    # no gap: replaying per key in offset order gives the table as it is now
    state = {}
    for m, e in sorted(events, key=lambda me: (me[0].topic(), me[0].partition(), me[0].offset())):
        if e["source"]["table"] != "users":
            continue
        if e["op"] in ("r", "c", "u"):
            state[e["after"]["user_id"]] = e["after"]["tier"]
        elif e["op"] == "d":
            state.pop(e["before"]["user_id"], None)
    table = {r[0]: r[1] for r in p.sql("SELECT user_id::text, tier FROM users", fetch=True)}
    assert state == table

    # a restart resumes the slot: no second snapshot
    dpcheck.stop(p.procs["capture"])
    p.start("capture", p.capture_config(**{"snapshot.mode": "initial"}))
    p.wait_streaming()
    p.sql(f"INSERT INTO products (product_id, name) VALUES ('{uuid.uuid4()}', 'after-restart')")
    p.wait_confirmed(p.current_lsn())
    again = [json.loads(m.value())["payload"]["op"] for m in consume_all(p.env, p.topics.values(), f"snap2-{p.id}")
             if m.value() is not None]
    assert again.count("r") == len(reads)
    assert "snapshot" not in p.log("capture").split("resuming replication slot")[-1]


def test_initial_only_reads_and_stops(pipeline):
    p = pipeline
    fill(p, 50, 3)
    proc = p.start("capture", p.capture_config(**{"snapshot.mode": "initial_only"}))
    assert proc.wait(timeout=120) == 0, p.log("capture")
    ops = [json.loads(m.value())["payload"]["op"] for m in consume_all(p.env, p.topics.values(), f"io-{p.id}")]
    assert ops == ["r"] * 53


def test_no_data_skips_the_snapshot(pipeline):
    p = pipeline
    fill(p, 10, 1)
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data"}))
    p.wait_streaming()
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'new@example.com')")
    p.wait_confirmed(p.current_lsn())
    ops = [json.loads(m.value())["payload"]["op"] for m in consume_all(p.env, p.topics.values(), f"nd-{p.id}")]
    assert ops == ["c"]


def stored_snapshot_mark(p, name):
    """The snapshot mark of capture name in its stored position (the offset
    topic, read_committed): True, False, or None with no position yet."""
    key = json.dumps([name, {"server": p.prefix}], separators=(",", ":")).encode()
    last = None
    for m in dpcheck.read_topics(p.env, ["datapipe-offsets"], timeout=60):
        if m.key() == key:
            last = m.value()
    return None if last is None else json.loads(last).get("snapshot", False)


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly-once", "at-least-once"])
def test_kill_during_snapshot_takes_it_again(pipeline, exactly_once):
    """kill -9 in the middle of the snapshot (while /health says 200 with
    its progress): the next start must notice
    (the mark in the stored position), drop the half-used slot and read
    every table again, so no row is lost. The capture user holds only
    REPLICATION and SELECT on the two tables, as the seed's debezium user."""
    import secrets
    import signal
    p = pipeline
    fill(p, 60000, 0)
    user, password = f"cap_{p.id}", secrets.token_hex(12)
    p.sql(f"CREATE ROLE {user} LOGIN REPLICATION PASSWORD '{password}'")
    p.sql(f"GRANT SELECT ON users, products TO {user}")
    p.sql(f"CREATE PUBLICATION pub_{p.id} FOR TABLE users, products")  # the admin's one-time step
    p.env["CAP_PASSWORD"] = password
    port = dpcheck.free_port()
    cfg = p.capture_config(**{"snapshot.mode": "initial", "snapshot.fetch.size": "200",
                              "datapipe.metrics.port": str(port),
                              "max.queue.size": "500", "database.user": user,
                              "database.password": "${env:CAP_PASSWORD}",
                              "publication.autocreate.mode": "disabled",
                              "datapipe.exactly.once": str(exactly_once).lower()})
    try:
        proc = p.start("capture", cfg)
        # "snapshot <name> at <lsn>: N tables" is logged when reading begins
        dpcheck.wait_for(lambda: " tables" in p.log("capture") or proc.poll() is not None, 60,
                         interval=0.05, what="snapshot to start")
        # a long snapshot is healthy and says how far it got (a liveness
        # probe must not kill it as "starting")
        seen = []
        dpcheck.wait_for(lambda: seen.append(dpcheck.http_get(port, "/health")) or
                         "snapshot in progress" in (seen[-1][1] or ""), 30, interval=0.05,
                         what="/health to report the snapshot")
        assert seen[-1][0] == 200, seen[-1]
        time.sleep(0.3)
        assert proc.poll() is None and "snapshot done" not in p.log("capture"), \
            "snapshot too quick to interrupt, or capture failed:\n" + p.log("capture")[-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert stored_snapshot_mark(p, f"cap-{p.id}") is True
        p.start("capture", cfg)
        p.wait_streaming()
        assert "did not finish last time" in p.log("capture")
        dpcheck.wait_for(lambda: "snapshot done" in p.log("capture"), 180, what="second snapshot")
        p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'after@example.com')")
        p.wait_confirmed(p.current_lsn(), timeout=120)
        msgs = [json.loads(m.value())["payload"]
                for m in consume_all(p.env, [p.topics["users"]], f"k-{p.id}") if m.value() is not None]
        read_ids = {e["after"]["user_id"] for e in msgs if e["op"] == "r"}
        table = {r[0] for r in p.sql("SELECT user_id::text FROM users", fetch=True)}
        assert len(read_ids) == 60000 and read_ids <= table  # every row, at least once
        assert [e["op"] for e in msgs].count("c") == 1
        assert stored_snapshot_mark(p, f"cap-{p.id}") is False
    finally:
        for proc in p.procs.values():
            dpcheck.stop(proc, timeout=30)
        p.procs.clear()
        p.sql(f"DROP PUBLICATION IF EXISTS pub_{p.id}")
        p.sql(f"REVOKE ALL ON users, products FROM {user}")
        p.sql(f"DROP ROLE IF EXISTS {user}")
