"""Real Debezium is the reference: the same workload, captured once by Debezium's
PostgreSQL connector (in a Kafka Connect standalone worker, scripts/debezium)
and once by datapipe capture, must give the same Kafka records.

Both read the same database through their own slot and publication, with the
same topic.prefix (so schema names and source.name agree) and a RegexRouter
each: Debezium's records land in `dbz.<id>.<table>`, ours in `dp.<id>.<table>`.
The records are read with confluent-kafka and compared field by field: key
(schema and payload), value (schema and payload), partition, tombstones, and
order within each partition.

Values are compared parsed (so a difference shows as a path), and then
byte for byte, since the archive stores the before/after JSON as it came.

Ignored, because they are processing times and differ between any two runs
of Debezium itself: the envelope's `ts_ms`, `ts_us`, `ts_ns`. Everything in
`source` is compared, commit time, txId, lsn and sequence included: both
connectors read the same WAL, so these must agree.

Records without a key (tables without a primary key, truncates) go to a
partition chosen by the producer (the Java client's sticky partitioner,
librdkafka's random one), so for them only the order by LSN is compared,
not the partition.

One module-scoped run feeds all tests: one per column type (so a type that
still differs is one precise xfail), and one for everything else."""
import json
import os
import re
import time

import pytest
from conftest import ROOT, Pipeline, admin, create_topics

import dpcheck

# the seed's users and products (deploy/helm/data-ingestion-pipeline/files/sql/schema.sql) are in the database too
TABLES = ("alltypes", "full_t", "nopk", "nopk_full", "toasty", "arrays", "odd", "serialpk", "floats",
          "users", "products")
PARTITIONS = 6

# column -> (DDL type, xfail reason or None)
COLUMNS = {
    "c_smallint": ("smallint", None),
    "c_int": ("integer NOT NULL DEFAULT 7", None),
    "c_bigint": ("bigint", None),
    "c_num": ("numeric(12,3)", None),
    "c_numv": ("numeric", None),
    "c_real": ("real", None),
    "c_double": ("double precision", None),
    "c_bool": ("boolean", None),
    "c_char": ("char(5)", None),
    "c_varchar": ("varchar(20)", None),
    "c_text": ("text DEFAULT 'dflt'", None),
    "c_uuid": ("uuid", None),
    "c_json": ("json", None),
    "c_jsonb": ("jsonb", None),
    "c_bytea": ("bytea", None),
    "c_date": ("date", None),
    "c_time": ("time", None),
    "c_time3": ("time(3)", None),
    "c_timetz": ("timetz", None),
    "c_ts": ("timestamp", None),
    "c_ts3": ("timestamp(3)", None),
    "c_tstz": ("timestamptz", None),
    "c_tstz3": ("timestamptz(3)", None),
    "c_interval": ("interval", None),
    "c_intarr": ("integer[]", None),
    "c_textarr": ("text[]", None),
    "c_enum": ("mood", None),
    "c_domain": ("posint", None),
    "c_money": ("money", None),
}

SCHEMA_SQL = f"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE alltypes (id integer PRIMARY KEY,
  {", ".join(f"{c} {t}" for c, (t, _) in COLUMNS.items())});
CREATE TABLE full_t (id integer PRIMARY KEY, v text, n numeric(5,2));
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE nopk (a integer, b text);
CREATE TABLE nopk_full (a integer, b text);
ALTER TABLE nopk_full REPLICA IDENTITY FULL;
CREATE TABLE arrays (id integer PRIMARY KEY, a_bool boolean[], a_int2 smallint[], a_int8 bigint[],
  a_f4 real[], a_f8 double precision[], a_varchar varchar(10)[], a_char char(2)[], a_uuid uuid[],
  a_json json[], a_jsonb jsonb[], a_date date[], a_num numeric(5,2)[], a_numv numeric[],
  a_ts timestamp[], a_ts3 timestamp(3)[], a_tstz timestamptz[], a_time time[], a_timetz timetz[],
  a_bytea bytea[], a_enum mood[], a_interval interval[], a_money money[]);
CREATE TABLE odd (id integer PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time, ttz timetz,
  iv interval, nv numeric, n2 numeric(20,10), j jsonb, s text);
CREATE TABLE serialpk (id serial PRIMARY KEY, v varchar(10) NOT NULL DEFAULT 'v',
  at timestamptz(3) DEFAULT now(), n numeric(6,2) DEFAULT 1.5, i bigint DEFAULT -3, t time DEFAULT '12:00');
CREATE TABLE floats (id serial PRIMARY KEY, r real, d double precision);
CREATE TABLE toasty (id integer PRIMARY KEY, big text, n integer, nn text NOT NULL,
  nn_i integer NOT NULL, nn_n numeric(5,2) NOT NULL, nn_v numeric NOT NULL, nn_tz timestamptz NOT NULL,
  nn_d date NOT NULL, nn_u uuid NOT NULL, nn_j jsonb NOT NULL, nn_b boolean NOT NULL,
  nn_a integer[] NOT NULL, nn_f real NOT NULL, nn_ts timestamp NOT NULL, nn_by bytea NOT NULL,
  ts timestamp DEFAULT now(), cnt bigint DEFAULT 0, f double precision DEFAULT 1,
  m mood DEFAULT 'ok', b boolean DEFAULT true, d date DEFAULT CURRENT_DATE);
"""

ROW_NORMAL = {
    "c_smallint": "1", "c_int": "2", "c_bigint": "3", "c_num": "1234.5", "c_numv": "3.14159",
    "c_real": "1.5", "c_double": "2.25", "c_bool": "true", "c_char": "'ab'",
    "c_varchar": "'héllo 李 😀'", "c_text": "E'say \"hi\"\\n\\ttab \\\\ back'",
    "c_uuid": "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    "c_json": "'{\"a\": 1,  \"b\": [1, 2.50, null]}'", "c_jsonb": "'{\"b\": 2, \"a\": [1, 2.50]}'",
    "c_bytea": "'\\xdeadbeef00'", "c_date": "'2024-02-29'", "c_time": "'13:45:56.123456'",
    "c_time3": "'13:45:56.123'", "c_timetz": "'13:45:56.5+02'",
    "c_ts": "'2024-02-29 13:45:56.123456'", "c_ts3": "'2024-02-29 13:45:56.123'",
    "c_tstz": "'2024-02-29 13:45:56.123456+05:30'", "c_tstz3": "'2024-02-29 13:45:56.5+05:30'",
    "c_interval": "'1 year 2 mons 3 days 04:05:06.789'", "c_intarr": "'{1,NULL,3}'",
    "c_textarr": "'{\"a b\",\"c,d\",NULL,\"\"}'", "c_enum": "'happy'", "c_domain": "5",
    "c_money": "12.34",
}
ROW_LOW = {
    "c_smallint": "-32768", "c_int": "-2147483648", "c_bigint": "-9223372036854775808",
    "c_num": "-999999999.999", "c_numv": "-0.000000001", "c_real": "'NaN'",
    "c_double": "'-Infinity'", "c_bool": "false", "c_char": "''", "c_varchar": "''",
    "c_text": "''", "c_uuid": "'00000000-0000-0000-0000-000000000000'", "c_json": "'[]'",
    "c_jsonb": "'{}'", "c_bytea": "'\\x'", "c_date": "'1970-01-01'", "c_time": "'00:00:00'",
    "c_time3": "'00:00:00'", "c_timetz": "'00:00:00-05:30'", "c_ts": "'1969-12-31 23:59:59.999999'",
    "c_ts3": "'1899-12-31 23:59:59.999'", "c_tstz": "'1900-01-01 00:00:00+00'", "c_tstz3": "'1900-01-01 00:00:00+00'",
    "c_interval": "'-1 days -02:00:00'", "c_intarr": "'{}'", "c_textarr": "'{}'",
    "c_enum": "'sad'", "c_domain": "1", "c_money": "-92233720368547758.08",
}
ROW_HIGH = {
    "c_smallint": "32767", "c_int": "2147483647", "c_bigint": "9223372036854775807",
    "c_num": "999999999.999", "c_numv": "'100000000000000000000.5'", "c_real": "'Infinity'",
    "c_double": "'NaN'", "c_bool": "true", "c_char": "'abcde'", "c_varchar": "'x'",
    "c_text": "'z'", "c_uuid": "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    "c_json": "'\"s\"'", "c_jsonb": "'[1, \"two\", {\"3\": null}]'", "c_bytea": "'\\x00ff7f80'",
    "c_date": "'9999-12-31'", "c_time": "'23:59:59.999999'", "c_time3": "'23:59:59.999'",
    "c_timetz": "'23:59:59.999999+14'", "c_ts": "'9999-12-31 23:59:59.999999'",
    "c_ts3": "'2262-04-11 23:47:16.854'", "c_tstz": "'9999-12-31 23:59:59.999999+00'",
    "c_tstz3": "'2038-01-19 03:14:07.123+00'",
    "c_interval": "'1000 years -1 seconds'", "c_intarr": "'{-2147483648,2147483647}'",
    "c_textarr": "'{\"é\",\"\\\\\\\"\"}'", "c_enum": "'ok'", "c_domain": "2147483647",
    "c_money": "92233720368547758.07",
}


def insert(table, rid, row):
    cols = ["id"] + list(row)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({rid}, {', '.join(row.values())});"


def workload(p):
    """Every operation the capture has: inserts of awkward values, NULLs,
    updates, a key change, deletes, multi-row transactions, truncate, an
    unchanged TOASTed column, tables without a key and with FULL identity."""
    p.sql(insert("alltypes", 1, ROW_NORMAL))
    p.sql("INSERT INTO alltypes (id) VALUES (2)")  # NULLs and column defaults
    p.sql(insert("alltypes", 3, ROW_LOW))
    p.sql(insert("alltypes", 4, ROW_HIGH))
    p.sql("UPDATE alltypes SET c_text = 'changed', c_num = 0.001, c_intarr = '{4}', c_numv = 0, "
          "c_tstz = '2024-01-15 08:30:00.5+00', c_int = 0 WHERE id = 1")
    p.sql("UPDATE alltypes SET id = 20 WHERE id = 2")  # primary key change
    p.sql("DELETE FROM alltypes WHERE id = 3")
    p.sql("BEGIN;" + insert("alltypes", 5, ROW_NORMAL) +
          "UPDATE alltypes SET c_bool = NULL, c_enum = 'sad' WHERE id = 5; DELETE FROM alltypes WHERE id = 4;"
          "COMMIT;")
    # REPLICA IDENTITY FULL: full before images, key change with full rows
    p.sql("INSERT INTO full_t VALUES (1, 'one', 1.10), (2, 'two', NULL)")
    p.sql("UPDATE full_t SET v = 'uno', n = -999.99 WHERE id = 1")
    p.sql("UPDATE full_t SET id = 3 WHERE id = 2")
    p.sql("DELETE FROM full_t WHERE id = 1")
    # no primary key: key-less records; FULL identity lets it update and delete
    p.sql("INSERT INTO nopk VALUES (1, 'a'), (2, NULL)")
    p.sql("TRUNCATE nopk")
    p.sql("INSERT INTO nopk_full VALUES (1, 'a'), (2, 'b')")
    p.sql("UPDATE nopk_full SET b = 'bb' WHERE a = 2")
    p.sql("DELETE FROM nopk_full WHERE a = 1")
    # a TOASTed value that does not change in an update
    p.sql("INSERT INTO toasty (id, big, n, nn, nn_i, nn_n, nn_v, nn_tz, nn_d, nn_u, nn_j, nn_b, nn_a, nn_f, "
          "nn_ts, nn_by) SELECT 1, string_agg(md5(i::text), ''), 0, 'x', 1, 1.5, 2.5, now(), now(), "
          "gen_random_uuid(), '{}', true, '{1}', 1e10, now(), '\\x01' FROM generate_series(1, 400) i")
    p.sql("UPDATE toasty SET n = 1 WHERE id = 1")
    p.sql("DELETE FROM toasty WHERE id = 1")
    p.sql("""INSERT INTO arrays VALUES (1, '{t,f,NULL}', '{-32768,32767}', '{-9223372036854775808}',
             '{1.5,NaN,-Infinity,3}', '{1e-300,2.5}', '{"a,b","","NULL",NULL}', '{a,bb}',
             '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', ARRAY['{"a": 1}']::json[],
             ARRAY['{"b": [1, 2]}', '"s"']::jsonb[], '{2024-02-29,1970-01-01}', '{1.5,-0.01}',
             '{1.50,NaN}', '{"2024-02-29 13:45:56.123456"}', '{"2024-02-29 13:45:56.123"}',
             '{"2024-02-29 13:45:56.5+02"}', '{13:45:56.123456}', '{13:45:56+02}', '{"\\\\x00ff"}',
             '{happy,sad}', '{"1 day"}', '{1.23}')""")
    p.sql("INSERT INTO arrays (id) VALUES (2)")
    p.sql("UPDATE arrays SET a_int2 = '{}', a_numv = '{1.50,-2,NULL,100,0.0,-0.0100}', a_num = '{}', a_varchar = '{\"x\\\\y\",\"q\\\"\"}' WHERE id = 1")
    # values at the edges of each parser
    odd = [
        "(1, '2000-01-01', '2000-01-01 00:00:00', '2000-01-01 00:00:00+00', '00:00:00.000001', "
        "'00:00:00.000001+00', '00:00:00.000001', '0', '0.0000000001', '{\"\\u00e9\": \"\\ud83d\\ude00\"}', "
        "E'\\u0001\\u001f\\u007f \u2028')",
        "(2, '1582-10-04', '1582-10-15 12:00:00.5', '1969-12-31 23:59:59.999999+00', '12:00:00', "
        "'12:00:00+05:45', '-178000000 years', '-123456789012345678901234567890.123456789', "
        "'-9999999999.9999999999', 'null', '')",
        "(3, '0001-01-01', '1900-01-01 00:00:00', '2024-06-30 23:59:59+14', '23:59:59', "
        "'23:59:59-12', '3 days 04:05:06', '1e-20', '0', '[1.0, 1e5, -0]', 'x')",
        "(4, '2100-02-28', '2000-02-29 23:59:59.999999', '2024-01-01 00:00:00.000001+00', '00:00:01', "
        "'00:00:00+00', '-00:00:00.000001', '100', '12345', '\"\\\\\"', 'y')",
        "(5, 'infinity', 'infinity', '-infinity', '24:00:00', '24:00:00+01', '0', '0', '0', '0', 'z')",
        "(6, '0044-03-15 BC', '0001-01-01 00:00:00 BC', '0005-02-29 12:00:00+00 BC', '00:00', "
        "'00:00+00', '1 day', '1', '1', '1', 'z')",
        "(7, '-infinity', '-infinity', 'infinity', '00:00', '00:00+00', '0', '0', '0', '0', 'z')",
        "(8, '10000-01-01', '2000-01-01', '12345-06-07 00:00:00+00', '00:00', '00:00+00', '0', '0', '0', "
        "'0', 'z')",
    ]
    for row in odd:
        p.sql(f"INSERT INTO odd VALUES {row}")
    p.sql("UPDATE odd SET iv = '1 mon -1 days 23:59:59.999999', nv = 'NaN' WHERE id = 1")
    for i, v in enumerate(("1.50", "100", "0.0", "-0.0100", "1e3", "12.300")):
        p.sql(f"UPDATE odd SET nv = '{v}', n2 = '{v}' WHERE id = {2 + i % 3}")
    # the seed's tables, as make run loads them
    uid = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    p.sql(f"INSERT INTO users (user_id, email, first_name) VALUES ('{uid}', 'a@example.com', 'Zoë')")
    p.sql(f"UPDATE users SET tier = 'gold', last_name = NULL WHERE user_id = '{uid}'")
    p.sql(f"DELETE FROM users WHERE user_id = '{uid}'")
    pid = "0b5e7c3a-1d2f-4a6b-9c8d-7e6f5a4b3c2d"
    p.sql(f"INSERT INTO products (product_id, name, price) VALUES ('{pid}', 'P', 12345678.90)")
    p.sql(f"UPDATE products SET price = -0.01, is_active = NULL WHERE product_id = '{pid}'")
    p.sql(f"DELETE FROM products WHERE product_id = '{pid}'")
    # Java's Double.toString / Float.toString layout
    floats = ["0", "-0", "1", "-1", "0.001", "0.000999", "1234567", "9999999", "10000000", "12345678.9",
              "1e-5", "1.5e-3", "3.4028235e38", "1.17549435e-38", "1e-45", "5e-324", "1.7976931348623157e308",
              "2.2250738585072014e-308", "0.1", "100", "123456.789", "-9.87654321e-7", "6.02214076e23"]
    p.sql("INSERT INTO floats (r, d) VALUES " + ", ".join(
        f"('{v}'::real, '{v}'::double precision)" if "e3" not in v and "e-3" not in v[-5:] else f"(NULL, '{v}')"
        for v in floats))
    # serial key and defaults of several kinds
    p.sql("INSERT INTO serialpk DEFAULT VALUES")
    p.sql("INSERT INTO serialpk (v, n, i) VALUES ('w', NULL, NULL)")
    p.sql("DELETE FROM serialpk WHERE id = 1")
    # schema changes: the next event carries the new schema
    p.sql("ALTER TABLE full_t ADD COLUMN extra integer DEFAULT 5")
    p.sql("INSERT INTO full_t (id, v) VALUES (10, 'ten')")
    p.sql("ALTER TABLE full_t DROP COLUMN n, ALTER COLUMN v TYPE varchar(20)")
    p.sql("UPDATE full_t SET v = 'TEN' WHERE id = 10")
    # the sentinel: last change, so once both have it, both have everything
    p.sql("INSERT INTO full_t (id, v) VALUES (999, 'end')")


def connector_properties(p, run):
    e = p.env
    props = {
        "name": f"dbz-{p.id}",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": e["PGHOST"], "database.port": e["PGPORT"],
        "database.user": e["PGUSER"], "database.password": e["PGPASSWORD"],
        # TLS as capture has it: the stack's CA, the host name checked
        "database.sslmode": "verify-full", "database.sslrootcert": e["PG_CA_FILE"],
        "database.dbname": p.db, "topic.prefix": run["prefix"],
        "plugin.name": "pgoutput", "slot.name": f"dbz_{p.id}",
        "publication.name": f"dbzpub_{p.id}", "publication.autocreate.mode": "filtered",
        "table.include.list": run["include"], "snapshot.mode": run["snapshot.mode"],
        "skipped.operations": "none",
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": f"{run['prefix']}\\.public\\.(.*)",
        "transforms.route.replacement": f"dbz.{p.id}.$1",
    }
    props.update(run.get("options", {}))
    props.update(run.get("dbz_options", {}))

    def esc(v):
        return v.replace("\\", "\\\\")
    path = p.tmp / "debezium-connector.properties"
    path.write_text("".join(f"{k}={esc(v)}\n" for k, v in props.items()))
    return path


def read_topic(env, topic):
    """Every record of topic up to its current end, as (partition, offset, key, value)."""
    return [(m.partition(), m.offset(), m.key(), m.value()) for m in dpcheck.read_topics(env, [topic], 30)]


def has_sentinel(env, topic):
    for _, _, _, v in read_topic(env, topic):
        pl = json.loads(v)["payload"] if v else None
        # an envelope, or the row itself once ExtractNewRecordState unwrapped it
        row = (pl.get("after") if "source" in pl else pl) if isinstance(pl, dict) else None
        if (row or {}).get("id") == 999:
            return True
    return False


class Rec:
    def __init__(self, partition, offset, key, value):
        self.partition, self.offset = partition, offset
        self.key_raw, self.value_raw = key, value
        self.key = json.loads(key) if key is not None else None
        self.value = json.loads(value) if value is not None else None

    @property
    def lsn(self):
        """source.lsn of an envelope; of an unwrapped row its __lsn field
        (add.fields=lsn) or -1"""
        pl = self.value["payload"] if self.value else None
        if not isinstance(pl, dict):
            return -1
        return pl["source"]["lsn"] if "source" in pl else pl.get("__lsn", -1)

    def label(self):
        if self.value is None:
            return f"tombstone p{self.partition}@{self.offset}"
        pl = self.value["payload"]
        if not isinstance(pl, dict) or "source" not in pl:  # unwrapped
            return f"row lsn={self.lsn} p{self.partition}@{self.offset}"
        return f"op={pl['op']} lsn={pl['source']['lsn']} p{self.partition}@{self.offset}"


def pair_up(dbz, dp):
    """Pair the records of one table: keyed ones partition by partition in
    offset order, key-less ones in LSN order. Returns (pairs, problems)."""
    problems = []
    pairs = []
    for keyed in (True, False):
        a = [r for r in dbz if (r.key_raw is not None) == keyed]
        b = [r for r in dp if (r.key_raw is not None) == keyed]
        if keyed:
            for part in range(PARTITIONS):
                pa = [r for r in a if r.partition == part]
                pb = [r for r in b if r.partition == part]
                if len(pa) != len(pb):
                    problems.append(f"partition {part}: debezium has {len(pa)} records "
                                    f"({[r.label() for r in pa]}), datapipe {len(pb)} ({[r.label() for r in pb]})")
                pairs += list(zip(pa, pb))
        else:
            # the producer picks their partitions: compare them in LSN order,
            # and the tombstones (key and value null) by number
            ta = [r for r in a if r.value is None]
            tb = [r for r in b if r.value is None]
            if len(ta) != len(tb):
                problems.append(f"key-less tombstones: debezium has {len(ta)}, datapipe {len(tb)}")
            a = sorted((r for r in a if r.value is not None), key=lambda r: (r.lsn, r.offset))
            b = sorted((r for r in b if r.value is not None), key=lambda r: (r.lsn, r.offset))
            if len(a) != len(b):
                problems.append(f"key-less: debezium has {len(a)} records ({[r.label() for r in a]}), "
                                f"datapipe {len(b)} ({[r.label() for r in b]})")
            pairs += list(zip(a, b))
    return pairs, problems


def diff(a, b, path="", out=None):
    """Paths where a and b differ, with both sides; dict key order counts
    (JsonConverter writes fields in schema order)."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b) and set(a) == set(b):
            out.append(f"{path or '.'}: key order debezium={list(a)} datapipe={list(b)}")
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                out.append(f"{path}.{k}: only debezium has it: {json.dumps(a[k])[:300]}")
            elif k not in a:
                out.append(f"{path}.{k}: only datapipe has it: {json.dumps(b[k])[:300]}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            label = x.get("field", i) if isinstance(x, dict) else i
            diff(x, y, f"{path}[{label}]", out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: debezium={json.dumps(a)[:300]} datapipe={json.dumps(b)[:300]}")
    return out


IGNORED_PAYLOAD = ("ts_ms", "ts_us", "ts_ns")  # processing time of the envelope


# snapshot records: each connector reads its own snapshot at its own time
# from its own slot, so where and when legitimately differ
IGNORED_SNAPSHOT_SOURCE = ("ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence")


def strip(doc, drop_columns=()):
    """A copy without the ignored timing fields and without drop_columns
    (in schemas and payloads), for the whole-record comparison."""
    if doc is None:
        return None
    doc = json.loads(json.dumps(doc))
    pl = doc.get("payload")
    sc = doc.get("schema")
    if isinstance(pl, dict):
        if "source" in pl:
            for k in IGNORED_PAYLOAD:
                pl.pop(k, None)
            if pl.get("op") == "r":
                for k in IGNORED_SNAPSHOT_SOURCE:
                    pl["source"].pop(k, None)
            for side in ("before", "after"):
                if isinstance(pl.get(side), dict):
                    for c in drop_columns:
                        pl[side].pop(c, None)
        else:  # a key
            for c in drop_columns:
                pl.pop(c, None)

    def drop_fields(s):
        if isinstance(s, dict) and isinstance(s.get("fields"), list):
            s["fields"] = [f for f in s["fields"] if f.get("field") not in drop_columns]
            for f in s["fields"]:
                if f.get("type") == "struct" and f.get("field") in ("before", "after"):
                    drop_fields(f)
    drop_fields(sc)
    return doc


def column_view(doc, col):
    """Only what concerns col: its schema in each struct, its values."""
    if doc is None:
        return None
    out = {}
    sc, pl = doc.get("schema") or {}, doc.get("payload")
    for f in sc.get("fields", []):
        if f.get("field") == col:
            out["key.schema"] = f
        if f.get("field") in ("before", "after"):
            for g in f.get("fields", []):
                if g.get("field") == col:
                    out[f"{f['field']}.schema"] = g
    if isinstance(pl, dict):
        if "source" in pl:
            for side in ("before", "after"):
                if isinstance(pl.get(side), dict) and col in pl[side]:
                    out[f"{side}.value"] = pl[side][col]
        elif col in pl:
            out["key.value"] = pl[col]
    return out


def snapshot_rows(p):
    """Rows that exist before either connector starts, for the snapshot run."""
    p.sql(insert("alltypes", 1, ROW_NORMAL))
    p.sql("INSERT INTO alltypes (id) VALUES (2)")
    p.sql(insert("alltypes", 3, ROW_LOW))
    p.sql(insert("alltypes", 4, ROW_HIGH))
    p.sql("INSERT INTO full_t VALUES (1, 'one', 1.10), (2, NULL, NULL)")
    p.sql("INSERT INTO nopk VALUES (1, 'a')")
    p.sql("INSERT INTO serialpk DEFAULT VALUES")
    p.sql("INSERT INTO floats (r, d) VALUES (1.5, 1e10), (NULL, 0.001)")


def run_parity(tmp_path_factory, snapshot, options=None, dbz_options=None, dp_options=None,
               extra_topics=None, prelude=None):
    """Debezium and capture on one database: streaming only (snapshot.mode
    no_data, then the workload), or a snapshot of snapshot_rows (initial).
    options go to both connectors, dbz_options and dp_options to one each;
    extra_topics {"dbz": [...], "dp": [...]} are created and read too;
    prelude(p), if given, runs after the schema is created: after the
    snapshot rows (so its rows are in the snapshot) or just before the
    workload.
    Yields {table: {"dbz": [Rec], "dp": [Rec]}}, extra topics by name under
    "topics": {"dbz": {name: [Rec]}, "dp": {...}}."""
    env = dpcheck.process_env()
    binary = ROOT / os.environ.get("DP_BUILD_DIR", "build") / "datapipe"
    assert binary.exists(), f"{binary} not built"
    if not (ROOT / ".cache" / f"debezium-{versions()['DEBEZIUM_VERSION']}" / ".complete").exists():
        pytest.fail("debezium is not installed: scripts/setup debezium (make test does)")
    p = Pipeline(env, binary, tmp_path_factory.mktemp("parity"))
    mode = "initial" if snapshot else "no_data"
    run = {"prefix": p.prefix, "include": ",".join(f"public.{t}" for t in TABLES), "snapshot.mode": mode,
           "options": dict(options or {}), "dbz_options": dict(dbz_options or {})}
    extra_topics = extra_topics or {"dbz": [], "dp": []}
    try:
        p.sql(SCHEMA_SQL)
        if snapshot:
            snapshot_rows(p)
            if prelude:
                prelude(p)
        topics = {side: {t: f"{side}.{p.id}.{t}" for t in TABLES} for side in ("dbz", "dp")}
        all_topics = [n for side in topics.values() for n in side.values()]
        all_topics += [n for names in extra_topics.values() for n in names]
        p.grant(routed_prefix=f"dp.{p.id}.", capture_topics=extra_topics["dp"])
        create_topics(env, all_topics, partitions=PARTITIONS)
        p.extra_topics += all_topics
        dpcheck.wait_for(lambda: set(all_topics) <= set(admin(env).list_topics(timeout=10).topics), 30,
                         what="the topics to be known to the brokers")
        work = p.tmp / "connect"
        port = os.environ.get("DP_DEBEZIUM_REST_PORT") or str(dpcheck.free_port())
        p.procs["debezium"] = dpcheck.start(
            [str(ROOT / "scripts" / "debezium"), "run", str(connector_properties(p, run)), str(work), port],
            env, p.tmp / "debezium.log")
        p.start("capture", p.capture_config(**{
            "table.include.list": run["include"], "skipped.operations": "none", "snapshot.mode": mode,
            "transforms.route.regex": f"{p.prefix}\\.public\\.(.*)",
            "transforms.route.replacement": f"dp.{p.id}.$1", **(options or {}), **(dp_options or {})}))

        def slot_active(name):
            # streaming, not just held: a slot is also active while it is being
            # created, before its consistent point (changes then are not in it)
            r = dpcheck.pg_rows(env, "SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r "
                                     f"ON r.pid = s.active_pid WHERE s.slot_name = '{name}'")
            return bool(r and r[0][0] == "streaming")

        def up(what, slot):
            proc = p.procs[what]
            dpcheck.wait_for(lambda: proc.poll() is not None or slot_active(slot), 120,
                             what=f"{what} to stream")
            assert proc.poll() is None, f"{what} exited:\n" + p.log(what)[-5000:]
        up("capture", f"slot_{p.id}")
        up("debezium", f"dbz_{p.id}")
        if snapshot:
            p.sql("INSERT INTO full_t (id, v) VALUES (999, 'end')")
        else:
            if prelude:
                prelude(p)
            workload(p)
        for side in ("dbz", "dp"):
            dpcheck.wait_for(lambda: has_sentinel(env, topics[side]["full_t"]), 90,
                             what=f"{side} to deliver the whole workload")
        time.sleep(1)
        result = {}
        for t in TABLES:
            recs = {}
            for side in ("dbz", "dp"):
                recs[side] = [Rec(*r) for r in read_topic(env, topics[side][t])]
            result[t] = recs
        result["topics"] = {side: {n: [Rec(*r) for r in read_topic(env, n)] for n in names}
                            for side, names in extra_topics.items()}
        (p.tmp / "records.json").write_text(json.dumps(
            {t: {s: [[r.partition, r.offset, r.key, r.value] for r in rs] for s, rs in v.items()}
             for t, v in result.items() if t != "topics"}, indent=1))
        print(f"parity records in {p.tmp / 'records.json'}")
        result["names"] = topics  # {"dbz"|"dp": {table: topic}}
        yield result
    finally:
        p.close()


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    yield from run_parity(tmp_path_factory, snapshot=False)


@pytest.fixture(scope="module")
def parity_snapshot(tmp_path_factory):
    yield from run_parity(tmp_path_factory, snapshot=True)


def tables_of(result):
    """(table, {"dbz": [Rec], "dp": [Rec]}) of a run_parity result."""
    return ((t, result[t]) for t in TABLES)


def versions():
    out = {}
    for line in (ROOT / "scripts" / "versions").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def xfail_columns():
    return [c for c, (_, why) in COLUMNS.items() if why]


def test_same_records_in_the_same_order_on_the_same_partitions(parity):
    """Keys, values, schemas, partitions, tombstones, order, for every table;
    the columns whose type still differs (xfailed below) are left out."""
    problems = []
    for table, recs in tables_of(parity):
        assert recs["dbz"], f"debezium produced nothing for {table}"
        pairs, probs = pair_up(recs["dbz"], recs["dp"])
        problems += [f"{table}: {x}" for x in probs]
        for a, b in pairs:
            where = f"{table} {a.label()} vs {b.label()}"
            if (a.value is None) != (b.value is None):
                problems.append(f"{where}: tombstone on one side only")
            skip = xfail_columns() if table == "alltypes" else ()
            for d in diff(strip(a.key, skip), strip(b.key, skip), "key"):
                problems.append(f"{where}: {d}")
            for d in diff(strip(a.value, skip), strip(b.value, skip), "value"):
                problems.append(f"{where}: {d}")
    assert not problems, "datapipe differs from Debezium:\n" + "\n".join(problems[:200])


@pytest.mark.parametrize("col", [
    pytest.param(c, marks=pytest.mark.xfail(reason=why, strict=True)) if why else c
    for c, (_, why) in COLUMNS.items()])
def test_column_type(parity, col):
    """One column's schema (key, before, after) and its values in every record."""
    recs = parity["alltypes"]
    pairs, probs = pair_up(recs["dbz"], recs["dp"])
    assert not probs, probs
    problems = []
    for a, b in pairs:
        for part, x, y in (("key", a.key, b.key), ("value", a.value, b.value)):
            for d in diff(column_view(x, col), column_view(y, col), part):
                problems.append(f"{a.label()}: {d}")
    assert not problems, f"{col} ({COLUMNS[col][0]}) differs from Debezium:\n" + "\n".join(problems)


ENVELOPE_TIMES = re.compile(rb'"op":"(.)","ts_ms":-?\d+,"ts_us":-?\d+,"ts_ns":-?\d+}')


def byte_difference(va, vb):
    """Where two serialized records first differ, with 80 bytes of context
    on each side."""
    i = next((k for k in range(min(len(va), len(vb))) if va[k] != vb[k]), min(len(va), len(vb)))
    return f"at byte {i}:\n  debezium ...{va[max(0, i - 80):i + 80]!r}\n  datapipe ...{vb[max(0, i - 80):i + 80]!r}"


def test_same_bytes(parity):
    """The serialized records, byte for byte (number formatting, key order,
    escaping), with only the envelope's processing times blanked."""
    problems = []
    for table, recs in tables_of(parity):
        pairs, _ = pair_up(recs["dbz"], recs["dp"])
        for a, b in pairs:
            if a.key_raw != b.key_raw:
                problems.append(f"{table} {a.label()} key:\n  debezium {a.key_raw!r}\n  datapipe {b.key_raw!r}")
            va, vb = (ENVELOPE_TIMES.sub(rb'"op":"\1"}', v) if v else v for v in (a.value_raw, b.value_raw))
            if va != vb:
                problems.append(f"{table} {a.label()} value {byte_difference(va, vb)}")
    assert not problems, "serialized records differ:\n" + "\n".join(problems[:60])


# Debezium reads money through a JDBC double in a snapshot, so beyond 2^53
# cents its "r" value is rounded (it is exact when streaming); datapipe keeps
# the exact value. Rows 3 and 4 hold money's extremes.
SNAPSHOT_MONEY_ROUNDED = (3, 4)


def test_snapshot_records(parity_snapshot):
    """snapshot.mode=initial on both: the op "r" records (values read with
    SQL, not decoded from WAL), their source.snapshot markers, then the
    stream; source position and times of "r" records are each connector's
    own."""
    problems = []
    for table, recs in tables_of(parity_snapshot):
        pairs, probs = pair_up(recs["dbz"], recs["dp"])
        problems += [f"{table}: {x}" for x in probs]
        for a, b in pairs:
            where = f"{table} {a.label()} vs {b.label()}"
            after = (a.value or {}).get("payload", {}).get("after") or {}
            skip = ("c_money",) if table == "alltypes" and after.get("id") in SNAPSHOT_MONEY_ROUNDED else ()
            for d in diff(strip(a.key), strip(b.key), "key"):
                problems.append(f"{where}: {d}")
            for d in diff(strip(a.value, skip), strip(b.value, skip), "value"):
                problems.append(f"{where}: {d}")
    assert not problems, "datapipe's snapshot differs from Debezium's:\n" + "\n".join(problems[:200])
