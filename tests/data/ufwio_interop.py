#!/usr/bin/python3
"""Python side of the LMDB interop test (tests/data/test_interop.cpp).

  ufwio_interop.py write DIR   writes an LMDB the way ufwio's LMDB_Dataset does (py-lmdb,
                               lock=False, map_async=True, keys "{index:010d}__{key}", one
                               ufw.Datum per array: float32 -> float_data, others -> data+dtype)
                               plus one legacy Caffe Datum.
  ufwio_interop.py verify DIR  decodes an LMDB written by Octet's LmdbWriter and checks every
                               record against what test_interop.cpp wrote.

Uses Debian's python3-lmdb, python3-protobuf and python3-numpy; ufw.Datum comes from
proto/umodel.proto compiled with protoc into a temporary folder.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import lmdb
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")

DTYPES = {np.float32: 0, np.float16: 1, np.int8: 2, np.uint8: 3, np.int16: 4, np.uint16: 5, np.int32: 6,
          np.uint32: 7}
NP_OF = {v: k for k, v in DTYPES.items()}


def load_pb2():
    out = tempfile.mkdtemp(prefix="octet_pb2_")
    atexit.register(shutil.rmtree, out, True)
    subprocess.check_call(["protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + out,
                           os.path.join(PROTO_DIR, "umodel.proto")])
    sys.path.insert(0, out)
    import umodel_pb2  # noqa: E402
    return umodel_pb2


def ufwio_datum(pb2, arr, label=None):
    d = pb2.Datum()
    d.shape.dim.extend(arr.shape)
    if arr.dtype == np.float32:
        d.float_data.extend(arr.flatten().tolist())
    else:
        d.data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    d.dtype = DTYPES[arr.dtype.type]
    if label is not None:
        d.label = label
    return d.SerializeToString()


def key(index, user=""):
    return ("{:010d}__{}".format(index, user.ljust(1))).encode()


def write(path):
    pb2 = load_pb2()
    env = lmdb.open(path, map_size=int(20e6), lock=False, map_async=True)
    recs = [
        (key(0), ufwio_datum(pb2, np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2) * 0.25 - 1)),
        (key(1, "img1"), ufwio_datum(pb2, np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, label=5)),
        (key(2), ufwio_datum(pb2, np.array([-300, 7], dtype=np.int16), label=-1)),
        (key(3), ufwio_datum(pb2, np.array([0.5, -2.0], dtype=np.float16))),
    ]
    legacy = pb2.Datum()
    legacy.channels, legacy.height, legacy.width = 1, 2, 2
    legacy.data = bytes([1, 2, 3, 250])
    legacy.label = 3
    recs.append((key(4, "legacy"), legacy.SerializeToString()))
    with env.begin(write=True) as txn:
        for k, v in recs:
            assert txn.put(k, v, append=True)
    env.sync()
    env.close()


def decode(pb2, value):
    d = pb2.Datum()
    d.ParseFromString(value)
    shape = tuple(d.shape.dim) if d.HasField("shape") else (d.channels, d.height, d.width)
    if d.data:
        arr = np.frombuffer(d.data, dtype=NP_OF[d.dtype]).reshape(shape)
    else:
        arr = np.array(d.float_data, dtype=np.float32).reshape(shape)
    return arr, (d.label if d.HasField("label") else None), d


def verify(path):
    pb2 = load_pb2()
    env = lmdb.open(path, readonly=True, lock=False)
    with env.begin() as txn:
        items = list(txn.cursor())
    assert len(items) == 12, len(items)
    # test_interop.cpp: records 0..9 float32 [1,2,3] = i + 0.5 * j, label i, user key "k<i>" on odd i.
    for i in range(10):
        k, v = items[i]
        want_key = key(i, "k%d" % i if i % 2 else "")
        assert k == want_key, (k, want_key)
        arr, label, d = decode(pb2, v)
        assert d.HasField("dtype") and d.dtype == 0, "dtype must be written for float32"
        assert len(d.float_data) == 6 and not d.data
        assert arr.shape == (1, 2, 3), arr.shape
        assert np.array_equal(arr.flatten(), np.float32(i) + np.float32(0.5) * np.arange(6, dtype=np.float32)), arr
        assert label == i, label
    # Unpacked float_data: every element carries its own tag byte 0x35.
    assert items[0][1].count(b"\x35") >= 6
    arr, label, _ = decode(pb2, items[10][1])
    assert items[10][0] == key(10, "u8")
    assert arr.dtype == np.uint8 and arr.shape == (2, 2) and arr.tolist() == [[0, 1], [254, 255]], arr
    assert label is None
    arr, label, _ = decode(pb2, items[11][1])
    assert arr.dtype == np.int32 and arr.tolist() == [-70000, 70000] and label == 42, arr
    print("verify: %d records OK" % len(items))


if __name__ == "__main__":
    {"write": write, "verify": verify}[sys.argv[1]](sys.argv[2])
