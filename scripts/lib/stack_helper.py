"""Provisioning steps of scripts/stack that need a real client library.

Run with the project's venv python (.venv/bin/python). Every wait is bounded by
--timeout; the exit status is 0 on success, 1 on failure (reason on stderr).

  kafka  --bootstrap H:P,... --brokers N --topics JSON --acls JSON --timeout S
         as the admin principal (KAFKA_ADMIN_USER/_PASSWORD, CA in
         KAFKA_CA_FILE): wait until N brokers are in the cluster metadata, set
         the SCRAM-SHA-512 credentials of the users named in KAFKA_SCRAM_USERS
         (password in KAFKA_<USER>_PASSWORD), create the missing topics, grant
         the ACLs (a list of service_acls() arguments), then wait until every
         partition of the topics has a leader and a full ISR.
  bucket --endpoint URL --bucket NAME --timeout S
         wait until the S3 server answers, create the bucket if it is missing.
         Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import json
import os
import sys
import time


def fail(msg):
    print("stack_helper: " + msg, file=sys.stderr)
    return 1


def kafka_conf(env, who="admin", mechanism="PLAIN", **extra):
    """librdkafka settings for one of the stack's principals (admin, capture,
    archive): SASL over TLS, the stack's CA. env is .stack/env as a dict."""
    conf = {"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"],
            "security.protocol": "SASL_SSL", "sasl.mechanism": mechanism,
            "sasl.username": env[f"KAFKA_{who.upper()}_USER"],
            "sasl.password": env[f"KAFKA_{who.upper()}_PASSWORD"],
            "ssl.ca.location": env["KAFKA_CA_FILE"],
            # over TLS a request goes out as several writes: without this, Nagle
            # holds the tail of each for the broker's delayed ACK
            "socket.nagle.disable": True}
    conf.update(extra)
    return conf


def service_acls(capture=None, topic_prefix=None, routed_prefix=None, archive=None,
                 dlq=None, position_topic="datapipe-offsets", name_prefixes=False,
                 capture_topics=(), capture_create=False):
    """The ACLs of one capture and one archive, least privilege.
    capture (its `name`) writes the topics of its topic.prefix (and those
    RegexRouter sends under routed_prefix), its heartbeats and transaction
    metadata, under its transactional id, and keeps its position in
    position_topic. archive (its `name`) reads the routed topics in its
    group connect-<name> and writes its dead letter queue. name_prefixes
    grants the transactional id, group and dead letter queue as prefixes (a
    test that runs a second service under a longer name); capture_topics
    are more topics capture writes (a transform's output elsewhere).
    capture_create also lets capture create the topics it writes
    (topic.creation.*: Create on the same prefixes)."""
    from confluent_kafka.admin import (AclBinding, AclOperation as Op, AclPermissionType,
                                       ResourcePatternType as Pat, ResourceType as Res)

    out = []
    named = Pat.PREFIXED if name_prefixes else Pat.LITERAL

    def grant(user, res, pat, name, *ops):
        for op in ops:
            out.append(AclBinding(res, name, pat, "User:" + user, "*", op,
                                  AclPermissionType.ALLOW))

    if capture:
        w = (Op.WRITE, Op.DESCRIBE)
        tw = w + ((Op.CREATE,) if capture_create else ())  # the topics it writes
        for pfx in {topic_prefix + ".", "__debezium-heartbeat." + topic_prefix, routed_prefix} - {None}:
            grant("capture", Res.TOPIC, Pat.PREFIXED, pfx, *tw)
        for t in capture_topics:
            grant("capture", Res.TOPIC, Pat.LITERAL, t, *tw)
        grant("capture", Res.TRANSACTIONAL_ID, named, "datapipe-capture-" + capture, *w)
        grant("capture", Res.TOPIC, Pat.LITERAL, position_topic, Op.READ, *w)
        # the position reader's group: it commits nothing but librdkafka asks
        # for its coordinator
        grant("capture", Res.GROUP, Pat.LITERAL, "datapipe-position-reader", Op.READ, Op.DESCRIBE)
    if archive and routed_prefix:
        grant("archive", Res.TOPIC, Pat.PREFIXED, routed_prefix, Op.READ, Op.DESCRIBE)
    if archive:
        grant("archive", Res.GROUP, named, "connect-" + archive, Op.READ, Op.DESCRIBE)
        if dlq:
            grant("archive", Res.TOPIC, named, dlq, Op.WRITE, Op.DESCRIBE)
    return out


def grant_acls(admin, bindings, timeout=30):
    """Create the ACLs (creating one that exists is no error); raise on the first
    failure."""
    if bindings:
        for fut in admin.create_acls(bindings, request_timeout=timeout).values():
            fut.result()


def set_scram(admin, users, env, timeout=30):
    """Set (or reset) each user's SCRAM-SHA-512 password from env."""
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    ups = [UserScramCredentialUpsertion(u, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                        env[f"KAFKA_{u.upper()}_PASSWORD"].encode())
           for u in users]
    for fut in admin.alter_user_scram_credentials(ups, request_timeout=timeout).values():
        fut.result()


def cmd_kafka(args):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    deadline = time.monotonic() + args.timeout
    topics = json.loads(args.topics)
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=args.bootstrap)
    admin = AdminClient(kafka_conf(env, **{"socket.connection.setup.timeout.ms": 3000,
                                           "log_level": 0, "logger": _quiet_logger()}))

    # 1. all brokers registered and unfenced
    brokers = 0
    md = None
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=3)
            brokers = len(md.brokers)
            if brokers >= args.brokers:
                break
        except KafkaException:
            pass
        time.sleep(0.5)
    else:
        return fail("only %d of %d kafka brokers up after %ds"
                    % (brokers, args.brokers, args.timeout))

    # 2. create the missing topics (retry while the cluster settles)
    while True:
        md = _metadata(admin, deadline)
        if md is None:
            return fail("no cluster metadata after %ds" % args.timeout)
        missing = [t for t in topics if t["name"] not in md.topics]
        for t in topics:
            have = md.topics.get(t["name"])
            if have is not None and len(have.partitions) != t["partitions"]:
                print("stack_helper: warning: topic %s has %d partitions, want %d"
                      % (t["name"], len(have.partitions), t["partitions"]),
                      file=sys.stderr)
        if not missing:
            break
        new = [NewTopic(t["name"], num_partitions=t["partitions"],
                        replication_factor=t["replication"],
                        config={k: str(v) for k, v in t.get("config", {}).items()})
               for t in missing]
        errors = []
        for name, fut in admin.create_topics(new, request_timeout=15).items():
            try:
                fut.result()
            except KafkaException as e:
                err = e.args[0]
                if err.name() != "TOPIC_ALREADY_EXISTS":
                    errors.append("%s: %s" % (name, err.str()))
        if not errors:
            continue
        if time.monotonic() >= deadline:
            return fail("creating topics failed: " + "; ".join(errors))
        time.sleep(1)

    # 3. users and grants (retried while the controller settles)
    acls = [b for spec in json.loads(args.acls) for b in service_acls(**spec)]
    users = [u for u in os.environ.get("KAFKA_SCRAM_USERS", "").split(",") if u]
    while True:
        try:
            set_scram(admin, users, env)
            grant_acls(admin, acls)
            break
        except KafkaException as e:
            if time.monotonic() >= deadline:
                return fail("setting users and ACLs failed: %s" % e.args[0].str())
            time.sleep(1)

    # 4. every partition led and fully replicated
    names = [t["name"] for t in topics]
    want_isr = {t["name"]: t["replication"] for t in topics}
    lagging = names
    while time.monotonic() < deadline:
        md = _metadata(admin, deadline)
        if md is None:
            break
        lagging = []
        for n in names:
            tm = md.topics.get(n)
            if tm is None or tm.error is not None:
                lagging.append(n)
                continue
            for p in tm.partitions.values():
                if p.leader < 0 or len(p.isrs) < want_isr[n]:
                    lagging.append("%s[%d]" % (n, p.id))
        if not lagging:
            return 0
        time.sleep(0.5)
    return fail("partitions without leader or full ISR after %ds: %s"
                % (args.timeout, ", ".join(lagging[:10])))


def _metadata(admin, deadline):
    """Cluster metadata, retried until deadline; None when it never came."""
    from confluent_kafka import KafkaException
    while time.monotonic() < deadline:
        try:
            return admin.list_topics(timeout=5)
        except KafkaException:
            time.sleep(0.5)
    return None


def _quiet_logger():
    import logging
    lg = logging.getLogger("stack_helper.rdkafka")
    lg.addHandler(logging.NullHandler())
    lg.propagate = False
    return lg


def _s3(endpoint, key, secret):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"},
                                      connect_timeout=2, read_timeout=10,
                                      retries={"max_attempts": 1}))


def cmd_bucket(args):
    from botocore.exceptions import ClientError, EndpointConnectionError

    s3 = _s3(args.endpoint, os.environ["AWS_ACCESS_KEY_ID"],
             os.environ["AWS_SECRET_ACCESS_KEY"])
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
            if args.bucket not in names:
                try:
                    s3.create_bucket(Bucket=args.bucket)
                except ClientError as e:
                    code = e.response.get("Error", {}).get("Code")
                    if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            s3.head_bucket(Bucket=args.bucket)
            return 0
        except (EndpointConnectionError, ConnectionError) as e:
            last = str(e)
        except ClientError as e:
            return fail("s3: " + str(e))
        except Exception as e:  # urllib3 / socket errors while it starts
            last = str(e)
        time.sleep(0.3)
    return fail("s3 server not answering after %ds: %s" % (args.timeout, last))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("kafka")
    k.add_argument("--bootstrap", required=True)
    k.add_argument("--brokers", type=int, required=True)
    k.add_argument("--topics", required=True)
    k.add_argument("--acls", default="[]")
    k.add_argument("--timeout", type=float, default=90)
    b = sub.add_parser("bucket")
    b.add_argument("--endpoint", required=True)
    b.add_argument("--bucket", required=True)
    b.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    return {"kafka": cmd_kafka, "bucket": cmd_bucket}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
