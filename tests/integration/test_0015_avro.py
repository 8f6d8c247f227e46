"""Avro through the real schema registry: io.confluent.connect.avro.AvroConverter
for keys and values, as Confluent's converter does it with default settings.

One database, one workload (test_0003's: every column type, NULLs, defaults,
key changes, deletes and tombstones, truncate, key-less tables, TOAST, ALTER
TABLE), captured twice at once through two slots: once with AvroConverter
(topics av.<id>.<table>), once with JsonConverter (js.<id>.<table>). Every
Avro record is read by an independent decoder, confluent-kafka's
AvroDeserializer (fastavro, the writer schema fetched from the registry by the
id in the record), and must carry the same key and value as the JSON record of
the same change: bytes and Decimals (base64 in JSON) and floats (NaN and the
infinities as strings in JSON) accounted for, the envelope's processing times
left out. The registered subjects (TopicNameStrategy), the record names
AvroData gives (<prefix>.public.<table>.Envelope / .Value / .Key,
io.debezium.connector.postgresql.Source), one schema id per distinct schema
(a new one after ALTER TABLE) and the key partitioning are checked too.

A registry that cannot be reached makes capture wait (it keeps running and
says so, naming the registry and the subject) before anything is produced;
once it is back, the change is delivered (the slot was not confirmed past
it)."""
import base64
import json
import math
import os
import socket
import struct
import subprocess
import time
import uuid

import pytest
from conftest import ROOT, Pipeline, create_topics, kafka_keys, murmur2, registry_keys
from test_0003_debezium_parity import PARTITIONS, SCHEMA_SQL, TABLES, read_topic, workload

import dpcheck

AVRO = "io.confluent.connect.avro.AvroConverter"
JSON = "org.apache.kafka.connect.json.JsonConverter"
KEYLESS = ("nopk", "nopk_full")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry_get(env, path):
    import requests
    r = requests.get(env["SCHEMA_REGISTRY_URL"] + path, timeout=30, verify=env["REGISTRY_CA_FILE"])
    r.raise_for_status()
    return r.json()


def slot_streaming(env, name):
    r = dpcheck.pg_rows(env, "SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r "
                             f"ON r.pid = s.active_pid WHERE s.slot_name = '{name}'")
    return bool(r and r[0][0] == "streaming")


def avro_config(p, reg, **extra):
    return {"key.converter": AVRO, "value.converter": AVRO, **registry_keys(reg), **extra}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    env = dpcheck.process_env()
    binary = ROOT / os.environ.get("DP_BUILD_DIR", "build") / "datapipe"
    assert binary.exists(), f"{binary} not built"
    p = Pipeline(env, binary, tmp_path_factory.mktemp("avro"))
    include = ",".join(f"public.{t}" for t in TABLES)
    topics = {side: {t: f"{side}.{p.id}.{t}" for t in TABLES} for side in ("av", "js")}
    try:
        p.sql(SCHEMA_SQL)
        names = [n for side in topics.values() for n in side.values()]
        p.grant(routed_prefix=f"av.{p.id}.")
        p.grant(capture=f"capj-{p.id}", routed_prefix=f"js.{p.id}.")
        for side in ("av", "js"):
            p.grant(archive=f"arc-{side}-{p.id}", routed_prefix=f"{side}.{p.id}.")
        create_topics(env, names, partitions=PARTITIONS)
        p.extra_topics += names
        common = {"table.include.list": include, "skipped.operations": "none", "snapshot.mode": "no_data",
                  "transforms.route.regex": f"{p.prefix}\\.public\\.(.*)"}
        cfg = p.capture_config(**common, **avro_config(p, env["SCHEMA_REGISTRY_URL"]),
                               **{"transforms.route.replacement": f"av.{p.id}.$1"})
        p.start("capture", cfg.rename(p.tmp / "capture-avro.json"))
        cfg = p.capture_config(**common, **{
            "name": f"capj-{p.id}", "slot.name": f"slotj_{p.id}", "publication.name": f"pubj_{p.id}",
            "transforms.route.replacement": f"js.{p.id}.$1"})
        p.procs["capture-json"] = dpcheck.start(
            [str(binary), "capture", "--config", str(cfg.rename(p.tmp / "capture-json.json"))], env,
            p.tmp / "capture-json.log")
        for what, slot in (("capture", f"slot_{p.id}"), ("capture-json", f"slotj_{p.id}")):
            proc = p.procs[what]
            dpcheck.wait_for(lambda: proc.poll() is not None or slot_streaming(env, slot), 120,
                             what=f"{what} to stream")
            assert proc.poll() is None, f"{what} exited:\n" + p.log(what)[-5000:]
        workload(p)

        def delivered():
            for what in ("capture", "capture-json"):
                assert p.procs[what].poll() is None, f"{what} exited:\n" + p.log(what)[-5000:]
            js = read_topic(env, topics["js"]["full_t"])
            if not any(v and (json.loads(v)["payload"].get("after") or {}).get("id") == 999 for *_, v in js):
                return False
            return len(read_topic(env, topics["av"]["full_t"])) == len(js)
        dpcheck.wait_for(delivered, 120, what="both captures to deliver the whole workload")
        time.sleep(1)
        yield {"p": p, "env": env, "topics": topics,
               "records": {t: {side: read_topic(env, topics[side][t]) for side in ("av", "js")} for t in TABLES}}
    finally:
        p.close()
        delete_subjects(env, f"av.{p.id}.")


def delete_subjects(env, prefix):
    """The test's subjects out of the shared registry (soft, then hard)."""
    import requests
    url = env["SCHEMA_REGISTRY_URL"]
    try:
        ca = env["REGISTRY_CA_FILE"]
        for s in requests.get(url + "/subjects", timeout=30, verify=ca).json():
            if s.startswith(prefix):
                requests.delete(f"{url}/subjects/{s}", timeout=30, verify=ca)
                requests.delete(f"{url}/subjects/{s}?permanent=true", timeout=30, verify=ca)
    except Exception as e:  # cleanup must not hide the test's own result
        print("registry cleanup:", e)


# ---- the independent decoder and the comparison ----

def deserializer(env):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    return AvroDeserializer(SchemaRegistryClient({"url": env["SCHEMA_REGISTRY_URL"],
                                                  "ssl.ca.location": env["REGISTRY_CA_FILE"]}))


def decode(deser, topic, raw, field):
    from confluent_kafka.serialization import SerializationContext
    if raw is None:
        return None
    assert raw[0] == 0, f"{topic}: magic byte {raw[0]}"
    return deser(raw, SerializationContext(topic, field))


def java_bytes(n):
    """BigInteger.toByteArray: the shortest two's complement, big endian."""
    return n.to_bytes(((n if n >= 0 else ~n).bit_length() // 8) + 1, "big", signed=True)


def as_json_form(v, schema):
    """A value decoded from Avro, in the form JsonConverter writes it under
    the Connect schema: bytes and Decimals as base64, special floats as
    strings, float32 ("float") through its 32-bit value."""
    if v is None:
        return None
    t = schema["type"]
    if t == "struct":
        return {f["field"]: as_json_form(v.get(f["field"]), f) for f in schema["fields"]}
    if t == "array":
        return [as_json_form(x, schema["items"]) for x in v]
    if t == "map":
        return {k: as_json_form(x, schema["values"]) for k, x in v.items()}
    if t == "bytes":
        if schema.get("name") == "org.apache.kafka.connect.data.Decimal":
            v = java_bytes(int(v.scaleb(int(schema["parameters"]["scale"]))))
        return base64.b64encode(v).decode()
    if t in ("float", "double"):  # JsonConverter's names of float32, float64
        return float_form(v, t)
    return v


def float_form(x, t):
    if isinstance(x, str):
        x = float(x)  # "NaN", "Infinity", "-Infinity"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return struct.unpack("<f", struct.pack("<f", x))[0] if t == "float" else float(x)


def json_form(v, schema):
    """The JSON payload with floats made comparable to as_json_form's."""
    if v is None:
        return None
    t = schema["type"]
    if t == "struct":
        return {f["field"]: json_form(v.get(f["field"]), f) for f in schema["fields"]}
    if t == "array":
        return [json_form(x, schema["items"]) for x in v]
    if t == "map":
        return {k: json_form(x, schema["values"]) for k, x in v.items()}
    if t in ("float", "double"):  # JsonConverter's names of float32, float64
        return float_form(v, t)
    return v


PROCESSING_TIMES = ("ts_ms", "ts_us", "ts_ns")


def envelope_without_times(pl):
    return {k: v for k, v in pl.items() if k not in PROCESSING_TIMES}


def paired(recs, deser, topic):
    """[(avro, json)] per change, each as (partition, offset, key bytes, value
    bytes, key, value), paired by (lsn, op); and the tombstones of each side."""
    av = [(part, off, k, v, decode(deser, topic, k, "key"), decode(deser, topic, v, "value"))
          for part, off, k, v in recs["av"]]
    js = [(part, off, k, v, json.loads(k) if k else None, json.loads(v) if v else None)
          for part, off, k, v in recs["js"]]
    a = sorted((r for r in av if r[3] is not None), key=lambda r: (r[5]["source"]["lsn"], r[5]["op"]))
    b = sorted((r for r in js if r[3] is not None),
               key=lambda r: (r[5]["payload"]["source"]["lsn"], r[5]["payload"]["op"]))
    assert len(a) == len(b), f"{topic}: {len(a)} Avro records, {len(b)} JSON records"
    assert len({(r[5]["source"]["lsn"], r[5]["op"]) for r in a}) == len(a), "(lsn, op) must single out a change"
    return list(zip(a, b)), [r for r in av if r[3] is None], [r for r in js if r[3] is None]


@pytest.fixture
def avro_pipeline(pipeline, env):
    """The conftest pipeline, and its subjects removed from the registry after."""
    yield pipeline
    delete_subjects(env, f"cdc.{pipeline.prefix}.")
    delete_subjects(env, f"__debezium-heartbeat.{pipeline.prefix}")


# ---- the tests ----

def test_every_record_decodes_to_the_json_converters_key_and_value(twin):
    deser = deserializer(twin["env"])
    problems, n = [], 0
    for t in TABLES:
        topic = twin["topics"]["av"][t]
        pairs, tomb_a, tomb_b = paired(twin["records"][t], deser, topic)
        assert pairs, f"nothing captured for {t}"
        for a, b in pairs:
            n += 1
            where = f"{t} op={b[5]['payload']['op']} lsn={b[5]['payload']['source']['lsn']}"
            jk, jv = b[4], b[5]
            if jk is None:
                if a[2] is not None:
                    problems.append(f"{where}: Avro key where JSON has none")
            elif as_json_form(a[4], jk["schema"]) != json_form(jk["payload"], jk["schema"]):
                problems.append(f"{where}: key {a[4]!r} vs {jk['payload']!r}")
            got = envelope_without_times(as_json_form(a[5], jv["schema"]))
            want = envelope_without_times(json_form(jv["payload"], jv["schema"]))
            if got != want:
                diff = [f"{k}: avro={got.get(k)!r} json={want.get(k)!r}" for k in want if got.get(k) != want.get(k)]
                problems.append(f"{where}: value differs: " + "; ".join(diff)[:2000])
        # tombstones: same number, same keys
        assert len(tomb_a) == len(tomb_b), f"{t}: {len(tomb_a)} Avro tombstones, {len(tomb_b)} JSON"
        kb = sorted(json.dumps(json.loads(r[2])["payload"] if r[2] else None) for r in tomb_b)
        kschema = next((json.loads(r[2])["schema"] for r in tomb_b if r[2]), None)
        ka = sorted(json.dumps(as_json_form(r[4], kschema) if r[4] is not None else None) for r in tomb_a)
        assert ka == kb, f"{t}: tombstone keys differ: {ka} vs {kb}"
    assert n > 60, n
    assert not problems, "Avro differs from JSON:\n" + "\n".join(problems[:50])


def test_keys_partition_by_their_avro_bytes(twin):
    """Java's producer hashes the serialized key: murmur2 of the Avro bytes."""
    for t in TABLES:
        if t in KEYLESS:
            continue
        for part, _, k, _ in twin["records"][t]["av"]:
            assert k is not None, f"{t}: a keyed table's record without key"
            assert part == (murmur2(k) & 0x7FFFFFFF) % PARTITIONS, f"{t}: key {k!r} on partition {part}"


def test_subjects_and_schema_names_are_avrodatas(twin):
    env, p = twin["env"], twin["p"]
    subjects = set(registry_get(env, "/subjects"))
    prefix = p.prefix
    for t in TABLES:
        topic = twin["topics"]["av"][t]
        assert f"{topic}-value" in subjects, f"{topic}-value not registered"
        assert (f"{topic}-key" in subjects) == (t not in KEYLESS), f"{topic}-key"
        # every record's id resolves; the value schema names
        ids = {struct.unpack(">I", v[1:5])[0] for *_, v in twin["records"][t]["av"] if v}
        for i in ids:
            s = json.loads(registry_get(env, f"/schemas/ids/{i}")["schema"])
            assert (s["type"], s["name"], s["namespace"]) == ("record", "Envelope", f"{prefix}.public.{t}")
            assert s["connect.name"] == f"{prefix}.public.{t}.Envelope"
            fields = {f["name"]: f for f in s["fields"]}
            before, after = fields["before"]["type"], fields["after"]["type"]
            assert before[0] == "null" and before[1]["type"] == "record" and before[1]["name"] == "Value"
            assert "namespace" not in before[1]  # the enclosing one
            assert before[1]["connect.name"] == f"{prefix}.public.{t}.Value"
            assert after == ["null", "Value"] and fields["after"]["default"] is None
            src = fields["source"]["type"]
            assert (src["name"], src["namespace"]) == ("Source", "io.debezium.connector.postgresql")
            assert fields["op"]["type"] == "string"
        if t not in KEYLESS:
            kids = {struct.unpack(">I", k[1:5])[0] for _, _, k, _ in twin["records"][t]["av"]}
            for i in kids:
                s = json.loads(registry_get(env, f"/schemas/ids/{i}")["schema"])
                assert (s["name"], s["namespace"], s["connect.name"]) == (
                    "Key", f"{prefix}.public.{t}", f"{prefix}.public.{t}.Key")


def test_one_schema_id_per_schema_and_a_new_one_after_alter_table(twin):
    for t in TABLES:
        av = [v for *_, v in twin["records"][t]["av"] if v]
        js = [v for *_, v in twin["records"][t]["js"] if v]
        ids = {v[1:5] for v in av}
        schemas = {json.dumps(json.loads(v)["schema"], sort_keys=True) for v in js}
        assert len(ids) == len(schemas), f"{t}: {len(ids)} schema ids for {len(schemas)} schemas"
    # full_t is altered twice: three value schemas, in the order of the changes
    recs = sorted((r for r in twin["records"]["full_t"]["av"] if r[3]), key=lambda r: (r[0], r[1]))
    assert len({r[3][1:5] for r in recs}) == 3
    versions = registry_get(twin["env"], f"/subjects/{twin['topics']['av']['full_t']}-value/versions")
    assert len(versions) == 3, versions


AVRO_PRINT = """
import java.nio.file.*;
public class AvroPrint {
  public static void main(String[] a) throws Exception {
    for (String f : a) {
      String s = new String(Files.readAllBytes(Paths.get(f)), "UTF-8");
      String out = new org.apache.avro.Schema.Parser().parse(s).toString();
      System.out.println((out.equals(s) ? "SAME " : "DIFF ") + f + (out.equals(s) ? "" : "\\n  ours " + s + "\\n  avro " + out));
    }
  }
}
"""


def test_registered_schemas_are_valid_and_printed_as_avro_prints_them(twin, tmp_path):
    """Apache Avro (1.12, the registry's own jar) parses every registered
    schema, defaults validated, and prints it back byte for byte: the text
    AvroConverter would register for the same Avro schema."""
    lib = sorted(ROOT.glob(".cache/apicurio-*/lib"))
    assert lib, "apicurio is not installed (scripts/setup registry)"
    jars = [next(lib[-1].glob(f"{n}*.jar")) for n in (
        "org.apache.avro.avro-1", "com.fasterxml.jackson.core.jackson-core", "com.fasterxml.jackson.core.jackson-databind",
        "com.fasterxml.jackson.core.jackson-annotations", "org.slf4j.slf4j-api")]
    ids = set()
    for t in TABLES:
        for _, _, k, v in twin["records"][t]["av"]:
            ids |= {struct.unpack(">I", x[1:5])[0] for x in (k, v) if x}
    files = []
    for i in sorted(ids):
        f = tmp_path / f"schema-{i}.avsc"
        f.write_text(registry_get(twin["env"], f"/schemas/ids/{i}")["schema"])
        files.append(str(f))
    (tmp_path / "AvroPrint.java").write_text(AVRO_PRINT)
    r = subprocess.run(["java", "-cp", ":".join(map(str, jars)), str(tmp_path / "AvroPrint.java"), *files],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("SAME", "DIFF"))]
    assert len(lines) == len(files) and len(files) > 20, r.stdout[-3000:]
    assert all(ln.startswith("SAME") for ln in lines), r.stdout[-5000:]


def test_column_types_in_avro(twin):
    """Decimal is bytes with logicalType decimal, int16 an int marked
    connect.type, Debezium's semantic types keep their connect.name."""
    env = twin["env"]
    v = next(v for *_, v in twin["records"]["alltypes"]["av"] if v)
    s = json.loads(registry_get(env, f"/schemas/ids/{struct.unpack('>I', v[1:5])[0]}")["schema"])
    value = next(f for f in s["fields"] if f["name"] == "before")["type"][1]
    col = {f["name"]: f for f in value["fields"]}
    num = col["c_num"]["type"][1]
    assert (num["type"], num["logicalType"], num["scale"], num["precision"]) == ("bytes", "decimal", 3, 12)
    assert num["connect.parameters"] == {"scale": "3", "connect.decimal.precision": "12"}
    assert col["c_smallint"]["type"] == ["null", {"type": "int", "connect.type": "int16"}]
    assert col["c_date"]["type"][1]["connect.name"] == "io.debezium.time.Date"
    assert col["c_numv"]["type"][1]["name"] == "VariableScaleDecimal"
    assert col["c_numv"]["type"][1]["namespace"] == "io.debezium.data"
    assert col["id"]["type"] == "int" and "default" not in col["id"]
    # a column default: [T, "null"] with the default first, as AvroData makes it
    assert col["c_text"]["type"][1] == "null" and col["c_text"]["default"] == "dflt"
    assert col["c_text"]["type"][0]["connect.default"] == "dflt"


def test_unreachable_registry_is_waited_for_and_nothing_is_lost(avro_pipeline, env):
    """The registry away (a proxy in front of it that drops every
    connection): capture keeps running and says it waits, naming the
    registry and the subject; nothing is produced; when the registry is
    back the change is delivered, in Avro."""
    p = avro_pipeline
    down = {"on": True}
    base = env["SCHEMA_REGISTRY_URL"].split("/apis/", 1)[0]
    with dpcheck.FaultProxy(base, lambda n, method, path: ("drop",) if down["on"] else None) as proxy:
        url = proxy.url + "/apis/ccompat/v7"
        cfg = p.capture_config(**avro_config(p, url, **{"snapshot.mode": "no_data"}))
        proc = p.start("capture", cfg)
        p.wait_streaming()
        uid = str(uuid.uuid4())
        p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uid}', 'avro@example.com')")
        dpcheck.wait_for(lambda: "waiting for the schema registry" in p.log("capture"), 90,
                         what="capture to say it waits for the registry")
        log = p.log("capture")
        topic = p.topics["users"]
        assert proc.poll() is None, log
        assert url in log and f'"{topic}-key"' in log, log
        assert dpcheck.read_topics(env, [topic], 30) == []
        down["on"] = False  # the registry is back
        deser = deserializer(env)
        got = {}
        dpcheck.wait_for(lambda: got.update(r=read_topic(env, topic)) or got["r"], 90, what="the insert")
        (_, _, k, v), = got["r"]
        assert decode(deser, topic, k, "key") == {"user_id": uid}
        assert decode(deser, topic, v, "value")["after"]["email"] == "avro@example.com"
        assert proc.poll() is None


def test_heartbeats_are_avro_too(avro_pipeline, env):
    p = avro_pipeline
    topic = f"__debezium-heartbeat.{p.prefix}"
    create_topics(env, [topic], partitions=1)
    p.extra_topics.append(topic)
    p.start("capture", p.capture_config(**avro_config(p, env["SCHEMA_REGISTRY_URL"], **{
        "snapshot.mode": "no_data", "heartbeat.interval.ms": "300"})))
    p.wait_streaming()
    got = {}
    dpcheck.wait_for(lambda: got.update(r=read_topic_1(env, topic)) or len(got["r"]) >= 2, 60,
                     what="two heartbeats")
    deser = deserializer(env)
    for k, v in got["r"][:2]:
        assert decode(deser, topic, k, "key") == {"serverName": p.prefix}
        assert abs(decode(deser, topic, v, "value")["ts_ms"] / 1000 - time.time()) < 120
    subjects = set(registry_get(env, "/subjects"))
    assert {f"{topic}-key", f"{topic}-value"} <= subjects
    s = json.loads(registry_get(env, f"/schemas/ids/{struct.unpack('>I', got['r'][0][1][1:5])[0]}")["schema"])
    assert (s["name"], s["namespace"]) == ("Heartbeat", "io.debezium.connector.common")


def read_topic_1(env, topic, want=2):
    """The first want records of a one-partition topic that keeps growing
    (heartbeats), as (key, value); fewer if they are not there within 20 s."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(dpcheck.kafka_conf(env, **{"group.id": f"hb-{time.time()}"}))
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        out, deadline = [], time.time() + 20
        while len(out) < want and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                out.append((m.key(), m.value()))
        return out
    finally:
        c.close()


def test_registry_url_is_required_for_an_avro_side(pipeline, binary, env):
    p = pipeline
    for side in ("key", "value"):
        cfg = p.capture_config(**{f"{side}.converter": AVRO})
        r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2 and f'"{side}.converter.schema.registry.url"' in r.stderr, r.stderr
    cfg = p.capture_config(**{"value.converter": "io.confluent.connect.protobuf.ProtobufConverter"})
    r = subprocess.run([str(binary), "capture", "--config", str(cfg)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and '"value.converter"' in r.stderr and AVRO in r.stderr, r.stderr


def test_archive_reads_avro_topics_into_the_same_rows_as_json(twin):
    """The archive over the Avro topics (value.converter AvroConverter, the
    writer schemas fetched by id) and over the JSON topics gives the same
    rows: every column, the before/after JSON byte for byte."""
    import signal
    p, env = twin["p"], twin["env"]
    rows = {}
    try:
        for side, conv in (("av", {"value.converter": AVRO,
                                   **registry_keys(env["SCHEMA_REGISTRY_URL"], sides=("value",))}),
                           ("js", {})):
            d = f"{p.dir}-{side}"
            cfg = p.archive_config(**{"name": f"arc-{side}-{p.id}", "topics.regex": f"{side}\\.{p.id}\\..*",
                                      "topics.dir": d, "flush.size": "1000", **conv})
            proc = dpcheck.start([str(p.binary), "archive", "--config", str(cfg.rename(p.tmp / f"archive-{side}"))],
                                 env, p.tmp / f"archive-{side}.log")
            time.sleep(1)
            assert dpcheck.stop(proc, signal.SIGUSR1, timeout=180) == 0, (p.tmp / f"archive-{side}.log").read_text()
            dpcheck.download_archive(env, d + "/", p.tmp / f"mirror-{side}")
            table = dpcheck.read_archive(p.tmp / f"mirror-{side}", d)
            assert table is not None, f"nothing archived from the {side} topics"
            rows[side] = {(r["table_name"], r["lsn"], r["operation_type"]): r for r in table.to_pylist()}
    finally:
        s3 = dpcheck.s3_client(env)
        for side in ("av", "js"):
            for k in dpcheck.list_keys(env, f"{p.dir}-{side}/"):
                s3.delete_object(Bucket=env["S3_BUCKET"], Key=k)
    assert set(rows["av"]) == set(rows["js"]) and len(rows["av"]) > 60
    cols = ("event_timestamp", "operation_type", "table_name", "connector_version", "database_name",
            "schema_name", "transaction_id", "lsn", "before_data", "after_data")
    problems = []
    for k, a in rows["av"].items():
        b = rows["js"][k]
        for c in cols:
            if a[c] != b[c]:
                problems.append(f"{k} {c}: avro={a[c]!r:.300} json={b[c]!r:.300}")
    assert not problems, "\n".join(problems[:30])


def test_the_seed_connector_json_as_it_is(avro_pipeline, env, tmp_path):
    """The seed's postgres-cdc-connector document key for key, with only its
    addresses, names and secret file pointed at the local stack (plus
    the kafka.* keys, which Kafka Connect keeps in the worker, and the
    registry's CA):
    AvroConverter through the registry for keys and values, and
    ExtractNewRecordState with drop.tombstones=false. The deprecated
    database.server.name names the topics; rows come out flat, in Avro
    (decoded by confluent-kafka); a delete leaves only its tombstone."""
    p = avro_pipeline
    server = f"seed{p.id}"
    topic = f"{server}.public.users"
    p.grant(topic_prefix=server)
    create_topics(env, [topic, f"{server}.public.products"])
    p.extra_topics += [topic, f"{server}.public.products"]
    secret = tmp_path / "postgres-password.txt"
    secret.write_text(f"password={env['PGPASSWORD']}\n")
    reg = env["SCHEMA_REGISTRY_URL"]
    doc = {"name": f"cap-{p.id}", "config": {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": env["PGHOST"],
        "database.port": env["PGPORT"],
        "database.user": env["PGUSER"],
        "database.password": "${file:" + str(secret) + ":password}",
        "database.dbname": p.db,
        "database.server.name": server,
        "table.include.list": "public.users,public.products",
        "plugin.name": "pgoutput",
        "slot.name": f"slot_{p.id}",
        "publication.name": f"pub_{p.id}",
        "key.converter": AVRO,
        "value.converter": AVRO,
        **registry_keys(reg),
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.drop.tombstones": "false",
        **kafka_keys("capture", "SCRAM-SHA-512")}}
    cfg = tmp_path / "postgres-cdc-connector.json"
    cfg.write_text(json.dumps(doc, indent=2))
    try:
        p.start("capture", cfg)
        p.wait_streaming()
        uid = str(uuid.uuid4())
        p.sql(f"INSERT INTO users (user_id, email, first_name) VALUES ('{uid}', 'seed@example.com', 'Zoë')")
        p.sql(f"UPDATE users SET tier = 'gold' WHERE user_id = '{uid}'")
        p.sql(f"DELETE FROM users WHERE user_id = '{uid}'")
        got = {}
        dpcheck.wait_for(lambda: got.update(r=read_topic(env, topic)) or len(got["r"]) >= 3, 60,
                         what="the insert, the update and the delete's tombstone")
        deser = deserializer(env)
        recs = [(decode(deser, topic, k, "key"), decode(deser, topic, v, "value")) for _, _, k, v in got["r"]]
        assert len(recs) == 3, recs
        assert all(k == {"user_id": uid} for k, _ in recs), recs
        (_, ins), (_, upd), (_, tomb) = recs
        assert ins["email"] == "seed@example.com" and ins["first_name"] == "Zoë" and "op" not in ins, ins
        assert upd["tier"] == "gold", upd
        assert tomb is None
        log = p.log("capture")
        assert '"database.server.name" is deprecated' in log, log[-2000:]
    finally:
        delete_subjects(env, f"{server}.")
