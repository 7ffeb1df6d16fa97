# h5batch — `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Swift 6.
SWIFT ?= swift
# System libraries: HDF5 and OpenBLAS to build against, libdeflate for the raw-chunk codec,
# hdf5-tools for h5dump, pkg-config for SwiftPM to find them.
APT_PACKAGES := pkg-config libhdf5-dev libopenblas-dev libdeflate-dev hdf5-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo test sanitize bench clean

all: build

deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

demo: build
	.build/release/h5batch run config/demo.yaml --force
	.build/release/h5batch inspect out/demo.h5

test: deps
	$(SWIFT) build --build-tests
	H5BATCH_BIN="$(CURDIR)/.build/debug/h5batch" $(SWIFT) test

# The whole test suite under ThreadSanitizer, then AddressSanitizer (with LeakSanitizer). The
# binary the end-to-end tests run is the sanitized build too, and a report from it changes its
# exit status (to 86 or 87), which fails the test that ran it. Separate build folders, so the
# regular build stays as it is.
SANITIZE_OPTIONS := halt_on_error=1:abort_on_error=0
sanitize: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/sanitize-thread
	H5BATCH_BIN="$(CURDIR)/.build/sanitize-thread/debug/h5batch" TSAN_OPTIONS="$(SANITIZE_OPTIONS):exitcode=86" \
	  $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build/sanitize-thread
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build/sanitize-address
	H5BATCH_BIN="$(CURDIR)/.build/sanitize-address/debug/h5batch" ASAN_OPTIONS="$(SANITIZE_OPTIONS):exitcode=87:detect_leaks=1" \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build/sanitize-address

# Benchmark against h5py, dask and the hardware floors (see bench/README.md); needs
# python3 -m pip install -r bench/requirements.txt.
bench: build
	python3 bench/compare.py

clean:
	rm -rf .build out
