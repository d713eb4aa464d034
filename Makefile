# The two commands of README.md. Each sets the machine up first (idempotent), then builds.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup configure build demo test bench clean

setup:
	@bash scripts/bootstrap.sh

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash benchmarks/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
