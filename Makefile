# The two commands of README.md. Each sets the machine up first (idempotent), then builds.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup configure build demo test bench clean

setup:
	@bash scripts/bootstrap.sh

# Benchmarks build only for `make bench` (their own folder), so `make test` and CI build
# just what they run.
configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DOCTET_BUILD_BENCHMARKS=OFF >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: setup
	@cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DOCTET_BUILD_BENCHMARKS=ON >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS)
	@for b in $(BUILD)-bench/bin/bench_*; do echo "== $$b"; $$b --benchmark_min_time=0.2; done

clean:
	rm -rf $(BUILD)
