# datapipe - the two commands are `make run` and `make test`.
# Both install what is missing first (scripts/setup is idempotent).

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 15
# make test's shorter pass: every target still runs over its corpus
TEST_FUZZ_SECONDS ?= 8
FUZZERS    := pgoutput json config archive_row metrics_http sts parquet_footer avro \
              avro_token s3_list s3_error aws_credentials registry position parquet_reader frame
PY         := .venv/bin/python
JOBS       ?= 2
DURATION   ?= 0
RATE       ?= 1000

.PHONY: check-source all setup build test-deploy test-node deploy-check build-asan build-fuzz run test test-faults unit integration down docs-check fuzz bench bench-encode bench-row image clean

all: build

setup:
	@scripts/setup all

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j$(JOBS)

$(BUILD_ASAN)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DDP_SANITIZE=ON >/dev/null

build-asan: $(BUILD_ASAN)/Makefile
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

$(BUILD_FUZZ)/Makefile: CMakeLists.txt
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DDP_FUZZ=ON >/dev/null

build-fuzz: $(BUILD_FUZZ)/Makefile
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

# make fuzz: each libFuzzer target for FUZZ_SECONDS over its committed
# corpus (tests/fuzz/corpus/<target>); new inputs stay in the build dir.
fuzz: build-fuzz
	@for t in $(FUZZERS); do \
	  mkdir -p $(BUILD_FUZZ)/corpus-$$t; \
	  if $(BUILD_FUZZ)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	       $(BUILD_FUZZ)/corpus-$$t tests/fuzz/corpus/$$t > $(BUILD_FUZZ)/fuzz_$$t.log 2>&1; then \
	    echo "fuzz_$$t: $$(grep '^Done' $(BUILD_FUZZ)/fuzz_$$t.log)"; \
	  else tail -40 $(BUILD_FUZZ)/fuzz_$$t.log; echo "fuzz_$$t: FAILED (log $(BUILD_FUZZ)/fuzz_$$t.log)"; exit 1; fi; \
	done

# make run: stack up, capture + archive + the seed's workload with a live
# progress line; Ctrl-C (or DURATION=seconds) drains, verifies, summarises.
run: setup build
	@scripts/stack up
	@$(PY) scripts/run.py --build $(BUILD) --duration $(DURATION) --rate $(RATE)

# make test: unit tests under ASan+UBSan, then integration tests against
# the real stack with the sanitized binary, then the deployment checks.
# helm, etcd and kube-apiserver (scripts/setup k8s, minutes of compiling on
# a fresh machine) build meanwhile at the lowest CPU priority, in the time
# the integration tests spend waiting on their servers.
K8S_SETUP = .cache/setup-k8s
test: setup check-source build build-asan docs-check
	@mkdir -p .cache && rm -f $(K8S_SETUP).rc
	@(nice -n 19 scripts/setup k8s > $(K8S_SETUP).log 2>&1; echo $$? > $(K8S_SETUP).rc) &
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	@scripts/stack up
	@$(MAKE) --no-print-directory integration
	@for i in $$(seq 1800); do [ -f $(K8S_SETUP).rc ] && break; sleep 1; done; \
	  [ "$$(cat $(K8S_SETUP).rc 2>/dev/null)" = 0 ] || \
	  { tail -n 30 $(K8S_SETUP).log; echo "scripts/setup k8s failed or took over 30 min (log $(K8S_SETUP).log)"; exit 1; }
	@$(MAKE) --no-print-directory deploy-check

# make test-deploy: the deployment checks alone (tests/deploy): the chart
# rendered by helm and validated by a real kube-apiserver over etcd, its
# scripts against real Kafka and PostgreSQL, the alert rules under promtool,
# and the image built without Docker (scripts/image) running its binary
test-deploy: setup build
	@scripts/setup k8s
	@$(MAKE) --no-print-directory deploy-check

# make test-node: the chart's datapipe containers on a real kubelet over
# containerd and runc (scripts/node, tests/deploy/test_node.py), as root.
# Not part of make test: the kubelet's first build took 7.5 minutes here.
test-node: setup build
	@scripts/setup k8s
	@scripts/setup node
	@scripts/image build --binary $(BUILD)/datapipe
	@status=0; DP_NODE=1 DP_BUILD_DIR=$(BUILD) $(PY) -m pytest -q tests/deploy/test_node.py || status=$$?; \
	  scripts/node down; exit $$status

deploy-check:
	@scripts/setup image
	@DP_BUILD_DIR=$(BUILD) $(PY) -m pytest -q tests/deploy

# make test-faults: every fault of the reliability promise at full length
# (60 s outages, heavier load) on the real stack; writes docs/RELIABILITY.md.
# `make test` runs the same suite in its reduced form.
test-faults: setup build
	@scripts/stack up
	@DP_FAULTS=full DP_FAULTS_REPORT=docs/RELIABILITY.md DP_BUILD_DIR=$(BUILD) \
	  $(PY) -m pytest -q -s tests/integration/test_0020_faults.py

# the in-process tier needs a real S3 server (tests/unit/test_archive_adopt.c):
# versitygw, built once by scripts/setup s3
unit: build-asan
	@scripts/setup s3 >/dev/null
	@cd $(BUILD_ASAN) && ctest --output-on-failure -j$(JOBS)

integration:
	@DP_BUILD_DIR=$(BUILD_ASAN) $(PY) -m pytest -q tests/integration

# check-source: banned functions and over-long functions (scripts/check-source)
check-source:
	@scripts/check-source

docs-check: build
	@$(BUILD)/datapipe config-docs > $(BUILD)/CONFIGURATION.md
	@diff -u docs/CONFIGURATION.md $(BUILD)/CONFIGURATION.md || \
	  { echo "docs/CONFIGURATION.md is stale: run '$(BUILD)/datapipe config-docs > docs/CONFIGURATION.md'"; exit 1; }

# make bench: pipeline figures (backlog drain vs pg_recvlogical, archive
# rate, RSS, bytes per event), the Parquet writer and the event encoding
# (bench-encode); prints, asserts nothing.
BENCH_CHANGES ?= 200000
bench: setup build
	@scripts/stack up
	@$(PY) bench/bench_pipeline.py --changes $(BENCH_CHANGES) --build $(BUILD)
	@$(CC) -std=c11 -O2 -D_GNU_SOURCE -Isrc -o $(BUILD)/bench_parquet bench/bench_parquet.c \
	  src/parquet/[a-z]*.c src/common/buf.c src/common/err.c src/common/log.c -lsnappy -lz -lzstd
	@$(BUILD)/bench_parquet
	@$(MAKE) --no-print-directory bench-encode
	@$(MAKE) --no-print-directory bench-row

# make bench-encode: capture's encoding of change events in process, no
# servers (bench/bench_encode.c): events/s per converter path over 3 runs,
# then instructions per event under callgrind (bench/bench_encode.sh).
# Compiled as the RelWithDebInfo build compiles, without CMake.
ENCODE_SOURCES = src/event/[a-z]*.c src/pg/pgoutput.c src/common/buf.c src/common/config.c \
                 src/common/err.c src/common/json.c src/common/log.c
bench-encode:
	@mkdir -p $(BUILD)
	@$(CC) -std=c11 -O2 -g -DNDEBUG -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	  -Wformat=2 -Werror -fno-common -Isrc -o $(BUILD)/bench_encode bench/bench_encode.c \
	  $(ENCODE_SOURCES) -lm
	@bench/bench_encode.sh $(BUILD)/bench_encode

# make bench-row: the archive reading an Avro envelope into its row, the
# JSON way against the direct way (bench/bench_row.c); prints, asserts nothing.
ROW_SOURCES = src/event/avro.c src/archive/row.c src/event/debezium.c src/common/buf.c \
              src/common/config.c src/common/err.c src/common/json.c src/common/log.c
bench-row:
	@mkdir -p $(BUILD)
	@$(CC) -std=c11 -O2 -g -DNDEBUG -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -o $(BUILD)/bench_row \
	  bench/bench_row.c $(ROW_SOURCES) -lm
	@for w in json direct; do $(BUILD)/bench_row tests/fuzz/corpus/avro/envelope-users.json 200000 $$w; done
	@if command -v valgrind >/dev/null; then for w in json direct; do \
	  valgrind --tool=callgrind --callgrind-out-file=$(BUILD)/cg.row.$$w --toggle-collect="way_$$w" \
	    $(BUILD)/bench_row tests/fuzz/corpus/avro/envelope-users.json 5000 $$w >/dev/null 2>&1; \
	  echo "$$w: $$(grep -o 'summary: [0-9]*' $(BUILD)/cg.row.$$w | awk '{print int($$2 / 5000)}') instructions per record (callgrind)"; \
	done; fi

# make image: deploy/docker/Dockerfile's image built without Docker
# (scripts/image: debootstrap and umoci, as root) into the OCI layout
# .cache/image/oci, then run: datapipe version as uid 10001, every library
# of the binary found inside. tests/deploy/test_image.py checks the same.
image: build
	@scripts/image build --binary $(BUILD)/datapipe
	@scripts/image check

down:
	@scripts/stack down

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
