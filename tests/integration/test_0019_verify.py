"""`datapipe verify` on a real archive: an isolated capture + archive pair
archives a workload of inserts, updates and deletes (so tombstones and
transaction markers leave offsets that no object holds); verify must call
that archive complete, then name exactly the gap an object deleted with
boto3 leaves, the overlap a copied object makes, and a foreign object.

Expected values come from boto3 and pyarrow (neighbouring footers, the
deleted object's kafka_offset column), not from datapipe."""
import json
import re
import subprocess
import time
import uuid
from collections import defaultdict

import dpcheck


def workload(p, rounds=4):
    """Inserts, updates and deletes in small transactions, with pauses so
    that Kafka transactions (and their markers) fall between them."""
    users = []
    for r in range(rounds):
        new = [str(uuid.uuid4()) for _ in range(40)]
        users += new
        p.sql(";".join(f"INSERT INTO users (user_id, email, first_name) VALUES ('{u}', 'u-{u}@x.org', 'r{r}')"
                       for u in new))
        p.sql(";".join(f"INSERT INTO products (product_id, name, price) VALUES ('{uuid.uuid4()}', 'p{r}-{i}', {i}.5)"
                       for i in range(15)))
        time.sleep(0.3)
        p.sql(";".join(f"UPDATE users SET tier = 'gold' WHERE user_id = '{u}'" for u in users[-40:-30]))
        time.sleep(0.3)
        for u in users[-5:]:
            p.sql(f"DELETE FROM users WHERE user_id = '{u}'")  # each a delete and a tombstone
        time.sleep(0.3)


def verify(p, cfg, *extra, json_out=False):
    cmd = [str(p.binary), "verify", "--config", str(cfg), *extra] + (["--json"] if json_out else [])
    r = subprocess.run(cmd, env=p.env, capture_output=True, text=True, timeout=300)
    doc = None
    if json_out:
        doc = json.loads(r.stdout)  # one document, whatever the outcome
    return r, doc


def footer(s3, bucket, key):
    import pyarrow as pa
    import pyarrow.parquet as pq
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    f = pq.ParquetFile(pa.BufferReader(body))
    kv = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
    offsets = f.read(columns=["kafka_offset"]).column("kafka_offset").to_pylist()
    return body, kv, offsets


def committed(env, group, topics):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dpcheck.kafka_conf(env, **{"group.id": group,
                  "enable.auto.commit": False}))
    try:
        parts = [TopicPartition(t, i) for t in topics for i in range(6)]
        return {(tp.topic, tp.partition): tp.offset for tp in c.committed(parts, timeout=30)}
    finally:
        c.close()


def test_verify_finds_a_deleted_object_a_copy_and_a_stranger(pipeline):
    p = pipeline
    s3 = dpcheck.s3_client(p.env)
    bucket = p.env["S3_BUCKET"]
    cfg = p.archive_config()
    try:
        p.start_capture(p.capture_config())
        p.wait_streaming()
        p.start("archive", cfg)
        dpcheck.wait_for(lambda: "archiving" in p.log("archive"), 60, what="archive to start")
        workload(p)
        p.wait_confirmed(p.current_lsn())
        dpcheck.stop(p.procs["capture"])  # the topics stay as they are from here on
        p.drain_archive()
        group = f"connect-arc-{p.id}"
        before = committed(p.env, group, p.topics.values())

        # ---- complete ----
        r, _ = verify(p, cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "complete" in r.stdout and "INCOMPLETE" not in r.stdout
        r, doc = verify(p, cfg, json_out=True)
        assert r.returncode == 0, r.stdout + r.stderr
        keys = dpcheck.list_keys(p.env, p.dir + "/")
        assert doc["complete"] is True and doc["error"] is None
        assert doc["objects"]["listed"] == len(keys) == doc["objects"]["archived"]
        assert doc["counts"] == {"gaps": 0, "missing_records": 0, "overlaps": 0, "foreign": 0,
                                 "unverified": 0}
        assert len(doc["partitions"]) == 12
        for part in doc["partitions"]:
            assert part["reaches_committed"] is True, part
            assert part["committed_offset"] == before[(part["topic"], part["partition"])]
            assert part["offsets_behind"] >= 0
        # verify reads the group's offsets, it never moves them
        assert committed(p.env, group, p.topics.values()) == before

        # ---- a deleted object: the gap, with exactly its records ----
        by_part = defaultdict(list)
        for k in keys:
            m = dpcheck.KEY_RE.match(k)
            assert m, k
            by_part[(m["topic"], int(m["partition"]))].append((int(m["offset"]), k))
        (topic, part), objs = max(by_part.items(), key=lambda kv: len(kv[1]))
        assert len(objs) >= 3, f"too few objects per partition to delete a middle one: {by_part}"
        objs.sort()
        prev_key, victim, next_key = objs[0][1], objs[1][1], objs[2][1]
        _, prev_kv, _ = footer(s3, bucket, prev_key)
        body, victim_kv, victim_offsets = footer(s3, bucket, victim)
        _, next_kv, _ = footer(s3, bucket, next_key)
        gap_from = int(prev_kv["datapipe.kafka.end.offset"]) + 1
        gap_to = int(next_kv["datapipe.kafka.start.offset"]) - 1
        s3.delete_object(Bucket=bucket, Key=victim)
        try:
            r, _ = verify(p, cfg)
            assert r.returncode == 1, r.stdout + r.stderr
            line = next((ln for ln in r.stdout.splitlines() if ln.startswith("gap")), "")
            assert f'"{topic}" [{part}] offsets {gap_from}..{gap_to}' in line, r.stdout
            assert f"{len(victim_offsets)} records missing" in line, line
            assert "INCOMPLETE" in r.stdout
            r, doc = verify(p, cfg, json_out=True)
            assert r.returncode == 1
            assert doc["complete"] is False
            assert doc["gaps"] == [{
                "topic": topic, "partition": part, "kind": "between", "from": gap_from, "to": gap_to,
                "missing_records": len(victim_offsets), "first_missing": min(victim_offsets),
                "last_missing": max(victim_offsets), "after_object": prev_key, "before_object": next_key}]
            assert doc["counts"]["gaps"] == 1 and doc["counts"]["overlaps"] == 0
        finally:
            s3.put_object(Bucket=bucket, Key=victim, Body=body)
        r, _ = verify(p, cfg)
        assert r.returncode == 0, r.stdout + r.stderr

        # ---- a copy under a second key: the overlap ----
        m = dpcheck.KEY_RE.match(victim)
        hour = (int(m["hour"]) + 1) % 24
        copy = re.sub(r"/hour=\d{2}/", f"/hour={hour:02d}/", victim)
        assert copy != victim
        s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": victim})
        start, end = int(victim_kv["datapipe.kafka.start.offset"]), int(victim_kv["datapipe.kafka.end.offset"])
        try:
            r, _ = verify(p, cfg)
            assert r.returncode == 1, r.stdout + r.stderr
            line = next((ln for ln in r.stdout.splitlines() if ln.startswith("overlap")), "")
            assert f'"{topic}" [{part}] offsets {start}..{end}' in line, r.stdout
            assert victim in line and copy in line, line
            r, doc = verify(p, cfg, json_out=True)
            assert r.returncode == 1 and doc["complete"] is False
            assert len(doc["overlaps"]) == 1
            ov = doc["overlaps"][0]
            assert (ov["topic"], ov["partition"], ov["from"], ov["to"]) == (topic, part, start, end)
            assert sorted(ov["objects"]) == sorted([victim, copy])
            assert doc["counts"]["gaps"] == 0 and doc["counts"]["foreign"] == 0
        finally:
            s3.delete_object(Bucket=bucket, Key=copy)

        # ---- an object that is not the archive's ----
        stranger = f"{p.dir}/year=2026/month=01/day=01/hour=00/notes.txt"
        s3.put_object(Bucket=bucket, Key=stranger, Body=b"not parquet")
        try:
            r, doc = verify(p, cfg, json_out=True)
            assert r.returncode == 1
            assert [f["object"] for f in doc["foreign"]] == [stranger]
            assert doc["counts"]["foreign"] == 1 and doc["objects"]["foreign"] == 1
        finally:
            s3.delete_object(Bucket=bucket, Key=stranger)
        r, _ = verify(p, cfg)
        assert r.returncode == 0, r.stdout + r.stderr

        # ---- servers that do not answer are named; exit 3 ----
        port = dpcheck.free_port()
        r, doc = verify(p, cfg, "--set", f"store.url=http://127.0.0.1:{port}", json_out=True)
        assert r.returncode == 3, r.stdout + r.stderr
        assert f"127.0.0.1:{port}" in doc["error"] and doc["complete"] is None
        t0 = time.monotonic()
        r, _ = verify(p, cfg, "--set", f"kafka.bootstrap.servers=127.0.0.1:{port}")
        assert r.returncode == 3, r.stdout + r.stderr
        assert f'kafka at "127.0.0.1:{port}"' in r.stderr
        assert time.monotonic() - t0 < 60
        # configuration errors: exit 2, the key named, no secret printed
        r, _ = verify(p, cfg, "--set", "no.such.key=1")
        assert r.returncode == 2 and '"no.such.key"' in r.stderr
        r, _ = verify(p, cfg, "--set", "aws.secret.access.key=wrong-secret-x")
        assert r.returncode == 2, r.stdout + r.stderr
        assert "wrong-secret-x" not in r.stdout + r.stderr
        assert p.env["AWS_SECRET_ACCESS_KEY"] not in r.stdout + r.stderr
    finally:
        for k in dpcheck.list_keys(p.env, p.dir + "/"):
            s3.delete_object(Bucket=bucket, Key=k)


def test_verify_on_a_running_archive_reports_no_false_gap(pipeline):
    """verify while changes stream and the archive uploads: offsets are
    committed only after their object is in S3, and verify reads them
    before listing, so whatever moment it looks it must find the archive
    complete (what lies above the committed offsets is in flight, listed as
    unverified). Once drained, nothing is left unverified."""
    p = pipeline
    s3 = dpcheck.s3_client(p.env)
    cfg = p.archive_config(**{"rotate.interval.ms": "1000"})
    try:
        p.start_capture(p.capture_config())
        p.wait_streaming()
        p.start("archive", cfg)
        dpcheck.wait_for(lambda: "archiving" in p.log("archive"), 60, what="archive to start")
        load = p.start_load(p.tmp / "ledger.json", 300, 25)
        runs = []
        while load.poll() is None:
            r, doc = verify(p, cfg, json_out=True)
            assert r.returncode == 0, (r.stderr, json.dumps(doc)[:3000])
            runs.append(doc)
        assert load.wait() == 0, p.tmp.joinpath("load.log").read_text()[-2000:]
        assert len(runs) >= 5, f"only {len(runs)} runs of verify during the load"
        assert runs[-1]["objects"]["archived"] > runs[0]["objects"]["archived"]
        p.wait_confirmed(p.current_lsn())
        dpcheck.stop(p.procs["capture"])
        p.drain_archive()
        r, doc = verify(p, cfg, json_out=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert doc["counts"] == {"gaps": 0, "missing_records": 0, "overlaps": 0, "foreign": 0,
                                 "unverified": 0}
        assert all(part["reaches_committed"] for part in doc["partitions"])
    finally:
        for k in dpcheck.list_keys(p.env, p.dir + "/"):
            s3.delete_object(Bucket=p.env["S3_BUCKET"], Key=k)


def test_verify_rows_against_postgres(pipeline):
    """--against-postgres: rows that exist before capture starts (the
    snapshot), then inserts, updates and deletes, all archived: the
    archive's latest state per key is every table. Then changes made while
    capture is stopped, so that the archive cannot have them: verify must
    name exactly those keys (from our own SQL, not from datapipe) as
    missing, extra and differing."""
    p = pipeline
    s3 = dpcheck.s3_client(p.env)
    bucket = p.env["S3_BUCKET"]
    cfg = p.archive_config()
    early = [str(uuid.uuid4()) for _ in range(30)]
    p.sql(";".join(f"INSERT INTO users (user_id, email, first_name) VALUES ('{u}', 'e-{u}@x.org', 'early')"
                   for u in early))
    capcfg = p.capture_config()
    try:
        p.start_capture(capcfg)
        p.wait_streaming()
        p.start("archive", cfg)
        dpcheck.wait_for(lambda: "archiving" in p.log("archive"), 60, what="archive to start")
        workload(p, rounds=2)
        p.sql(f"UPDATE users SET last_name = 'late \"q\" \u00e9' WHERE user_id = '{early[0]}'")
        p.wait_confirmed(p.current_lsn())
        dpcheck.stop(p.procs["capture"])
        p.drain_archive()

        r, doc = verify(p, cfg, "--against-postgres", str(capcfg), json_out=True)
        assert r.returncode == 0, r.stdout + r.stderr
        rows = doc["rows"]
        assert rows["complete"] is True and doc["complete"] is True, rows
        n_users = p.sql("SELECT count(*) FROM users", fetch=True)[0][0]
        n_products = p.sql("SELECT count(*) FROM products", fetch=True)[0][0]
        by_table = {t["table"]: t for t in rows["tables"]}
        assert by_table["public.users"]["live"] == by_table["public.users"]["archived"] == n_users
        assert by_table["public.products"]["live"] == by_table["public.products"]["archived"] == n_products
        assert rows["findings"] == [] and rows["unreadable_objects"] == 0
        r, _ = verify(p, cfg, "--against-postgres", str(capcfg))
        assert r.returncode == 0 and "the archive reproduces every table" in r.stdout, r.stdout

        # ---- changes the archive cannot have: capture is stopped ----
        gone_product = p.sql("SELECT product_id FROM products ORDER BY product_id LIMIT 1", fetch=True)[0][0]
        new_user = str(uuid.uuid4())
        p.sql(f"UPDATE users SET tier = 'platinum' WHERE user_id = '{early[1]}'")
        p.sql(f"DELETE FROM products WHERE product_id = '{gone_product}'")
        p.sql(f"INSERT INTO users (user_id, email) VALUES ('{new_user}', 'n-{new_user}@x.org')")
        r, doc = verify(p, cfg, "--against-postgres", str(capcfg), json_out=True)
        assert r.returncode == 1, r.stdout + r.stderr
        assert doc["complete"] is False and doc["counts"]["gaps"] == 0  # the offsets are fine
        found = sorted((f["kind"], f["table"], f["key"]) for f in doc["rows"]["findings"])
        assert found == sorted([("differs", "public.users", f'user_id="{early[1]}"'),
                                ("extra", "public.products", f'product_id="{gone_product}"'),
                                ("missing", "public.users", f'user_id="{new_user}"')]), found
        r, _ = verify(p, cfg, "--against-postgres", str(capcfg))
        assert r.returncode == 1 and "does NOT reproduce" in r.stdout, r.stdout
        assert f'differs public.users user_id="{early[1]}"' in " ".join(r.stdout.split()), r.stdout

        # ---- configuration errors name the key; a wrong password is not printed ----
        bad = p.tmp / "bad-capture.json"
        c = json.loads(capcfg.read_text())
        c["config"]["database.password"] = "not-the-password-x"
        bad.write_text(json.dumps(c))
        r, doc = verify(p, cfg, "--against-postgres", str(bad), json_out=True)
        assert r.returncode == 3, r.stdout + r.stderr
        assert "not-the-password-x" not in r.stdout + r.stderr
        c["config"]["transforms"] = "unwrap"
        c["config"]["transforms.unwrap.type"] = "io.debezium.transforms.ExtractNewRecordState"
        bad.write_text(json.dumps(c))
        r, _ = verify(p, cfg, "--against-postgres", str(bad))
        assert r.returncode == 2 and '"transforms.unwrap.type"' in r.stderr, r.stderr
    finally:
        for k in dpcheck.list_keys(p.env, p.dir + "/"):
            s3.delete_object(Bucket=bucket, Key=k)
