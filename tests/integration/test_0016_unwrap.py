"""Debezium's ExtractNewRecordState ("unwrap") transform: real Debezium
3.0.8 and datapipe capture run the parity workload (test_0003) with the
transform chained before the RegexRouter ("transforms": "unwrap,route") on
both sides, and must give the same records: same keys, values, schemas,
partitions, order, tombstones, bytes.

Two runs: the seed's own settings (drop.tombstones=false with the default
delete.handling.mode=drop: rows for c/u, a tombstone for each delete, no
delete or truncate record), and delete.tombstone.handling.mode=rewrite with
add.fields and add.headers (deletes become rows with __deleted "true",
added fields and headers, no tombstones).

Unwrapped records carry no `source`: key-less ones (the producer picks
their partition) are paired by __lsn where they have it, else by their
bytes, so a missing or extra record still shows. Then configuration: the
seed's transform keys are accepted, bad options are named."""
import json
import subprocess

import pytest

import dpcheck
from test_0003_debezium_parity import PARTITIONS, TABLES, byte_difference, diff, run_parity, tables_of
from test_0005_snapshot import consume_all

UNWRAP = "io.debezium.transforms.ExtractNewRecordState"
SEED = {"transforms": "unwrap,route", "transforms.unwrap.type": UNWRAP,
        "transforms.unwrap.drop.tombstones": "false"}
REWRITE = {"transforms": "unwrap,route", "transforms.unwrap.type": UNWRAP,
           "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
           "transforms.unwrap.add.fields": "op,table,lsn,source.ts_ms",
           "transforms.unwrap.add.headers": "op,lsn,db"}
HEADERS = ("__op", "__lsn", "__db")


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    yield from run_parity(tmp_path_factory, snapshot=False, options=SEED)


@pytest.fixture(scope="module")
def rewrite_run(tmp_path_factory):
    yield from run_parity(tmp_path_factory, snapshot=False, options=REWRITE)


def pair(dbz, dp):
    """Keyed records partition by partition in offset order; key-less ones
    (partition chosen by the producer) by __lsn, then bytes, tombstones by
    number. Returns (pairs, problems)."""
    problems, pairs = [], []
    for part in range(PARTITIONS):
        a = [r for r in dbz if r.key_raw is not None and r.partition == part]
        b = [r for r in dp if r.key_raw is not None and r.partition == part]
        if len(a) != len(b):
            problems.append(f"partition {part}: debezium {[r.label() for r in a]}, datapipe {[r.label() for r in b]}")
        pairs += list(zip(a, b))

    def order(r):
        return (r.lsn, r.value_raw or b"")
    a = sorted((r for r in dbz if r.key_raw is None), key=order)
    b = sorted((r for r in dp if r.key_raw is None), key=order)
    if len(a) != len(b):
        problems.append(f"key-less: debezium {[r.label() for r in a]}, datapipe {[r.label() for r in b]}")
    pairs += list(zip(a, b))
    return pairs, problems


def compare(result):
    """Every difference between Debezium's and datapipe's records of every
    table: parsed (as paths), then byte for byte."""
    problems = []
    for table, recs in tables_of(result):
        pairs, probs = pair(recs["dbz"], recs["dp"])
        problems += [f"{table}: {x}" for x in probs]
        for a, b in pairs:
            where = f"{table} {a.label()} vs {b.label()}"
            if (a.value is None) != (b.value is None):
                problems.append(f"{where}: tombstone on one side only")
            problems += [f"{where}: {d}" for d in diff(a.key, b.key, "key")]
            problems += [f"{where}: {d}" for d in diff(a.value, b.value, "value")]
            if a.key_raw != b.key_raw:
                problems.append(f"{where} key bytes:\n  debezium {a.key_raw!r}\n  datapipe {b.key_raw!r}")
            if a.value_raw != b.value_raw:
                problems.append(f"{where} value {byte_difference(a.value_raw or b'', b.value_raw or b'')}")
    return problems


def rows(recs):
    """The table's records in order of their key's partition and offset:
    payload dicts, None for tombstones."""
    return [r.value["payload"] if r.value else None for r in sorted(recs, key=lambda r: (r.partition, r.offset))]


def test_seed_settings_same_records_and_bytes(seed_run):
    problems = compare(seed_run)
    assert not problems, "datapipe's unwrapped records differ from Debezium's:\n" + "\n".join(problems[:100])


def test_seed_settings_rows_tombstones_no_deletes(seed_run):
    """What the seed's settings do, on both sides: the bare row for c and u
    (no envelope), the delete itself dropped, its tombstone kept, the
    truncate dropped."""
    for side in ("dbz", "dp"):
        users = rows(seed_run["users"][side])
        assert [u is None for u in users] == [False, False, True], (side, users)
        assert users[0]["tier"] == "bronze" and users[1]["tier"] == "gold" and "op" not in users[1]
        value = next(r.value for r in seed_run["users"][side] if r.value)
        assert value["schema"]["name"].endswith(".public.users.Value")
        assert value["schema"]["optional"] is False
        # nopk: two inserts, the truncate gone
        assert sorted(json.dumps(r, sort_keys=True) for r in rows(seed_run["nopk"][side])) == \
            ['{"a": 1, "b": "a"}', '{"a": 2, "b": null}']
        # nopk_full: 2 inserts, 1 update, the delete's key-less tombstone
        assert sum(r is None for r in rows(seed_run["nopk_full"][side])) == 1
        assert len(seed_run["nopk_full"][side]) == 4


def headers_of(env, topic):
    """(partition, offset) -> the record's headers named in HEADERS."""
    return {(m.partition(), m.offset()): [(k, v) for k, v in (m.headers() or []) if k in HEADERS]
            for m in dpcheck.read_topics(env, [topic], 30)}


def test_rewrite_with_fields_and_headers_same_records_bytes_headers(rewrite_run):
    problems = compare(rewrite_run)
    assert not problems, "datapipe's unwrapped records differ from Debezium's:\n" + "\n".join(problems[:100])


def test_rewrite_deletes_are_rows_with_deleted_true(rewrite_run):
    for side in ("dbz", "dp"):
        users = rows(rewrite_run["users"][side])
        assert [(u["__op"], u["__deleted"]) for u in users] == [("c", "false"), ("u", "false"), ("d", "true")]
        assert all(u["__table"] == "users" and u["__lsn"] > 0 for u in users)
        for t in TABLES:
            assert all(r.value is not None for r in rewrite_run[t][side]), f"{side} {t}: a tombstone"
        # the truncate of nopk is dropped in every mode
        assert all(r["__op"] != "t" for r in rows(rewrite_run["nopk"][side]))


def test_rewrite_headers_match(rewrite_run):
    import dpcheck
    env = dpcheck.process_env()
    problems = []
    for table in TABLES:
        hdrs = {side: headers_of(env, rewrite_run["names"][side][table]) for side in ("dbz", "dp")}
        pairs, _ = pair(rewrite_run[table]["dbz"], rewrite_run[table]["dp"])
        for a, b in pairs:
            ha, hb = hdrs["dbz"][(a.partition, a.offset)], hdrs["dp"][(b.partition, b.offset)]
            if ha != hb:
                problems.append(f"{table} {a.label()}: debezium {ha} datapipe {hb}")
            if table == "users" and not ha:
                problems.append(f"users {a.label()}: no headers at all")
    assert not problems, "\n".join(problems[:50])


def test_seed_transform_keys_accepted_and_bad_options_named(pipeline, binary, env, tmp_path):
    """The seed's transform keys start capture (with the RegexRouter after
    them, as here); an unknown option, a bad value, Debezium 3.0.8's missing
    delete-to-tombstone and route.by.field are refused naming the key, exit 2."""
    p = pipeline
    # a row for the snapshot: its "r" record is unwrapped like any other
    p.sql("INSERT INTO users (user_id, email) VALUES ('6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5d', 's@example.com')")
    p.start("capture", p.capture_config(**{"snapshot.mode": "initial", **SEED}))
    p.wait_streaming()
    p.sql("INSERT INTO users (user_id, email) VALUES ('6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5c', 'u@example.com')")
    p.sql("DELETE FROM users WHERE user_id = '6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5c'")
    p.wait_confirmed(p.current_lsn())
    assert p.procs["capture"].poll() is None
    msgs = consume_all(p.env, [p.topics["users"]], f"unwrap-{p.id}")
    by_key = {}
    for m in msgs:
        by_key.setdefault(m.key(), []).append(json.loads(m.value()) if m.value() is not None else None)
    assert len(by_key) == 2, by_key
    for recs in by_key.values():
        row = recs[0]["payload"]
        assert "op" not in row and "source" not in row and "after" not in row, row
        assert recs[0]["schema"]["name"] == f"{p.prefix}.public.users.Value"
        assert recs[0]["schema"]["optional"] is False
        if row["email"] == "s@example.com":
            assert len(recs) == 1  # the snapshot read
        else:
            # the row, then the delete's tombstone (the delete itself dropped)
            assert row["email"] == "u@example.com" and recs[1:] == [None], recs
    assert "deprecated" in p.log("capture")
    cfg = json.loads(p.capture_config(**SEED).read_text())
    cases = [
        ({"transforms.unwrap.drop.tombstone": "false"}, '"transforms.unwrap.drop.tombstone"'),
        ({"transforms.unwrap.drop.tombstones": "no"}, '"transforms.unwrap.drop.tombstones"'),
        ({"transforms.unwrap.delete.tombstone.handling.mode": "delete-to-tombstone"},
         '"transforms.unwrap.delete.tombstone.handling.mode"'),
        ({"transforms.unwrap.route.by.field": "email"}, '"transforms.unwrap.route.by.field"'),
        ({"transforms.unwrap.add.fields": "a:b:c"}, '"transforms.unwrap.add.fields"'),
    ]
    for extra, needle in cases:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"name": cfg["name"], "config": dict(cfg["config"], **extra)}))
        r = subprocess.run([str(binary), "capture", "--config", str(path)], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, (extra, r.stderr)
        assert needle in r.stderr, (extra, r.stderr)


# ---- every mode against Debezium's own transform code ----
#
# Debezium runs are slow, so the modes beyond the two above are checked
# against Debezium's ExtractNewRecordState class itself (tests/jvm/unwrap:
# JsonConverter in, the transform, JsonConverter and SimpleHeaderConverter
# out, as a Connect worker does): one capture without the transform gives
# the envelopes, the oracle turns them into what Debezium would write, and
# one capture per mode, on its own slot over the same WAL, must have written
# exactly that.

ORACLE_MODES = [
    ({}, True),  # the defaults: the deprecated keys' drop/drop
    ({"delete.handling.mode": "none", "drop.tombstones": "false"}, True),
    ({"delete.tombstone.handling.mode": "tombstone",
      "add.fields": "op,source.ts_ms,snapshot,id,db,txId,name:NAME,before.v,after.id,nosuch",
      "add.headers": "op,snapshot,txId,lsn,id,nosuch"}, True),
    ({"delete.tombstone.handling.mode": "rewrite-with-tombstone", "add.fields": "op,lsn,id,before.v,after.id",
      "add.headers": "op"}, False),
    ({"delete.tombstone.handling.mode": "rewrite", "add.fields": "table,xmin", "add.fields.prefix": "x_",
      "add.headers": "table,source.ts_ms,sequence", "add.headers.prefix": "h_"}, True),
    ({"delete.tombstone.handling.mode": "drop", "add.fields": "op"}, False),
]

ORACLE_SQL = """
CREATE TABLE w (id integer PRIMARY KEY, v text, n numeric(5,2) DEFAULT 1.5, ts timestamptz,
  nn text NOT NULL DEFAULT 'x');
CREATE TABLE k (a integer, b text);
ALTER TABLE k REPLICA IDENTITY FULL;
"""


def oracle_workload(p):
    p.sql("INSERT INTO w (id, v, ts) VALUES (1, 'one', '2024-02-29 13:45:56.5+02'), (2, 'two', NULL)")
    p.sql("UPDATE w SET v = 'uno', n = NULL WHERE id = 1")
    p.sql("UPDATE w SET id = 3 WHERE id = 2")  # key change: delete + tombstone + create
    p.sql("BEGIN; INSERT INTO w (id, v) VALUES (4, 'four'); DELETE FROM w WHERE id = 1; COMMIT")
    p.sql("INSERT INTO k VALUES (1, 'a'), (2, NULL)")
    p.sql("UPDATE k SET b = 'bb' WHERE a = 2")
    p.sql("DELETE FROM k WHERE a = 1")
    p.sql("TRUNCATE k, w")


def read_all(env, topic):
    """Every record of topic: (partition, offset, key, value, headers)."""
    return [(m.partition(), m.offset(), m.key(), m.value(), list(m.headers() or []))
            for m in dpcheck.read_topics(env, [topic], 30)]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """A command running Debezium's transform: oracle(options, schemas, values) -> lines."""
    import base64
    from conftest import ROOT
    from test_0003_debezium_parity import versions
    v = versions()
    cp = ":".join([str(ROOT / ".cache" / f"kafka-{v['KAFKA_VERSION']}" / "libs" / "*"),
                   str(ROOT / ".cache" / f"debezium-{v['DEBEZIUM_VERSION']}" / "plugins" /
                       "debezium-connector-postgres" / "*")])
    out = tmp_path_factory.mktemp("oracle")
    subprocess.run(["javac", "-nowarn", "-d", str(out), "-cp", cp,
                    str(ROOT / "tests" / "jvm" / "unwrap" / "UnwrapOracle.java")], check=True, timeout=120)

    def run(options, schemas, values):
        args = [f"{k}={v}" for k, v in options.items()] + [f"out.schemas.enable={str(schemas).lower()}"]
        stdin = "".join((base64.b64encode(v).decode() if v is not None else "-") + "\n" for v in values)
        r = subprocess.run(["java", "-cp", f"{out}:{cp}", "UnwrapOracle", *args], input=stdin,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        res = []
        for line in r.stdout.splitlines():
            if line == "DROP":
                res.append(None)
                continue
            parts = line.split(" ")
            dec = (lambda s: None if s == "-" else base64.b64decode(s))
            res.append((dec(parts[1]), [(h.split("=", 1)[0], dec(h.split("=", 1)[1])) for h in parts[2:]]))
        assert len(res) == len(values), r.stdout
        return res
    return run


def test_every_mode_as_debeziums_transform_class(pipeline, env, oracle):
    """Mode by mode (two replication slots at a time: the server's are
    shared): a reference capture and a capture with the transform read the
    same workload; the oracle's output of the reference records must be the
    second capture's records: values, headers, keys, partitions, order."""
    import dpcheck
    from conftest import create_topics, lsn_int
    p = pipeline
    p.sql(ORACLE_SQL)

    def slot_lsn(name):
        r = dpcheck.pg_rows(env, "SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots "
                                 f"WHERE slot_name = '{name}_{p.id}'")
        return r[0] if r else None

    problems, compared, headers = [], 0, 0
    for i, (opts, schemas) in enumerate(ORACLE_MODES):
        sides = [(f"ref{i}", {}, True), (f"m{i}", opts, schemas)]
        topics = {name: {t: f"{name}.{p.id}.{t}" for t in ("w", "k")} for name, _, _ in sides}
        names = [n for d in topics.values() for n in d.values()]
        for name, _, _ in sides:
            p.grant(capture=f"{name}-{p.id}", routed_prefix=f"{name}.{p.id}.")
        create_topics(env, names)
        p.extra_topics += names
        for name, o, sch in sides:
            extra = {f"transforms.unwrap.{k}": v for k, v in o.items()}
            if name.startswith("m"):
                extra.update({"transforms": "unwrap,route", "transforms.unwrap.type": UNWRAP})
            cfg = p.capture_config(**{
                # a name each: two captures of one name fence each other's Kafka transactions
                "name": f"{name}-{p.id}",
                "slot.name": f"{name}_{p.id}", "publication.name": f"{name}pub_{p.id}",
                "table.include.list": "public.w,public.k", "skipped.operations": "none",
                "snapshot.mode": "no_data", "value.converter.schemas.enable": "true" if sch else "false",
                "transforms.route.replacement": f"{name}.{p.id}.$1", **extra})
            path = p.tmp / f"capture-{name}.json"
            path.write_text(cfg.read_text())
            p.procs[name] = dpcheck.start([str(p.binary), "capture", "--config", str(path)], p.env,
                                          p.tmp / f"{name}.log")
        def streaming(name):
            # not just active: a slot is active while it is being created,
            # before its consistent point (changes then are not in it)
            r = dpcheck.pg_rows(env, "SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r "
                                     f"ON r.pid = s.active_pid WHERE s.slot_name = '{name}_{p.id}'")
            return bool(r and r[0][0] == "streaming")
        for name, _, _ in sides:
            dpcheck.wait_for(lambda: p.procs[name].poll() is not None or streaming(name), 60,
                             what=f"{name} to stream")
            assert p.procs[name].poll() is None, p.log(name)
        oracle_workload(p)
        target = lsn_int(p.current_lsn())
        for name, _, _ in sides:
            dpcheck.wait_for(lambda: slot_lsn(name) and lsn_int(slot_lsn(name)[1]) >= target, 60,
                             what=f"{name} to confirm the workload")
        for name, _, _ in sides:
            dpcheck.stop(p.procs.pop(name), timeout=30)
            dpcheck.pg_rows(env, f"SELECT pg_drop_replication_slot('{name}_{p.id}')")
        for t in ("w", "k"):
            ref = read_all(env, topics[f"ref{i}"][t])
            assert ref, f"no reference records for {t}"
            want = oracle(opts, schemas, [r[3] for r in ref])
            got = read_all(env, topics[f"m{i}"][t])
            exp = [(r[0], r[2], w[0], w[1]) for r, w in zip(ref, want) if w is not None]
            act = [(r[0], r[2], r[3], list(r[4])) for r in got]
            if t == "k":  # key-less: the producer picks partitions
                exp = sorted((x[1:] for x in exp), key=repr)
                act = sorted((x[1:] for x in act), key=repr)
            compared += bool(exp)
            headers += sum(len(x[-1]) for x in exp)
            if exp != act:
                problems.append(f"{t} {opts} schemas={schemas}:\n  debezium {exp}\n  datapipe {act}")
    assert not problems, "\n".join(problems)
    assert compared == 2 * len(ORACLE_MODES) and headers > 20, (compared, headers)
