"""ALTER TABLE add/drop/alter column: the event schema changes from the
next event on, as a new pgoutput Relation message arrives."""
import json
import uuid

from test_0005_snapshot import consume_all


def fields(value):
    after = [f for f in value["schema"]["fields"] if f["field"] == "after"][0]
    return {f["field"]: f for f in after["fields"]}


def test_alter_table_changes_the_schema_from_the_next_event(pipeline):
    p = pipeline
    p.start("capture", p.capture_config(**{"snapshot.mode": "no_data"}))
    p.wait_streaming()
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    p.sql(f"INSERT INTO users (user_id, email) VALUES ('{a}', 'a@example.com')")
    p.sql("ALTER TABLE users ADD COLUMN nickname text NOT NULL DEFAULT 'n', ADD COLUMN score numeric(5,1)")
    p.sql(f"INSERT INTO users (user_id, email, score) VALUES ('{b}', 'b@example.com', 12.5)")
    p.sql("ALTER TABLE users DROP COLUMN first_name, ALTER COLUMN last_name TYPE text, "
          "ALTER COLUMN tier SET NOT NULL")
    p.sql(f"INSERT INTO users (user_id, email, tier) VALUES ('{c}', 'c@example.com', 'gold')")
    p.wait_confirmed(p.current_lsn())
    values = [json.loads(m.value()) for m in consume_all(p.env, [p.topics["users"]], f"sc-{p.id}")
              if m.value() is not None]
    values.sort(key=lambda v: v["payload"]["source"]["lsn"])
    assert [v["payload"]["after"]["user_id"] for v in values] == [a, b, c]
    f0, f1, f2 = (fields(v) for v in values)
    assert "nickname" not in f0 and "nickname" not in values[0]["payload"]["after"]
    assert f1["nickname"]["optional"] is False and values[1]["payload"]["after"]["nickname"] == "n"
    assert f1["score"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert f1["score"]["parameters"]["scale"] == "1"
    assert "first_name" in f1 and "first_name" not in f2
    assert "first_name" not in values[2]["payload"]["after"]
    assert f1["tier"]["optional"] is True and f2["tier"]["optional"] is False
    assert f2["last_name"]["type"] == "string"
