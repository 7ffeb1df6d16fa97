#!/usr/bin/env python3
"""Write data/codecs.h5, the file h5batch's codec tests read, with h5py and hdf5plugin.

    python3 -m pip install h5py hdf5plugin
    python3 scripts/make_codec_fixtures.py

Every dataset is [60, 7] in chunks of [25, 7] (the last chunk an edge chunk; 175 elements, so
Bitshuffle has 7 elements past its last multiple of 8):

* ``/<variant>/<dtype>``: the values of ``/reference/<dtype>`` stored with one codec variant
  (``lzf``, ``lzf_shuffle``, ``zstd``, ``zstd_shuffle``, ``lz4``, ``lz4_shuffle``,
  ``bitshuffle_lz4``, ``bitshuffle_zstd``, ``blosc_blosclz_shuffle``, ``blosc_lz4``,
  ``blosc_lz4hc_bitshuffle``, ``blosc_zlib_shuffle``, ``blosc_zstd_shuffle``), for dtypes float32,
  float16, float64, int16, uint8 and float32be.
* ``/reference/<dtype>``: h5py's read of those datasets (checked equal for every variant),
  stored without filters.
* ``/bitshuffle_lz4/float64_blocks``: [400, 7] float64 in [200, 7] chunks (1400 elements: one
  full 1024-element Bitshuffle block, a partial one and a rest), reference
  ``/reference/float64_blocks``.
* ``/lzf/incompressible``: [50, 7] float32 in [25, 7] chunks; its first chunk (random bits)
  does not shrink, so LZF stores it unfiltered (filter mask 1), the second is zeros.
  Reference ``/reference/incompressible``.
* ``/split/<variant>``: ``/reference/float32``'s values in chunks of [25, 4], which split the
  rows: h5batch leaves them to libhdf5, which applies h5batch's registered codecs.
* ``/zfp/float32``: ZFP (filter 32013), which h5batch cannot decode: the unavailable-filter error.
"""
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
SHAPE, CHUNKS = (60, 7), (25, 7)

DTYPES = {
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "float64": np.dtype("<f8"),
    "int16": np.dtype("<i2"),
    "uint8": np.dtype("u1"),
    "float32be": np.dtype(">f4"),
}

VARIANTS = {
    "lzf": dict(compression="lzf"),
    "lzf_shuffle": dict(compression="lzf", shuffle=True),
    "zstd": dict(**hdf5plugin.Zstd(clevel=3)),
    "zstd_shuffle": dict(**hdf5plugin.Zstd(clevel=5), shuffle=True),
    "lz4": dict(**hdf5plugin.LZ4()),
    "lz4_shuffle": dict(**hdf5plugin.LZ4(), shuffle=True),
    "bitshuffle_lz4": dict(**hdf5plugin.Bitshuffle(cname="lz4")),
    "bitshuffle_zstd": dict(**hdf5plugin.Bitshuffle(cname="zstd", clevel=3)),
    "blosc_blosclz_shuffle": dict(**hdf5plugin.Blosc(cname="blosclz", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc_lz4": dict(**hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE)),
    "blosc_lz4hc_bitshuffle": dict(**hdf5plugin.Blosc(cname="lz4hc", clevel=9, shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
    "blosc_zlib_shuffle": dict(**hdf5plugin.Blosc(cname="zlib", clevel=4, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc_zstd_shuffle": dict(**hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.SHUFFLE)),
}


def values(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        # Normals rounded to a few bits, so that the codecs find something to compress.
        return (np.round(rng.standard_normal(shape) * 8) / 8).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)


def store(f, name, data, chunks, **filters):
    f.create_dataset(name, data=data, chunks=chunks, **filters)
    read = f[name][...]
    assert read.dtype == data.dtype and np.array_equal(read, data, equal_nan=True), name
    return read


def main():
    with h5py.File(DATA / "codecs.h5", "w") as f:
        for index, (dtype_name, dtype) in enumerate(DTYPES.items()):
            data = values(dtype, SHAPE, seed=index)
            reads = [store(f, f"{variant}/{dtype_name}", data, CHUNKS, **filters) for variant, filters in VARIANTS.items()]
            f.create_dataset(f"reference/{dtype_name}", data=reads[0])
            if dtype_name == "float32":
                for variant, filters in VARIANTS.items():
                    store(f, f"split/{variant}", data, (25, 4), **filters)

        blocks = values(np.dtype("<f8"), (400, 7), seed=10)
        read = store(f, "bitshuffle_lz4/float64_blocks", blocks, (200, 7), **hdf5plugin.Bitshuffle(cname="lz4"))
        f.create_dataset("reference/float64_blocks", data=read)

        rng = np.random.default_rng(11)
        noise = rng.uniform(0, 1, size=(25, 7)).astype("<f4")
        incompressible = np.concatenate([noise, np.zeros((25, 7), "<f4")])
        read = store(f, "lzf/incompressible", incompressible, CHUNKS, compression="lzf")
        f.create_dataset("reference/incompressible", data=read)
        masks = [f["lzf/incompressible"].id.get_chunk_info(i).filter_mask for i in range(2)]
        assert masks == [1, 0], masks

        f.create_dataset("zfp/float32", data=values(np.dtype("<f4"), SHAPE, seed=12), chunks=CHUNKS, **hdf5plugin.Zfp(reversible=True))


if __name__ == "__main__":
    main()
