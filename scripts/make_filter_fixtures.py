#!/usr/bin/env python3
"""Write the small HDF5 files h5batch's filter tests read, with h5py and hdf5plugin.

    python3 -m pip install h5py hdf5plugin
    python3 scripts/make_filter_fixtures.py

Writes into ``../data``:

* ``filter-blosc2.h5`` -- ``/x`` [64, 8] float32 (0, 1, 2, ... row by row) in 16-row chunks
  compressed with Blosc2 (HDF5 filter 32026). Debian has no Blosc2 library or plugin, so
  h5batch's libhdf5 cannot decode it: the file for the "filter unavailable" error (exit 69).
"""
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"


def main():
    values = np.arange(64 * 8, dtype=np.float32).reshape(64, 8)
    with h5py.File(DATA / "filter-blosc2.h5", "w") as f:
        f.create_dataset("x", data=values, chunks=(16, 8), **hdf5plugin.Blosc2())


if __name__ == "__main__":
    main()
