# housing: the California housing MLflow lab as Go binaries.
GO      ?= go
BIN     ?= bin
STEPS   := ingest train compare register predict
CMDS    := tracking-server pipeline
export CGO_ENABLED ?= 0

.PHONY: all build test test-go test-argo fuzz setup run ui bench lint generate image clean

all: build

## build: every step and command, statically linked, into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./steps/,$(STEPS)) $(addprefix ./cmd/,$(CMDS))

## setup: install what the tests need (PostgreSQL, versitygw, Chromium, Debian's sklearn/onnx)
setup:
	scripts/setup-test-deps

## test: set up, then vet and run every test (services start themselves on 127.0.0.1),
## compile the pipeline with KFP's own compiler, and fuzz each fuzz target briefly
test: setup lint test-go test-argo fuzz

test-go:
	$(GO) test -count=1 -timeout 25m ./...

## test-argo: KFP 2.0.5's compiler turns the pipeline into an Argo Workflow (a module of its own)
test-argo:
	cd pipelines/argocheck && $(GO) test -count=1 ./...

FUZZTIME ?= 10s
FUZZ_TARGETS := ./tracking/artifacts:FuzzCleanPath ./tracking/artifacts:FuzzLocalConfinement \
  ./tracking/server:FuzzArtifactPaths ./tracking/server:FuzzDecode \
  ./tracking/search:FuzzParseRunFilter ./tracking/search:FuzzParseRunOrderBy \
  ./tracking/search:FuzzParseExperimentFilter ./tracking/search:FuzzParseRegisteredModelFilter \
  ./tracking/search:FuzzParseModelVersionFilter ./tracking/search:FuzzParseRegistryOrderBy \
  ./tracking/search:FuzzDecodePageToken ./tracking/wire:FuzzFloat ./tracking/wire:FuzzRequests
## fuzz: each fuzz target for FUZZTIME (go test fuzzes one target per run).
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME); done

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
