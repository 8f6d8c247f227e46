"""Message keys: the primary key; none for tables without one; the
columns message.key.columns names instead, on the Java client's partition."""
import json
import uuid

from conftest import create_topics, java_partition
from test_0005_snapshot import consume_all


def test_tables_without_pk_and_message_key_columns(pipeline):
    p = pipeline
    p.sql("CREATE TABLE nopk (code text, qty int); CREATE TABLE nopk2 (code text, qty int)")
    topics = [f"cdc.{p.prefix}.nopk", f"cdc.{p.prefix}.nopk2"]
    create_topics(p.env, topics)
    p.start("capture", p.capture_config(**{
        "snapshot.mode": "no_data",
        "table.include.list": "public.users,public.products,public.nopk,public.nopk2",
        "publication.autocreate.mode": "all_tables",
        "message.key.columns": "public.nopk2:code;public\\.users:email,tier"}))
    p.wait_streaming()
    p.sql("INSERT INTO nopk VALUES ('a', 1); INSERT INTO nopk2 VALUES ('b', 2)")
    uid = str(uuid.uuid4())
    p.sql(f"INSERT INTO users (user_id, email, tier) VALUES ('{uid}', 'k@example.com', 'gold')")
    p.wait_confirmed(p.current_lsn())
    m1 = consume_all(p.env, [topics[0]], f"k1-{p.id}")
    assert len(m1) == 1 and m1[0].key() is None
    m2 = consume_all(p.env, [topics[1]], f"k2-{p.id}")
    assert len(m2) == 1 and json.loads(m2[0].key())["payload"] == {"code": "b"}
    assert m2[0].partition() == java_partition(m2[0].key(), 6)
    mu = [m for m in consume_all(p.env, [p.topics["users"]], f"k3-{p.id}") if m.value()]
    key = json.loads(mu[0].key())
    assert key["payload"] == {"email": "k@example.com", "tier": "gold"}
    assert [f["field"] for f in key["schema"]["fields"]] == ["email", "tier"]


def test_message_key_columns_naming_a_missing_column_is_an_error(pipeline):
    p = pipeline
    proc = p.start("capture", p.capture_config(**{"snapshot.mode": "no_data",
                                                  "message.key.columns": "public.users:nosuch"}))
    p.wait_streaming()
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{uuid.uuid4()}', 'x@example.com')")
    assert proc.wait(timeout=60) != 0
    assert '"message.key.columns" names column "nosuch"' in p.log("capture")
