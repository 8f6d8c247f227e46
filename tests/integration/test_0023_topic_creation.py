"""Topic creation as a Kafka Connect source connector does it (KIP-158,
topic.creation.*) on the secured stack: capture creates the topics it
writes before their first record (change topics after RegexRouter, the
heartbeat and transaction metadata topics) with the partitions,
replication factor and topic configs of the group each falls in;
`datapipe topics` does the same and exits, naming each topic created or
found; a principal without Create gets an error naming the topic and the
broker's reason. Everything is checked with an independent client
(confluent-kafka's AdminClient and a read_committed consumer)."""
import json
import subprocess

import dpcheck
from conftest import Pipeline, admin

TABLES = ("orders", "audit_log")


class TopicPipeline(Pipeline):
    """A pipeline of two tables of its own whose topics do not exist yet:
    capture (or datapipe topics) is to create them. Topics it may create are
    deleted with the pipeline."""

    def __init__(self, env, binary, tmp_path):
        super().__init__(env, binary, tmp_path, tables=TABLES, make_topics=False,
                         schema="CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL);"
                                "CREATE TABLE audit_log (id int PRIMARY KEY, note text)")
        self.hb_topic = f"__debezium-heartbeat.{self.prefix}"
        self.tx_topic = f"{self.prefix}.transaction"
        self.extra_topics = [self.hb_topic, self.tx_topic]

    def creating_config(self, **extra):
        """Capture's configuration with the two tables, heartbeats,
        transaction metadata and creation rules: the default group (3
        partitions, RF 3, delete after 2 h) and an audit group (1 partition,
        RF inherited, compacted)."""
        return self.capture_config(**{
            "table.include.list": "public.orders,public.audit_log",
            "heartbeat.interval.ms": "500", "provide.transaction.metadata": "true",
            "topic.creation.default.replication.factor": "3",
            "topic.creation.default.partitions": "3",
            "topic.creation.default.cleanup.policy": "delete",
            "topic.creation.default.retention.ms": "7200000",
            "topic.creation.groups": "audit",
            "topic.creation.audit.include": f"cdc\\.{self.prefix}\\.audit_.*",
            "topic.creation.audit.partitions": "1",
            "topic.creation.audit.cleanup.policy": "compact",
            "topic.creation.audit.min.insync.replicas": "2",
            **extra})

    def topics_cmd(self, config, timeout=180):
        return subprocess.run([str(self.binary), "topics", "--config", str(config)], env=self.env,
                              capture_output=True, text=True, timeout=timeout)


def topic_facts(env, names):
    """{topic: (partitions, replicas of each partition, {config: value} set
    on the topic)} as the cluster describes them; None for a missing one."""
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType
    a = admin(env)
    md = a.list_topics(timeout=15).topics
    out = {}
    for n in names:
        t = md.get(n)
        if t is None or t.error is not None:
            out[n] = None
            continue
        res = ConfigResource(ResourceType.TOPIC, n)
        cfg = a.describe_configs([res], request_timeout=15)[res].result(timeout=30)
        dyn = ConfigSource.DYNAMIC_TOPIC_CONFIG
        dynamic = {k: e.value for k, e in cfg.items() if e.source in (dyn, dyn.value)}
        out[n] = (len(t.partitions), {len(p.replicas) for p in t.partitions.values()}, dynamic)
    return out


def check_created(p):
    """The four topics as the rules say, checked by the cluster."""
    orders, audit = p.topics["orders"], p.topics["audit_log"]
    names = [orders, audit, p.hb_topic, p.tx_topic]
    # a topic created a moment ago may not be in every broker's metadata yet
    facts = dpcheck.wait_for(lambda: (lambda f: f if None not in f.values() else None)(
        topic_facts(p.env, names)), 30, interval=0.5, what=f"topics {names}")
    default = (3, {3}, {"cleanup.policy": "delete", "retention.ms": "7200000"})
    assert facts[orders] == default, facts
    # its own partitions and configs, the default group's replication factor,
    # and not the default group's retention.ms
    assert facts[audit] == (1, {3}, {"cleanup.policy": "compact", "min.insync.replicas": "2"}), facts
    assert facts[p.hb_topic] == default, facts
    assert facts[p.tx_topic] == default, facts


def test_capture_creates_its_topics(env, binary, tmp_path):
    p = TopicPipeline(env, binary, tmp_path)
    try:
        p.grant(capture_create=True)
        p.sql("INSERT INTO orders VALUES (1, 'before'); INSERT INTO audit_log VALUES (1, 'before')")
        assert all(v is None for v in topic_facts(p.env, list(p.topics.values())).values())
        cfg = p.creating_config()
        p.start_capture(cfg)
        p.wait_streaming()
        p.sql("INSERT INTO orders VALUES (2, 'after'); INSERT INTO audit_log VALUES (2, 'after')")
        p.wait_confirmed(p.current_lsn())
        # heartbeats start with the stream: its topic comes with the first one
        dpcheck.wait_for(lambda: "created heartbeat topic" in p.log("capture"), 30,
                         what="the heartbeat topic")
        check_created(p)
        log = p.log("capture")
        for table in TABLES:
            assert f'created topic "{p.topics[table]}" for table "public.{table}"' in log, log
        assert f'created heartbeat topic "{p.hb_topic}"' in log, log
        assert f'created topic "{p.tx_topic}" for transaction metadata' in log, log
        # the records went to the topics it made: the snapshot's and the stream's
        msgs = dpcheck.read_topics(p.env, list(p.topics.values()))
        seen = sorted((m.topic(), json.loads(m.value())["payload"]["op"],
                       json.loads(m.value())["payload"]["after"]["id"]) for m in msgs if m.value())
        assert seen == sorted([(p.topics["orders"], "r", 1), (p.topics["orders"], "c", 2),
                               (p.topics["audit_log"], "r", 1), (p.topics["audit_log"], "c", 2)]), seen
        # datapipe topics afterwards: every topic found, nothing created (the
        # publication capture made says which tables)
        r = p.topics_cmd(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "created" not in r.stdout, r.stdout
        assert f'found topic "{p.topics["orders"]}" for table "public.orders": 3 partitions' in r.stdout
        assert f'found topic "{p.topics["audit_log"]}" for table "public.audit_log": 1 partition' \
            in r.stdout
        assert f'found topic "{p.hb_topic}" for heartbeats: 3 partitions' in r.stdout
        assert f'found topic "{p.tx_topic}" for transaction metadata: 3 partitions' in r.stdout
    finally:
        p.close()


def test_topics_command_creates_then_finds(env, binary, tmp_path):
    """The hook Job's command before capture ever ran (no publication yet:
    the tables of the filtered one capture would create)."""
    p = TopicPipeline(env, binary, tmp_path)
    try:
        p.grant(capture_create=True)
        cfg = p.creating_config()
        r = p.topics_cmd(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) == 4, r.stdout
        assert f'created topic "{p.topics["orders"]}" for table "public.orders": group "default", ' \
               'partitions 3, replication factor 3, cleanup.policy=delete, retention.ms=7200000' in lines
        assert f'created topic "{p.topics["audit_log"]}" for table "public.audit_log": group "audit", ' \
               'partitions 1, replication factor 3, cleanup.policy=compact, min.insync.replicas=2' \
            in lines
        assert any(ln.startswith(f'created topic "{p.hb_topic}" for heartbeats') for ln in lines), lines
        assert any(ln.startswith(f'created topic "{p.tx_topic}" for transaction metadata')
                   for ln in lines), lines
        check_created(p)
        # again: all there
        r = p.topics_cmd(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [ln.split(" ")[0] for ln in r.stdout.splitlines()] == ["found"] * 4, r.stdout
        # a table excluded by table.exclude.list has no topic to make
        r = p.topics_cmd(p.creating_config(**{"table.exclude.list": "public.audit_log",
                                              "heartbeat.interval.ms": "0",
                                              "provide.transaction.metadata": "false"}))
        assert r.returncode == 0 and r.stdout.splitlines() == [
            f'found topic "{p.topics["orders"]}" for table "public.orders": 3 partitions'], r.stdout
    finally:
        p.close()


def test_creation_refused_by_acl(env, binary, tmp_path):
    """Capture's principal without Create: capture stops and names the
    topic, the broker's reason and what to grant; datapipe topics too.
    Nothing is created."""
    p = TopicPipeline(env, binary, tmp_path)
    try:
        p.grant()  # Write and Describe, no Create
        cfg = p.creating_config(**{"heartbeat.interval.ms": "0", "provide.transaction.metadata": "false"})
        r = p.topics_cmd(cfg)
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stdout == "", r.stdout
        for table in TABLES:
            assert f'cannot create topic "{p.topics[table]}"' in r.stderr, r.stderr
        assert "Topic authorization failed" in r.stderr, r.stderr
        assert "grant this principal Create on the topic" in r.stderr, r.stderr

        p.sql("INSERT INTO orders VALUES (1, 'x')")
        proc = p.start("capture", cfg)
        dpcheck.wait_for(lambda: proc.poll() is not None, 90, what="capture to stop")
        log = p.log("capture")
        assert proc.returncode == 1, log
        # the snapshot binds audit_log first (schema.table order)
        want = (f'cannot create topic "{p.topics["audit_log"]}" (topic.creation group "audit", '
                'partitions 1, replication factor 3, cleanup.policy=compact, min.insync.replicas=2): '
                'Broker: Topic authorization failed: Authorization failed.')
        assert want in log, log
        assert "grant this principal Create on the topic" in log, log
        assert all(v is None for v in topic_facts(p.env, list(p.topics.values())).values())
    finally:
        p.close()
