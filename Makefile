# h5batch — `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Swift 6.
SWIFT ?= swift
# System libraries: HDF5 and oneDNN (the GEMM) to build against, libdeflate for the raw-chunk codec,
# hdf5-tools for h5dump, pkg-config for SwiftPM to find them.
APT_PACKAGES := pkg-config libhdf5-dev libdnnl-dev libdeflate-dev hdf5-tools
TEST_APT_PACKAGES := openmpi-bin
# The benchmark's floors: the copy floor and the OpenBLAS candidate build against OpenBLAS,
# and BLIS is one more GEMM candidate (oneDNN comes with the build's packages).
BENCH_APT_PACKAGES := gcc libopenblas-dev libblis-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps bench-deps build demo test test-quick sanitize fuzz bench clean

all: build

# Installs whichever of the Debian packages $(1) are missing.
define install_missing
	@missing=""; \
	for package in $(1); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(APT_PACKAGES))

# The tests also launch shards with mpirun (Open MPI).
test-deps: deps
	$(call install_missing,$(TEST_APT_PACKAGES))

build: deps
	$(SWIFT) build -c release

demo: build
	.build/release/h5batch run config/demo.yaml --force
	.build/release/h5batch inspect out/demo.h5

test: test-deps
	$(SWIFT) build --build-tests
	H5BATCH_BIN="$(CURDIR)/.build/debug/h5batch" $(SWIFT) test

# The suites that do not run the binary end to end (those tagged .endToEnd), for a quick loop
# while editing; `make test` runs everything.
END_TO_END_SUITES := ResumeTests|ShardRunTests|MPITests|ClusterConfigTests|BadDataTests|FuzzTests|EndToEndTests|UnattendedTests
test-quick: test-deps
	$(SWIFT) build --build-tests
	H5BATCH_BIN="$(CURDIR)/.build/debug/h5batch" $(SWIFT) test --skip '$(END_TO_END_SUITES)'

# The whole test suite under ThreadSanitizer, then AddressSanitizer (with LeakSanitizer). The
# binary the end-to-end tests run is the sanitized build too, and a report from it changes its
# exit status (to 86 or 87), which fails the test that ran it. Separate build folders, so the
# regular build stays as it is.
SANITIZE_OPTIONS := halt_on_error=1:abort_on_error=0
sanitize: test-deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/sanitize-thread
	H5BATCH_BIN="$(CURDIR)/.build/sanitize-thread/debug/h5batch" TSAN_OPTIONS="$(SANITIZE_OPTIONS):exitcode=86" \
	  $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build/sanitize-thread
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build/sanitize-address
	H5BATCH_BIN="$(CURDIR)/.build/sanitize-address/debug/h5batch" ASAN_OPTIONS="$(SANITIZE_OPTIONS):exitcode=87:detect_leaks=1" \
	  LSAN_OPTIONS="suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp:print_suppressions=0" \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build/sanitize-address

# The fuzz tests of Tests/H5BatchTests/EndToEnd/FuzzTests.swift, longer than in `make test` (10,000
# pipeline files, 200 of them through the binary, 100 damaged HDF5 files), every loaded pipeline
# run, and a new seed each time. A failure names its seed and case:
# `make fuzz H5BATCH_FUZZ_SEED=S H5BATCH_FUZZ_CASE=N` runs that case alone.
ifeq ($(origin H5BATCH_FUZZ_SEED), undefined)
H5BATCH_FUZZ_SEED := $(shell date +%s)
endif
H5BATCH_FUZZ_ITERATIONS ?= 100000
H5BATCH_FUZZ_RUNS ?= 1000000
H5BATCH_FUZZ_BINARY_ITERATIONS ?= 2000
H5BATCH_FUZZ_HDF5_ITERATIONS ?= 2000
fuzz: test-deps
	$(SWIFT) build --build-tests
	@echo "fuzz seed $(H5BATCH_FUZZ_SEED)"
	H5BATCH_BIN="$(CURDIR)/.build/debug/h5batch" H5BATCH_FUZZ_SEED=$(H5BATCH_FUZZ_SEED) \
	  H5BATCH_FUZZ_ITERATIONS=$(H5BATCH_FUZZ_ITERATIONS) H5BATCH_FUZZ_RUNS=$(H5BATCH_FUZZ_RUNS) \
	  H5BATCH_FUZZ_BINARY_ITERATIONS=$(H5BATCH_FUZZ_BINARY_ITERATIONS) \
	  H5BATCH_FUZZ_HDF5_ITERATIONS=$(H5BATCH_FUZZ_HDF5_ITERATIONS) \
	  $(SWIFT) test --skip-build --filter FuzzTests

bench-deps: deps
	$(call install_missing,$(BENCH_APT_PACKAGES))

# Benchmark against h5py, dask, hdf5plugin, PyTorch, ONNX Runtime and the hardware floors, and
# write the table of output codecs (see bench/README.md); needs python3 -m pip install -r
# bench/requirements.txt (and, for the PyTorch entries and the onnx workload,
# bench/requirements-torch.txt).
bench: build bench-deps
	python3 bench/compare.py

clean:
	rm -rf .build out
