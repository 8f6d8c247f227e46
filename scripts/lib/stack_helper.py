"""Provisioning steps of scripts/stack that need a real client library.

Run with the project's venv python (.venv/bin/python). Every wait is bounded by
--timeout; the exit status is 0 on success, 1 on failure (reason on stderr).

  kafka  --bootstrap H:P,... --brokers N --topics JSON --timeout S
         wait until N brokers are in the cluster metadata, create the missing
         topics, then wait until every partition of them has a leader and a
         full ISR.
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


def cmd_kafka(args):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    deadline = time.monotonic() + args.timeout
    topics = json.loads(args.topics)
    admin = AdminClient({"bootstrap.servers": args.bootstrap,
                         "socket.connection.setup.timeout.ms": 3000,
                         "log_level": 0,
                         "logger": _quiet_logger()})

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

    # 3. every partition led and fully replicated
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
    k.add_argument("--timeout", type=float, default=90)
    b = sub.add_parser("bucket")
    b.add_argument("--endpoint", required=True)
    b.add_argument("--bucket", required=True)
    b.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    return {"kafka": cmd_kafka, "bucket": cmd_bucket}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
