#!/usr/bin/env bash
# Records real pgoutput messages (protocol 1) from the local stack's
# PostgreSQL into tests/unit/data/pgoutput/recorded.hex, one message per
# line as "<lsn> <hex>", for the decoder's unit tests. Re-run by hand only
# when the fixture should change: scripts/stack up && tests/tools/record_pgoutput.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
set -a; . "$ROOT/.stack/env"; set +a
out="$ROOT/tests/unit/data/pgoutput/recorded.hex"
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
DROP TABLE IF EXISTS rec_types;
SELECT pg_drop_replication_slot('rec_slot') FROM pg_replication_slots WHERE slot_name = 'rec_slot';
DROP PUBLICATION IF EXISTS rec_pub;
CREATE TABLE rec_types (
  id integer PRIMARY KEY, small smallint, big bigint, price numeric(10,2), ratio double precision,
  flag boolean, name varchar(50), note text, uid uuid, doc jsonb, born date,
  at timestamp, atz timestamptz, raw bytea);
CREATE PUBLICATION rec_pub FOR TABLE rec_types;
SELECT 'init' FROM pg_create_logical_replication_slot('rec_slot', 'pgoutput');
INSERT INTO rec_types VALUES (1, -32768, 9223372036854775807, -12345678.90, 1.5, true,
  'Zoë "quoted"', E'line\nbreak\ttab', '550e8400-e29b-41d4-a716-446655440000', '{"a": [1, 2]}',
  '2024-01-15', '2024-01-15 10:30:00.123456', '2024-01-15 10:30:00.5+02', '\x00ff10');
INSERT INTO rec_types (id) VALUES (2);
UPDATE rec_types SET note = 'changed', flag = false WHERE id = 1;
DELETE FROM rec_types WHERE id = 2;
UPDATE rec_types SET id = 3 WHERE id = 1;
ALTER TABLE rec_types REPLICA IDENTITY FULL;
UPDATE rec_types SET small = 7 WHERE id = 3;
DELETE FROM rec_types WHERE id = 3;
TRUNCATE rec_types;
SQL
psql -qXAt -F ' ' -c "SELECT lsn, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('rec_slot', NULL, NULL, 'proto_version', '1', 'publication_names', 'rec_pub')" > "$out"
psql -qX -c "SELECT pg_drop_replication_slot('rec_slot')" -c "DROP PUBLICATION rec_pub" -c "DROP TABLE rec_types" >/dev/null
wc -l "$out"
