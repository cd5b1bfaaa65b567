# housing: the California housing MLflow lab as Go binaries.
GO      ?= go
BIN     ?= bin
STEPS   := ingest train compare register predict
CMDS    := tracking-server pipeline
export CGO_ENABLED ?= 0

.PHONY: all build test test-go test-argo compat fuzz setup run ui bench lint generate image clean

all: build

## build: every step and command, statically linked, into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./steps/,$(STEPS)) $(addprefix ./cmd/,$(CMDS))

## setup: install what the tests need (PostgreSQL, versitygw, Chromium, Debian's sklearn/onnx)
setup:
	scripts/setup-test-deps

## test: set up, then vet and run every test (services start themselves on 127.0.0.1),
## compile the pipeline with KFP's own compiler, run MLflow's REST suites against our server
## (make compat), and fuzz each fuzz target briefly
test: setup lint test-go test-argo compat fuzz

test-go:
	$(GO) test -count=1 -timeout 25m ./...

## compat: MLflow's own REST suites (../shared/mlflow) against bin/tracking-server,
## every case in scope; COMPAT_VERSIONS picks the versions
compat: build
	scripts/compat

## test-argo: KFP 2.0.5's compiler turns the pipeline into an Argo Workflow (a module of its own)
test-argo:
	cd pipelines/argocheck && $(GO) test -count=1 ./...

# Each target runs for a number of executions (5-10 s each here), not a
# duration: Go 1.26's fuzzing coordinator can fail a duration-bound run with a
# spurious "context deadline exceeded" when -fuzztime expires (golang/go#75804,
# fixed in Go 1.27; it failed a run of .ci/run here on FuzzArtifactPaths). FUZZTIME=30s (or
# 100000x) gives every target that budget instead.
FUZZTIME ?=
FUZZ_TARGETS := ./tracking/artifacts:FuzzCleanPath:100000 ./tracking/artifacts:FuzzLocalConfinement:16000 \
  ./tracking/server:FuzzArtifactPaths:4000 ./tracking/server:FuzzDecode:4000 \
  ./tracking/search:FuzzParseRunFilter:20000 ./tracking/search:FuzzParseRunOrderBy:20000 \
  ./tracking/search:FuzzParseExperimentFilter:20000 ./tracking/search:FuzzParseRegisteredModelFilter:20000 \
  ./tracking/search:FuzzParseModelVersionFilter:20000 ./tracking/search:FuzzParseRegistryOrderBy:20000 \
  ./tracking/search:FuzzParseTraceFilter:20000 ./tracking/search:FuzzParseTraceOrderBy:20000 \
  ./tracking/search:FuzzDecodePageToken:40000 ./tracking/wire:FuzzFloat:200000 ./tracking/wire:FuzzRequests:160000
## fuzz: each fuzz target for its executions (go test fuzzes one target per run).
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; \
	  budget="$(FUZZTIME)"; [ -n "$$budget" ] || budget="$${rest##*:}x"; \
	  echo "fuzz $$fn ($$pkg) for $$budget"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget; done

## run: the whole lab on this machine (tracking server + pipeline, SQLite, local artifacts)
run: build
	scripts/run-lab

## ui: the tracking server and its web UI on the lab's store, at http://127.0.0.1:5000
ui: build
	$(BIN)/tracking-server --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///.lab/mlflow.db --artifacts-destination .lab/mlartifacts

## bench: forest vs scikit-learn side by side, then the tracking server load benchmark
bench:
	HOUSING_SETUP_BENCH=1 scripts/setup-test-deps
	bench/run

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## generate: regenerate the Kubeflow component and pipeline YAML from Go
generate:
	$(GO) run ./pipelines/gen

## image: the OCI image tarball (no Docker daemon needed)
image: build
	$(GO) run ./cmd/image --bin-dir $(BIN) --out $(BIN)/housing-image.tar

clean:
	rm -rf $(BIN)
