"""deploy/helm/data-ingestion-pipeline: the chart renders with both values
files, a real kube-apiserver accepts every object (and refuses a malformed
one), and the rendered objects keep the promises of the README's Kubernetes
section: 4 GiB of limits, least-privilege network, no secret inline,
non-root pods, one capture replica, three brokers."""
import base64
import json
import os
import re
import subprocess

import pytest
import yaml

from conftest import CHART, NAMESPACE, RELEASE, ROOT, helm, render

VALUES = [(), ("values-dev.yaml",)]
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def mi(q):
    """A memory quantity in MiB."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(q))
    assert m, f"memory quantity {q!r}"
    return float(m.group(1)) * units.get(m.group(2) or "", 1 / 2**20)


def workloads(objs):
    return [o for o in objs if o["kind"] in WORKLOADS]


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def containers(w):
    spec = pod_spec(w)
    return spec.get("initContainers", []) + spec["containers"]


def replicas(w):
    return w["spec"].get("replicas", 1) if w["kind"] != "Job" else w["spec"].get("parallelism", 1)


def by(objs, kind, component):
    found = [o for o in objs if o["kind"] == kind and
             o["metadata"]["labels"].get("app.kubernetes.io/name") == component]
    assert len(found) == 1, f"{kind} {component}: {len(found)} rendered"
    return found[0]


def limits_sum(objs):
    return sum(replicas(w) * mi(c["resources"]["limits"]["memory"])
               for w in workloads(objs) for c in containers(w))


def connector_doc(objs, name):
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-connectors"))
    return json.loads(cm["data"][name])


@pytest.mark.parametrize("values", VALUES, ids=["values", "values-dev"])
def test_helm_lint(values):
    args = ["lint", str(CHART), "--strict"]
    for v in values:
        args += ["-f", str(CHART / v)]
    r = helm(*args)
    assert r.returncode == 0 and "0 chart(s) failed" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("values", VALUES, ids=["values", "values-dev"])
def test_api_server_accepts_every_object(apiserver, values):
    objs = render(*values)
    assert len(objs) > 20
    refused = []
    for o in objs:
        r = apiserver.create(o)
        if r.status_code not in (200, 201):
            refused.append(f"{o['kind']} {o['metadata']['name']}: {r.status_code} {r.json().get('message')}")
    assert not refused, "\n".join(refused)


def test_api_server_refuses_a_malformed_object(apiserver):
    """The dry run is a real check: an unknown field and a negative replica
    count are refused, each with a message naming the field."""
    dep = by(render(), "Deployment", "capture")
    typo = json.loads(json.dumps(dep))
    typo["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    r = apiserver.create(typo)
    assert r.status_code in (400, 422), r.text
    assert "imagePulPolicy" in r.json()["message"], r.text
    negative = json.loads(json.dumps(dep))
    negative["spec"]["replicas"] = -1
    r = apiserver.create(negative)
    assert r.status_code == 422, r.text
    assert "spec.replicas" in r.json()["message"], r.text


def test_memory_limits_sum_to_4_gib_and_dev_is_smaller():
    full, dev = limits_sum(render()), limits_sum(render("values-dev.yaml"))
    print(f"memory limits: values.yaml {full:.0f} MiB, values-dev.yaml {dev:.0f} MiB")
    assert full <= 4096, f"values.yaml limits sum to {full} MiB, over 4 GiB"
    assert full >= 3584, f"values.yaml limits sum to only {full} MiB: the seed's budget is 4 GiB"
    assert dev < full


@pytest.mark.parametrize("values", VALUES, ids=["values", "values-dev"])
def test_every_container_has_requests_and_limits(values):
    for w in workloads(render(*values)):
        for c in containers(w):
            for kind in ("requests", "limits"):
                got = c.get("resources", {}).get(kind, {})
                assert {"cpu", "memory"} <= set(got), f"{w['metadata']['name']}/{c['name']} {kind}: {got}"
            assert mi(c["resources"]["requests"]["memory"]) <= mi(c["resources"]["limits"]["memory"])


def selects(policy, labels):
    sel = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in sel.items())


def test_network_policies_cover_every_pod():
    """Every pod is under the default deny (ingress and egress) and under a
    policy of its own component; PostgreSQL takes connections from capture
    only, as the seed's postgresql-access policy."""
    objs = render()
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and "app.kubernetes.io/name" not in p["spec"]["podSelector"]["matchLabels"]]
    assert len(deny) == 1, [p["metadata"]["name"] for p in policies]
    for w in workloads(objs):
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert selects(deny[0], labels), w["metadata"]["name"]
        own = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].get(
            "app.kubernetes.io/name") == labels["app.kubernetes.io/name"]]
        assert len(own) == 1 and selects(own[0], labels), w["metadata"]["name"]
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    pg = next(p for p in policies if p["spec"]["podSelector"]["matchLabels"].get(
        "app.kubernetes.io/name") == "postgresql")
    peers = [f["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
             for rule in pg["spec"]["ingress"] for f in rule["from"]]
    assert peers == ["capture"]
    assert pg["spec"]["egress"] == []


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|JAAS|USER_INFO", re.I)


def test_no_secret_is_inline():
    """The chart makes no Secret; no environment variable carries a secret
    value; every secret in the connector documents is a ${file:} reference
    to the mounted credentials."""
    for values in VALUES:
        objs = render(*values)
        assert not [o for o in objs if o["kind"] == "Secret"]
        for w in workloads(objs):
            for c in containers(w):
                for e in c.get("env", []):
                    if SECRET_NAME.search(e["name"]):
                        assert "value" not in e, f"{c['name']}: {e['name']} is inline"
        for doc in ("postgres-cdc-connector.json", "s3-sink-connector.json"):
            for k, v in connector_doc(objs, doc)["config"].items():
                if re.search(r"password|secret\.access\.key|user\.info", k):
                    assert re.fullmatch(r"\$\{file:/etc/datapipe/secrets/[a-z0-9.]+:[a-z.]+\}", v), (doc, k, v)


def test_pods_run_unprivileged():
    for values in VALUES:
        for w in workloads(render(*values)):
            spec = pod_spec(w)
            assert spec["securityContext"]["runAsNonRoot"] is True, w["metadata"]["name"]
            assert spec["securityContext"]["runAsUser"] != 0
            assert spec.get("automountServiceAccountToken") is False or w["kind"] == "Deployment"
            for c in containers(w):
                sc = c["securityContext"]
                name = f"{w['metadata']['name']}/{c['name']}"
                assert sc["allowPrivilegeEscalation"] is False, name
                assert sc["capabilities"]["drop"] == ["ALL"], name
                assert sc["readOnlyRootFilesystem"] is True, name


def test_capture_is_one_replica_recreated_and_kafka_three_brokers():
    objs = render()
    cap = by(objs, "Deployment", "capture")
    assert cap["spec"]["replicas"] == 1 and cap["spec"]["strategy"] == {"type": "Recreate"}
    kafka = by(objs, "StatefulSet", "kafka")
    assert kafka["spec"]["replicas"] == 3
    assert kafka["spec"]["podManagementPolicy"] == "Parallel"
    start = by(objs, "ConfigMap", "kafka")["data"]["start.sh"]
    for line in ("min.insync.replicas=2", "default.replication.factor=3",
                 "unclean.leader.election.enable=false", "num.io.threads=16",
                 "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                 "listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SASL_SSL,BROKER:SASL_SSL"):
        assert re.search(r"^\s*" + re.escape(line) + r"$", start, re.M), line
    # archive replicas share one group; capture's slot has one reader
    assert by(objs, "Deployment", "archive")["spec"]["replicas"] >= 1
    pdb = by(objs, "PodDisruptionBudget", "kafka")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_volumes_are_local_path_and_retained():
    objs = render()
    sc = next(o for o in objs if o["kind"] == "StorageClass")
    assert sc["reclaimPolicy"] == "Retain" and sc["provisioner"] == "rancher.io/local-path"
    sizes = {}
    for s in (o for o in objs if o["kind"] == "StatefulSet"):
        (claim,) = s["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["storageClassName"] == sc["metadata"]["name"]
        sizes[s["metadata"]["labels"]["app.kubernetes.io/name"]] = claim["spec"]["resources"]["requests"]["storage"]
    assert sizes == {"postgresql": "5Gi", "kafka": "10Gi"}


def test_topic_job_makes_the_seeds_topics():
    objs = render()
    job = by(objs, "Job", "kafka-topics")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    for t in ("cdc.postgres.users", "cdc.postgres.products"):
        line = next(ln for ln in script.splitlines() if f'--topic "{t}"' in ln)
        for part in ("--partitions 6", "--replication-factor 3", '"retention.ms=604800000"',
                     '"compression.type=lz4"', '"cleanup.policy=delete"'):
            assert part in line, (t, part)
    assert re.search(r'--topic "cdc.errors.dlq" --partitions 3', script)
    # each principal gets its grants: capture writes, archive reads
    assert re.search(r"acl capture --operation Write --operation Describe --transactional-id", script)
    assert re.search(r'acl archive --operation Read --operation Describe --topic "cdc.postgres."', script)


def test_probes_and_scraping_use_the_metrics_port_of_each_document():
    objs = render()
    for comp, doc in (("capture", "postgres-cdc-connector.json"), ("archive", "s3-sink-connector.json")):
        cfg = connector_doc(objs, doc)["config"]
        dep = by(objs, "Deployment", comp)
        (c,) = pod_spec(dep)["containers"]
        port = int(cfg["datapipe.metrics.port"])
        assert cfg["datapipe.metrics.host"] == "0.0.0.0"
        assert c["ports"] == [{"name": "metrics", "containerPort": port}]
        for probe in ("readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"] == {"path": "/health", "port": "metrics"}
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true" and int(ann["prometheus.io/port"]) == port
        assert c["args"] == [comp, "--config", f"/etc/datapipe/connectors/{doc}"]


def secrets_script(tmp_path):
    out = subprocess.run([str(ROOT / "deploy" / "kind" / "secrets.sh"), RELEASE, NAMESPACE],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
                              "S3_SECRET_ACCESS_KEY": "secret-example"})
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_secrets_script_makes_what_the_chart_mounts(apiserver, tmp_path):
    """deploy/kind/secrets.sh: the API server accepts its two Secrets; they
    hold every key a pod of the chart mounts; the certificate names every
    host the connector documents reach."""
    secrets = {s["metadata"]["name"]: s for s in secrets_script(tmp_path)}
    for s in secrets.values():
        r = apiserver.create(s)
        assert r.status_code == 201, r.text
    for values in VALUES:
        objs = render(*values)
        for w in workloads(objs):
            for vol in pod_spec(w).get("volumes", []):
                if "secret" not in vol:
                    continue
                sec = secrets[vol["secret"]["secretName"]]
                for item in vol["secret"].get("items", []):
                    assert item["key"] in sec["data"], (w["metadata"]["name"], item["key"])
    crt = tmp_path / "tls.crt"
    crt.write_bytes(base64.b64decode(secrets[f"{RELEASE}-tls"]["data"]["tls.crt"]))
    sans = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"],
                          capture_output=True, text=True, timeout=30).stdout
    objs = render()
    cap = connector_doc(objs, "postgres-cdc-connector.json")["config"]
    hosts = [cap["database.hostname"]] + [h.rsplit(":", 1)[0] for h in cap["kafka.bootstrap.servers"].split(",")]
    hosts.append(re.match(r"https://([^:/]+)", cap["value.converter.schema.registry.url"]).group(1))
    for h in hosts:
        assert f"DNS:{h}" in sans, (h, sans)


def test_connector_documents_pass_datapipe_check(tmp_path):
    """The documents the chart mounts are valid datapipe configuration:
    `datapipe <service> --check` reads each with the credentials secrets.sh
    makes (its ${file:} references resolved) and finds nothing wrong."""
    build = os.environ.get("DP_BUILD_DIR", str(ROOT / "build"))
    binary = os.path.join(build, "datapipe")
    assert os.path.exists(binary), f"{binary}: build datapipe first"
    secrets = {s["metadata"]["name"]: s for s in secrets_script(tmp_path)}
    root = tmp_path / "etc"
    for d, name in (("secrets", f"{RELEASE}-credentials"), ("tls", f"{RELEASE}-tls")):
        (root / d).mkdir(parents=True)
        for k, v in secrets[name]["data"].items():
            (root / d / k).write_bytes(base64.b64decode(v))
    own_s3 = ["archive.s3.endpoint=https://s3.example:9000", "archive.s3.trustChartCA=true"]
    variants = [render(*v) for v in VALUES] + [render(sets=own_s3)]
    # AWS: the system's CAs; an S3 of one's own signed by the chart's CA: that CA
    assert "s3.ssl.ca.location" not in connector_doc(variants[0], "s3-sink-connector.json")["config"]
    own = connector_doc(variants[2], "s3-sink-connector.json")["config"]
    assert own["s3.ssl.ca.location"] == "/etc/datapipe/tls/ca.crt"
    assert own["store.url"] == "https://s3.example:9000"
    for objs in variants:
        for comp, doc in (("capture", "postgres-cdc-connector.json"), ("archive", "s3-sink-connector.json")):
            text = json.dumps(connector_doc(objs, doc)).replace("/etc/datapipe/", f"{root}/")
            path = tmp_path / doc
            path.write_text(text)
            r = subprocess.run([binary, comp, "--config", str(path), "--check"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, (doc, r.stderr)
            assert "is valid" in r.stdout
            # and the check resolves the references: the passwords never show
            for line in (root / "secrets" / "kafka.properties").read_text().splitlines():
                assert line.split("=", 1)[1] not in r.stdout + r.stderr


def install_prometheus_rule_crd(apiserver):
    """The Prometheus operator's own PrometheusRule CRD (scripts/setup crds),
    created for real and waited for until the server serves the kind."""
    import glob
    import time
    (path,) = glob.glob(str(ROOT / ".cache" / "crds" / "prometheusrules-*.yaml")) or [None]
    assert path, "PrometheusRule CRD missing: run scripts/setup k8s"
    crd = yaml.safe_load(open(path))
    r = apiserver.create(crd, dry_run=False)
    assert r.status_code in (201, 409), r.text
    deadline = time.monotonic() + 60
    while True:
        apiserver._kinds = None
        if ("monitoring.coreos.com/v1", "PrometheusRule") in apiserver.kinds():
            return
        assert time.monotonic() < deadline, "the PrometheusRule CRD was not served within 60 s"
        time.sleep(0.5)


def test_prometheus_rule_carries_the_tested_alerts(apiserver):
    """With the operator's CRD (or prometheus.rule=true) the chart ships a
    PrometheusRule whose groups are files/alerts.yml, the file promtool
    tests, and the API server with the operator's CRD accepts it; without
    the CRD (auto) the chart ships none."""
    assert not [o for o in render() if o["kind"] == "PrometheusRule"]
    (rule,) = [o for o in render(sets=["prometheus.rule=true"]) if o["kind"] == "PrometheusRule"]
    alerts = yaml.safe_load((CHART / "files" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    names = {r["alert"] for g in alerts["groups"] for r in g["rules"]}
    assert {"HighCDCLag", "S3UploadFailures", "DeadLetterQueueGrowing", "CaptureDown",
            "ReplicationSlotLagGrowing", "CircuitBreakerOpen", "KafkaDeliveryErrors"} <= names
    install_prometheus_rule_crd(apiserver)
    r = apiserver.create(rule)
    assert r.status_code == 201, r.text
    broken = json.loads(json.dumps(rule))
    broken["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    r = apiserver.create(broken)
    assert r.status_code == 422 and "for" in r.json()["message"], r.text


def test_alert_rules_pass_promtool():
    """files/alerts.yml is valid and fires as deploy/prometheus/alerts_test.yml
    says (promtool, from Debian's prometheus package)."""
    import shutil
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed (scripts/setup installs Debian's prometheus)"
    for args, cwd in ((["check", "rules", str(CHART / "files" / "alerts.yml")], ROOT),
                      (["test", "rules", "alerts_test.yml"], ROOT / "deploy" / "prometheus")):
        r = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
