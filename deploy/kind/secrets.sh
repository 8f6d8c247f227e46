#!/usr/bin/env bash
# deploy/kind/secrets.sh RELEASE NAMESPACE [KAFKA_REPLICAS] > secrets.yaml
# The two Secrets the chart reads, made fresh: a CA and one server
# certificate (PostgreSQL, every broker, the registry) with Debian's
# openssl, and random passwords. Apply them before `helm install`:
#   deploy/kind/secrets.sh dip pipeline | kubectl apply -n pipeline -f -
# Keep the output private (it holds every password); bring your own CA by
# replacing ca.crt, tls.crt and tls.key (PEM, the key unencrypted PKCS#8).
# For the archive without an IAM role, set S3_ACCESS_KEY_ID and
# S3_SECRET_ACCESS_KEY: they go into s3.properties.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 RELEASE NAMESPACE [KAFKA_REPLICAS]" >&2; exit 2; }
rel=$1 ns=$2 replicas=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
umask 077

names="DNS:$rel-postgresql,DNS:$rel-postgresql.$ns.svc,DNS:$rel-schema-registry,DNS:$rel-schema-registry.$ns.svc"
names="$names,DNS:$rel-kafka,DNS:$rel-kafka.$ns.svc"
for ((i = 0; i < replicas; i++)); do names="$names,DNS:$rel-kafka-$i.$rel-kafka-headless.$ns.svc"; done
if ! { openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=$rel data-ingestion-pipeline CA" \
         -keyout ca.key -out ca.crt &&
       openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$rel-kafka.$ns.svc" -keyout tls.key -out tls.csr &&
       printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$names" > ext.cnf &&
       openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
         -extfile ext.cnf -out tls.crt; } > openssl.log 2>&1; then
  cat openssl.log >&2; echo "secrets.sh: openssl failed" >&2; exit 1
fi

pw() { openssl rand -hex 24; }
{
  printf 'superuser.password=%s\ncapture.password=%s\n' "$(pw)" "$(pw)" > postgres.properties
  for u in broker admin capture archive registry; do printf '%s.password=%s\n' "$u" "$(pw)"; done > kafka.properties
  : > s3.properties
  if [ -n "${S3_ACCESS_KEY_ID:-}" ]; then
    printf 'access.key.id=%s\nsecret.access.key=%s\n' "$S3_ACCESS_KEY_ID" "${S3_SECRET_ACCESS_KEY:?S3_SECRET_ACCESS_KEY is needed with S3_ACCESS_KEY_ID}" > s3.properties
  fi
}

b64() { base64 -w0 < "$1"; }
secret() { # NAME FILE...
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/instance: %s\n    app.kubernetes.io/part-of: data-ingestion-pipeline\ntype: Opaque\ndata:\n' "$1" "$rel"
  local f
  for f in "${@:2}"; do printf '  %s: "%s"\n' "$f" "$(b64 "$f")"; done
}
secret "$rel-credentials" postgres.properties kafka.properties s3.properties
secret "$rel-tls" ca.crt tls.crt tls.key
