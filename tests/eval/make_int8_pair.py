#!/usr/bin/python3
"""A stand-in int8 umodel pair for the comparison tests and experiments, independent of
calibration_use_pb: MAX thresholds (per-blob abs-max over CPU dumps written by
dump_tensor_data_use_pb) in each layer's top_quant, fp32 weights unchanged (the fake-quant
simulation quantises them), UINT8 for ReLU outputs. `--scale LAYER=F` multiplies one layer's
threshold (a deliberately bad quantisation); `--label` adds a `label` top to the Data layer.

usage: make_int8_pair.py FP32.prototxt FP32.fp32umodel DUMP_DIR OUT_STEM [--scale L=F ...] [--label]
writes OUT_STEM_test_fp32_unique_top.prototxt, OUT_STEM_test_int8_unique_top.prototxt,
       OUT_STEM.fp32umodel, OUT_STEM.int8umodel
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")


def load_pb2():
    tmp = tempfile.mkdtemp(prefix="octet_pb2_")
    subprocess.check_call(["protoc", "-I", PROTO_DIR, "--python_out", tmp, os.path.join(PROTO_DIR, "umodel.proto")])
    sys.path.insert(0, tmp)
    import umodel_pb2  # noqa: E402
    shutil.rmtree(tmp, ignore_errors=True)
    return umodel_pb2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prototxt")
    ap.add_argument("weights")
    ap.add_argument("dump_dir")
    ap.add_argument("out_stem")
    ap.add_argument("--scale", action="append", default=[])
    ap.add_argument("--label", action="store_true")
    a = ap.parse_args()
    pb = load_pb2()
    from google.protobuf import text_format

    net = pb.NetParameter()
    with open(a.prototxt) as f:
        text_format.Parse(f.read(), net)
    absmax = {}
    files = sorted(glob.glob(os.path.join(a.dump_dir, "CPU_iter*.npz")))
    if not files:
        sys.exit("error: %s: no CPU_iter*.npz dumps" % a.dump_dir)
    for fn in files:
        with np.load(fn) as z:
            for k in z.files:
                absmax[k] = max(absmax.get(k, 0.0), float(np.abs(z[k]).max()))
    scale = {}
    for s in a.scale:
        name, _, factor = s.rpartition("=")
        scale[name] = float(factor)
    names = {l.name for l in net.layer}
    for n in scale:
        if n not in names:
            sys.exit("error: --scale: no layer '%s'" % n)
    if a.label:
        for l in net.layer:
            if l.type == "Data" and len(l.top) == 1:
                l.top.append("label")
    q = pb.NetParameter()
    q.CopyFrom(net)
    for l in q.layer:
        del l.top_quant[:]
        for t in l.top:
            if t == "label":
                continue
            bq = l.top_quant.add()
            th = absmax.get(t, 0.0) or 1.0
            bq.threshold = th * scale.get(l.name, 1.0)
            bq.dtype = pb.BlobProto.UINT8 if l.type == "ReLU" else pb.BlobProto.INT8
    with open(a.out_stem + "_test_fp32_unique_top.prototxt", "w") as f:
        f.write(text_format.MessageToString(net))
    with open(a.out_stem + "_test_int8_unique_top.prototxt", "w") as f:
        f.write(text_format.MessageToString(q))
    shutil.copyfile(a.weights, a.out_stem + ".fp32umodel")
    shutil.copyfile(a.weights, a.out_stem + ".int8umodel")
    print("wrote %s_test_{fp32,int8}_unique_top.prototxt (%d thresholds from %d dumps)" % (a.out_stem, len(absmax), len(files)))


if __name__ == "__main__":
    main()
