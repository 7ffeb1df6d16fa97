"""Writes data/bitshuffle_none.h5: Bitshuffle without compression (hdf5plugin's
Bitshuffle(cname='none'), a valid file other writers make), read back by CodecTests.

/x: 20x7 float32 in chunks of 10x7 (70 elements: 64 transposed, 6 after the last multiple
of 8), values i * 0.25 - 3; /expected: the same values, unfiltered.
Run: /work/venv/bin/python scripts/make_bitshuffle_none_fixture.py
"""
import h5py
import hdf5plugin
import numpy as np

values = (np.arange(140, dtype=np.float32) * 0.25 - 3).reshape(20, 7)
with h5py.File("data/bitshuffle_none.h5", "w") as f:
    f.create_dataset("x", data=values, chunks=(10, 7), **hdf5plugin.Bitshuffle(cname="none"))
    f.create_dataset("expected", data=values)
with h5py.File("data/bitshuffle_none.h5") as f:
    assert (f["x"][...] == values).all()
