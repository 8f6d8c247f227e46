"""provide.transaction.metadata=true: Debezium writes a BEGIN and an END
record per transaction to <topic.prefix>.<topic.transaction> and fills the
envelope's `transaction` block of every change event. Real Debezium 3.0.8 is
the reference, through the parity harness of test_0003: the same database
and workload (plus the transactions of `more_workload`, run first), both
connectors with the option on.

Each side gets its own `topic.transaction`, and a second RegexRouter that
renames `<topic.prefix>.<topic.transaction>` to a name the test chose (the
harness's prefix is not known beforehand): so the records also show that the
transforms apply to the transaction topic as to the others. The harness's
own router (`<prefix>.public.*`) does not match it.

The publication holds all tables (Debezium's default mode): a transaction
that changes only an uncaptured table then still reaches both connectors,
as Begin and Commit with nothing captured in between.

Nothing is ignored in the transaction topic: BEGIN's and END's ts_ms are the
commit time, not a processing time. In the data topics, only the envelope's
processing times are, as in test_0003."""
import json
import secrets
import time

import pytest
from conftest import java_partition

import dpcheck
import test_0003_debezium_parity as parity_harness
from test_0003_debezium_parity import (ENVELOPE_TIMES, PARTITIONS, byte_difference, diff, pair_up, run_parity, strip,
                                       tables_of)

SIDES = ("dbz", "dp")
OPTIONS = {"provide.transaction.metadata": "true", "publication.autocreate.mode": "all_tables"}

MULTI_EMAIL = "multi@example.com"
# the multi-table transaction of more_workload: events per table
MULTI_COUNTS = {"public.users": 2, "public.products": 1, "public.alltypes": 2, "public.full_t": 1,
                "public.nopk": 1}
SIDE_ONLY_EMAIL = "sideonly@example.com"


def more_workload(p):
    """Run before the harness's workload (whose last change is the sentinel)."""
    p.sql("CREATE TABLE side_t (id integer PRIMARY KEY, v text)")  # not captured
    p.sql("BEGIN;"
          f"INSERT INTO users (user_id, email) VALUES ('11111111-1111-1111-1111-111111111111', '{MULTI_EMAIL}');"
          "INSERT INTO side_t VALUES (1, 'not captured');"
          "INSERT INTO products (product_id, name, price) VALUES ('22222222-2222-2222-2222-222222222222', 'M', 1);"
          "INSERT INTO alltypes (id) VALUES (100);"
          "UPDATE alltypes SET c_text = 'x' WHERE id = 100;"
          "INSERT INTO full_t (id, v, n) VALUES (100, 'multi', 1);"
          "INSERT INTO nopk VALUES (100, 'multi');"
          "DELETE FROM users WHERE user_id = '11111111-1111-1111-1111-111111111111';"
          "COMMIT;")
    # only an uncaptured table: a BEGIN and an END of nothing
    p.sql(f"INSERT INTO side_t VALUES (2, '{SIDE_ONLY_EMAIL}')")


def side_options(tx, routed):
    """topic.transaction tx, and a router from <prefix>.<tx> to routed"""
    return {"topic.transaction": tx, "transforms": "route,tx",
            "transforms.tx.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.tx.regex": f"t[0-9a-f]{{8}}\\.{tx}",
            "transforms.tx.replacement": routed}


def run(tmp_path_factory, snapshot):
    """run_parity with the option on; result["routed"][side] names each
    side's transaction topic."""
    tag = secrets.token_hex(3)
    tx = {side: f"tx{side}{tag}" for side in SIDES}           # topic.transaction per side
    routed = {side: f"{side}.tx.{tag}" for side in SIDES}     # where the second router puts them
    original = parity_harness.workload

    def workload(p):
        more_workload(p)
        original(p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parity_harness, "workload", workload)
        for result in run_parity(tmp_path_factory, snapshot=snapshot, options=OPTIONS,
                                 dbz_options=side_options(tx["dbz"], routed["dbz"]),
                                 dp_options=side_options(tx["dp"], routed["dp"]),
                                 extra_topics={side: [routed[side]] for side in SIDES}):
            result["routed"] = routed
            yield result


@pytest.fixture(scope="module")
def txmeta(tmp_path_factory):
    yield from run(tmp_path_factory, snapshot=False)


@pytest.fixture(scope="module")
def txmeta_snapshot(tmp_path_factory):
    yield from run(tmp_path_factory, snapshot=True)


def tx_records(result, side):
    return result["topics"][side][result["routed"][side]]


def compare_data_topics(result, snapshot_money=False):
    """test_0003's record and byte comparisons, transaction blocks included."""
    problems = []
    for table, recs in tables_of(result):
        pairs, probs = pair_up(recs["dbz"], recs["dp"])
        problems += [f"{table}: {x}" for x in probs]
        for a, b in pairs:
            where = f"{table} {a.label()} vs {b.label()}"
            if (a.value is None) != (b.value is None):
                problems.append(f"{where}: tombstone on one side only")
            skip = ()
            if snapshot_money and table == "alltypes" and \
                    ((a.value or {}).get("payload", {}).get("after") or {}).get("id") in (3, 4):
                skip = ("c_money",)  # test_0003's SNAPSHOT_MONEY_ROUNDED
            for d in diff(strip(a.key), strip(b.key), "key"):
                problems.append(f"{where}: {d}")
            for d in diff(strip(a.value, skip), strip(b.value, skip), "value"):
                problems.append(f"{where}: {d}")
            if a.key_raw != b.key_raw:
                problems.append(f"{where}: key bytes differ")
            if a.value_raw and not skip and not (a.value["payload"]["op"] == "r"):
                va, vb = (ENVELOPE_TIMES.sub(rb'"op":"\1"}', v) for v in (a.value_raw, b.value_raw))
                if va != vb:
                    problems.append(f"{where}: value bytes differ {byte_difference(va, vb)}")
    return problems


def compare_tx_topics(result):
    """Same records, same order, same partitions, byte for byte."""
    problems = []
    a, b = tx_records(result, "dbz"), tx_records(result, "dp")
    if not a:
        problems.append("debezium wrote no transaction records")
    for part in range(PARTITIONS):
        pa = [r for r in a if r.partition == part]
        pb = [r for r in b if r.partition == part]
        if len(pa) != len(pb):
            problems.append(f"partition {part}: debezium has {len(pa)} records, datapipe {len(pb)}")
        for x, y in zip(pa, pb):
            where = f"p{part}@{x.offset}/{y.offset}"
            for d in diff(x.key, y.key, "key") + diff(x.value, y.value, "value"):
                problems.append(f"{where}: {d}")
            if (x.key_raw, x.value_raw) != (y.key_raw, y.value_raw):
                problems.append(f"{where}: bytes differ:\n  debezium {x.key_raw!r} {x.value_raw!r}\n"
                                f"  datapipe {y.key_raw!r} {y.value_raw!r}")
    for r in b:  # keyed by id: the Java client's partition of the key
        if r.partition != java_partition(r.key_raw, PARTITIONS):
            problems.append(f"datapipe record {r.value['payload']['id']} on partition {r.partition}, "
                            f"the Java client would pick {java_partition(r.key_raw, PARTITIONS)}")
    return problems


def test_data_topics_are_debeziums_with_transaction_blocks(txmeta):
    problems = compare_data_topics(txmeta)
    blocks = 0
    for table, recs in tables_of(txmeta):
        for side in ("dbz", "dp"):
            for r in recs[side]:
                if r.value is not None:
                    tx = r.value["payload"]["transaction"]
                    src = r.value["payload"]["source"]
                    if not tx or tx["id"] != f"{src['txId']}:{src['lsn']}":
                        problems.append(f"{side} {table} {r.label()}: transaction block {tx}")
                    blocks += side == "dp"
    assert blocks > 50
    assert not problems, "datapipe differs from Debezium:\n" + "\n".join(problems[:100])


def test_transaction_topic_is_debeziums(txmeta):
    problems = compare_tx_topics(txmeta)
    assert not problems, "transaction records differ:\n" + "\n".join(problems[:60])


def events_by_txid(result, side):
    out = {}
    for table, recs in tables_of(result):
        for r in recs[side]:
            if r.value is not None:
                out.setdefault(r.value["payload"]["source"]["txId"], []).append((table, r.value["payload"]))
    return out


def test_multi_table_transaction_counts(txmeta):
    """The transaction across five captured tables (and one uncaptured): END
    counts what was written, per table; the events' orders run 1..n in WAL
    order, per table 1..k; BEGIN, events and END each carry "<xid>:<LSN>"."""
    events = events_by_txid(txmeta, "dp")
    xid = next(x for x, evs in events.items()
               if any(t == "users" and (p["after"] or {}).get("email") == MULTI_EMAIL for t, p in evs))
    evs = sorted(events[xid], key=lambda e: (e[1]["transaction"]["total_order"]))
    assert [e[1]["transaction"]["total_order"] for e in evs] == list(range(1, 8))
    lsns = [e[1]["source"]["lsn"] for e in evs]
    assert lsns == sorted(lsns)
    assert [(t, p["op"]) for t, p in evs] == [("users", "c"), ("products", "c"), ("alltypes", "c"),
                                             ("alltypes", "u"), ("full_t", "c"), ("nopk", "c"),
                                             ("users", "d")]
    seen = {}
    for t, p in evs:
        seen[t] = seen.get(t, 0) + 1
        assert p["transaction"]["data_collection_order"] == seen[t]
    recs = [r.value["payload"] for r in tx_records(txmeta, "dp") if r.value["payload"]["id"].startswith(f"{xid}:")]
    begin = [p for p in recs if p["status"] == "BEGIN"]
    end = [p for p in recs if p["status"] == "END"]
    assert len(begin) == 1 and len(end) == 1
    assert end[0]["event_count"] == 7
    assert {c["data_collection"]: c["event_count"] for c in end[0]["data_collections"]} == MULTI_COUNTS
    assert int(begin[0]["id"].split(":")[1]) <= lsns[0] < lsns[-1] < int(end[0]["id"].split(":")[1])
    assert begin[0]["ts_ms"] == end[0]["ts_ms"] == evs[0][1]["source"]["ts_ms"]


def test_transaction_of_uncaptured_tables_only(txmeta):
    """Changes of an uncaptured table alone: BEGIN and END, with no events,
    on both sides (compare_tx_topics shows they are the same records)."""
    for side in ("dbz", "dp"):
        empty = [r.value["payload"] for r in tx_records(txmeta, side)
                 if r.value["payload"]["status"] == "END" and r.value["payload"]["event_count"] == 0]
        assert len(empty) == 1, f"{side}: {empty}"
        assert empty[0]["data_collections"] == []
        xid = empty[0]["id"].split(":")[0]
        # (on their own partitions: each record is keyed by its own id)
        assert sorted(r.value["payload"]["status"] for r in tx_records(txmeta, side)
                      if r.value["payload"]["id"].startswith(xid + ":")) == ["BEGIN", "END"]


def test_snapshot_reads_have_no_transaction(txmeta_snapshot):
    """snapshot.mode=initial: the "r" records carry no transaction block and
    give no BEGIN/END; the stream after them does, as Debezium's."""
    problems = compare_data_topics(txmeta_snapshot, snapshot_money=True) + compare_tx_topics(txmeta_snapshot)
    assert not problems, "datapipe differs from Debezium:\n" + "\n".join(problems[:100])
    reads = [r for _, recs in tables_of(txmeta_snapshot) for r in recs["dp"]
             if r.value and r.value["payload"]["op"] == "r"]
    assert reads and all(r.value["payload"]["transaction"] is None for r in reads)
    snap_xids = {str(r.value["payload"]["source"]["txId"]) for r in reads}
    ids = [r.value["payload"]["id"].split(":")[0] for r in tx_records(txmeta_snapshot, "dp")]
    assert ids and not snap_xids & set(ids)


def test_missing_transaction_topic_is_an_error(pipeline):
    """As for a table's topic: capture names the topic it needs and stops."""
    proc = pipeline.start("capture", pipeline.capture_config(**{
        "provide.transaction.metadata": "true", "topic.transaction": "nosuch"}))
    dpcheck.wait_for(lambda: proc.poll() is not None, 60, what="capture to stop")
    assert proc.returncode != 0
    assert f'topic "{pipeline.prefix}.nosuch" for transaction metadata does not exist' in pipeline.log("capture")


def test_feature_off_writes_no_transaction_topic(pipeline):
    """The default: no transaction records, "transaction": null."""
    topic = f"{pipeline.prefix}.transaction"
    from conftest import create_topics
    create_topics(pipeline.env, [topic])
    pipeline.extra_topics.append(topic)
    pipeline.start("capture", pipeline.capture_config())
    pipeline.wait_streaming()
    pipeline.sql("INSERT INTO users (user_id, email) VALUES (gen_random_uuid(), 'off@example.com')")
    recs = []
    deadline = time.time() + 60
    while not recs and time.time() < deadline:
        recs = parity_harness.read_topic(pipeline.env, pipeline.topics["users"])
        time.sleep(0.5)
    assert recs and json.loads(recs[0][3])["payload"]["transaction"] is None
    assert parity_harness.read_topic(pipeline.env, topic) == []
