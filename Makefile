# h5batch — `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Swift 6.
SWIFT ?= swift
# System libraries: HDF5 and OpenBLAS to build against, libdeflate for the raw-chunk codec,
# hdf5-tools for h5dump, pkg-config for SwiftPM to find them.
APT_PACKAGES := pkg-config libhdf5-dev libopenblas-dev libdeflate-dev hdf5-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo test bench clean

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

# Benchmark against h5py, dask and the hardware floors (see bench/README.md); needs
# python3 -m pip install -r bench/requirements.txt.
bench: build
	python3 bench/compare.py

clean:
	rm -rf .build out
