"""Independent NumPy reference of a Caffe deploy net, for checking `ufw forward` end to end.

usage: ufw_caffe_ref.py PB2_DIR NET.prototxt WEIGHTS INPUT.npy DUMP.npz

Parses the prototxt and weights with the Python protobuf module generated from
proto/umodel.proto (into PB2_DIR), runs the layers in prototxt order with Caffe's semantics
(in-place tops overwrite their blob, ceil-mode pooling, BatchNorm's scale factor), and
compares every blob in DUMP.npz (written with -blobs=all) with the reference. Supports the
layer types the examples use: Convolution, BatchNorm, Scale, ReLU, Pooling, Eltwise, Concat,
InnerProduct, Softmax.
"""
import math
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import umodel_pb2  # noqa: E402
from google.protobuf import text_format  # noqa: E402


def blob_array(b):
    if b.HasField("shape"):
        shape = list(b.shape.dim)
    else:
        shape = [b.num, b.channels, b.height, b.width]
    data = np.array(b.data if len(b.data) else b.double_data, dtype=np.float64)
    return data.reshape(shape)


def spatial(rep, single, h, w, default=None):
    if h is not None:
        return h, w
    if len(rep) == 0:
        return default, default
    return (rep[0], rep[0]) if len(rep) == 1 else (rep[0], rep[1])


def conv(x, p, blobs):
    cp = p.convolution_param
    kh, kw = spatial(cp.kernel_size, None, cp.kernel_h if cp.HasField("kernel_h") else None, cp.kernel_w)
    sh, sw = spatial(cp.stride, None, cp.stride_h if cp.HasField("stride_h") else None, cp.stride_w, 1)
    ph, pw = spatial(cp.pad, None, cp.pad_h if cp.HasField("pad_h") else None, cp.pad_w, 0)
    assert cp.group == 1 and len(cp.dilation) == 0
    w = blobs[0].reshape(cp.num_output, x.shape[1], kh, kw)
    n, c, h, wd = x.shape
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    y = np.einsum("nckhij,ockh->noij", cols.reshape(n, c, kh, kw, oh, ow), w.reshape(-1, c, kh, kw))
    if cp.bias_term:
        y += blobs[1].reshape(1, -1, 1, 1)
    return y


def pool(x, p):
    pp = p.pooling_param
    n, c, h, w = x.shape
    if pp.global_pooling:
        kh, kw, sh, sw, ph, pw = h, w, 1, 1, 0, 0
    else:
        kh = kw = pp.kernel_size
        sh = sw = pp.stride
        ph = pw = pp.pad
    oh = int(math.ceil((h + 2 * ph - kh) / sh)) + 1
    ow = int(math.ceil((w + 2 * pw - kw) / sw)) + 1
    if ph and (oh - 1) * sh >= h + ph:
        oh -= 1
    if pw and (ow - 1) * sw >= w + pw:
        ow -= 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            win = x[:, :, h0:h1, w0:w1]
            y[:, :, i, j] = win.max(axis=(2, 3)) if pp.pool == 0 else win.sum(axis=(2, 3)) / size
    return y


def run(net, weights, inp):
    blobs_by_layer = {l.name: [blob_array(b) for b in l.blobs] for l in weights.layer}
    v = {net.input[0]: inp.astype(np.float64)}
    for l in net.layer:
        if any(r.phase == 0 for r in l.include):
            continue
        x = [v[b] for b in l.bottom]
        W = blobs_by_layer.get(l.name, [])
        t = l.type
        if t == "Convolution":
            y = conv(x[0], l, W)
        elif t == "BatchNorm":
            f = W[2].ravel()[0]
            f = 0.0 if f == 0 else 1.0 / f
            mean, var = W[0] * f, W[1] * f
            eps = l.batch_norm_param.eps
            y = (x[0] - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + eps)
        elif t == "Scale":
            y = x[0] * W[0].reshape(1, -1, 1, 1)
            if l.scale_param.bias_term:
                y = y + W[1].reshape(1, -1, 1, 1)
        elif t == "ReLU":
            y = np.where(x[0] > 0, x[0], x[0] * l.relu_param.negative_slope)
        elif t == "Pooling":
            y = pool(x[0], l)
        elif t == "Eltwise":
            assert l.eltwise_param.operation == 1
            coeff = list(l.eltwise_param.coeff) or [1.0] * len(x)
            y = sum(c * a for c, a in zip(coeff, x))
        elif t == "Concat":
            y = np.concatenate(x, axis=l.concat_param.axis)
        elif t == "InnerProduct":
            y = x[0].reshape(x[0].shape[0], -1) @ W[0].reshape(l.inner_product_param.num_output, -1).T
            if l.inner_product_param.bias_term:
                y = y + W[1].ravel()
        elif t == "Softmax":
            e = np.exp(x[0] - x[0].max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
        else:
            raise SystemExit(f"reference: layer type {t} not supported")
        v[l.top[0]] = y
    return v


def main():
    _, _, proto_path, weights_path, input_path, dump_path = sys.argv
    net = umodel_pb2.NetParameter()
    text_format.Parse(open(proto_path).read(), net)
    weights = umodel_pb2.NetParameter()
    weights.ParseFromString(open(weights_path, "rb").read())
    ref = run(net, weights, np.load(input_path))
    dump = np.load(dump_path)
    assert sorted(dump.files) == sorted(ref.keys()), (sorted(dump.files), sorted(ref.keys()))
    worst = 0.0
    for k in ref:
        got, want = dump[k], ref[k]
        assert got.dtype == np.float32, (k, got.dtype)
        assert got.shape == want.shape, (k, got.shape, want.shape)
        err = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-6))
        worst = max(worst, err)
        assert err < 1e-4, f"blob {k}: relative max error {err}"
    print(f"reference: {len(ref)} blobs match, worst relative error {worst:.2e}")


if __name__ == "__main__":
    main()
