#!/usr/bin/env bash
# ufw compare and dump_tensor_data_use_pb end to end on the Fashion-MNIST ResNet: a MAX
# quantisation (stand-in pair from make_int8_pair.py, run on the fake-quant simulation unless
# the int8 engine is built) stays close to fp32; a deliberately bad one (threshold of
# /l2/c2/Conv cut to 5%) is reported with that layer first, flagged, and first in the search;
# mismatched nets and bad arguments are one-line errors.
set -euo pipefail
BIN=${OCTET_BIN:?}
SRC=${OCTET_SOURCE_DIR:?}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
"$BIN/create_lmdb" --idx "$DATA/t10k-images-idx3-ubyte.gz" --idx_labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --limit 64 --mean 72.93 --scale 0.0111092595678498 --batch_dim --imageset_lmdbfolder "$T/lmdb" >/dev/null
"$BIN/on_to_umodel" -m "$SRC/examples/fashion_mnist/resnet8.onnx" -s "(1,1,28,28)" -d "$T/u" -D "$T/lmdb" >/dev/null
FM=$T/u/resnet8_bmneto_test_fp32.prototxt
FW=$T/u/resnet8_bmneto.fp32umodel

# CPU dumps: one npz per iteration with every blob.
"$BIN/dump_tensor_data_use_pb" "$FM" "$FW" 16 CPU -output="$T/dump" >/dev/null
[ "$(ls "$T"/dump/CPU_iter*.npz | wc -l)" = 16 ] || fail "expected 16 CPU dumps"
$PY - "$T/dump/CPU_iter0000.npz" <<'EOF'
import sys, numpy as np
z = np.load(sys.argv[1])
assert "output" in z.files and "input" in z.files, z.files
assert z["output"].shape == (1, 10)
EOF

$PY "$SRC/tests/eval/make_int8_pair.py" "$FM" "$FW" "$T/dump" "$T/good" --label >/dev/null
$PY "$SRC/tests/eval/make_int8_pair.py" "$FM" "$FW" "$T/dump" "$T/bad" --label --scale /l2/c2/Conv=0.05 >/dev/null

# Good quantisation: output close to fp32, top-1 measured on the labels.
"$BIN/ufw" compare -fm="$T/good_test_fp32_unique_top.prototxt" -fw="$T/good.fp32umodel" \
  -im="$T/good_test_int8_unique_top.prototxt" -iw="$T/good.int8umodel" -iterations=16 -runtime=simulate \
  -json="$T/good.json" -report="$T/good.html" >"$T/good.txt"
grep -q "top-1 fp32" "$T/good.txt" || fail "no top-1 line"
$PY - "$T/good.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["output_cos"] > 0.99, r["output_cos"]
assert r["accuracy"]["count"] == 16
assert len(r["layers"]) == 40, len(r["layers"])
EOF

# Bad quantisation: the damaged layer first, flagged with a clipping suggestion, first in the search.
"$BIN/ufw" compare -fm="$T/bad_test_fp32_unique_top.prototxt" -fw="$T/bad.fp32umodel" \
  -im="$T/bad_test_int8_unique_top.prototxt" -iw="$T/bad.int8umodel" -iterations=16 -runtime=simulate \
  -search_fp_layers=2 -target_cos=0.999 -json="$T/bad.json" -report="$T/bad.html" >"$T/bad.txt"
sed -n 2p "$T/bad.txt" | grep -q "/l2/c2/Conv" || { cat "$T/bad.txt"; fail "first table row is not /l2/c2/Conv"; }
grep -q -- "-fpfwd_blocks=/l2/c2/Conv" "$T/bad.txt" || fail "search did not return /l2/c2/Conv first"
$PY - "$T/bad.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
first = r["layers"][r["damage_order"][0]]
assert first["layer"] == "/l2/c2/Conv", first["layer"]
assert first["flagged"] and "clips" in first["suggestion"], first
assert first["saturation"] > 0.01
assert r["search"]["steps"][0]["layer"] == "/l2/c2/Conv"
assert r["search"]["steps"][0]["cos"] > r["search"]["base_cos"]
EOF
grep -q "NaN" "$T/bad.html" && fail "NaN in the page"

# INT8_NEURON dumps: dequantised values plus integer codes in range.
"$BIN/dump_tensor_data_use_pb" "$T/good_test_int8_unique_top.prototxt" "$T/good.int8umodel" 2 INT8_NEURON -runtime=simulate \
  -output="$T/qdump" >/dev/null
$PY - "$T/qdump" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
v = np.load(d + "/INT8_NEURON_iter0000.npz"); c = np.load(d + "/INT8_NEURON_iter0000_raw.npz")
k = "/l1/c1/Conv_output_0"
assert k in c.files
codes = c[k]
assert np.all(codes == np.round(codes)) and codes.min() >= -127 and codes.max() <= 127
scales = {l.split()[0]: float(l.split()[3]) for l in open(d + "/INT8_NEURON_scales.txt") if not l.startswith("#")}
assert np.allclose(codes * scales[k], v[k], rtol=1e-6, atol=1e-7)
EOF

# Bad input: one line, exit 1.
sed 's#"/l3/c1/Conv"#"/l3/c1/ConvX"#' "$T/good_test_int8_unique_top.prototxt" >"$T/renamed.prototxt"
if "$BIN/ufw" compare -fm="$T/good_test_fp32_unique_top.prototxt" -fw="$FW" -im="$T/renamed.prototxt" -iw="$T/good.int8umodel" 2>"$T/err" >/dev/null; then
  fail "mismatched nets accepted"
fi
[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "expected one error line"; }
grep -q "differ: int8 layer '/l3/c1/ConvX' (Convolution) is not in the fp32 net" "$T/err" || { cat "$T/err"; fail "error does not name the difference"; }
if "$BIN/dump_tensor_data_use_pb" "$FM" "$FW" 2 GPU 2>"$T/err"; then fail "bad mode accepted"; fi
grep -q "expected CPU or INT8_NEURON" "$T/err" || fail "bad mode message"
# On the real pipeline, when calibration_use_pb is built: the int8 engine, the optimised int8
# net against the original fp32 test net (compared by blob name), a th_scale-damaged layer.
if [ -x "$BIN/calibration_use_pb" ]; then
  mkdir -p "$T/cal"
  cp "$FW" "$T/cal/r.fp32umodel"
  $PY - "$FM" "$T/cal/r_test_fp32.prototxt" <<'EOF'
import sys
s = open(sys.argv[1]).read()
for name in ["/l2/c2/Conv", "/l2/b2/BatchNormalization_scale"]:
    key = '  name: "%s"\n' % name
    i = s.index(key) + len(key)
    s = s[:i] + "  th_scale: 0.05\n" + s[i:]
s = s.replace('  top: "input"\n', '  top: "input"\n  top: "label"\n', 1)
open(sys.argv[2], "w").write(s)
EOF
  "$BIN/calibration_use_pb" quantize -model="$T/cal/r_test_fp32.prototxt" -weights="$T/cal/r.fp32umodel" \
    -iterations=32 -save_test_proto=true >/dev/null 2>&1
  "$BIN/ufw" compare -fm="$T/cal/r_test_fp32.prototxt" -fw="$T/cal/r.fp32umodel" \
    -im="$T/cal/r_test_int8_unique_top.prototxt" -iw="$T/cal/r.int8umodel" -iterations=16 -runtime=engine \
    -search_fp_layers=1 -json="$T/cal.json" >"$T/cal.txt"
  $PY - "$T/cal.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
first = r["layers"][r["damage_order"][0]]
assert first["layer"] == "/l2/c2/Conv", first["layer"]
assert [L["layer"] for L in r["layers"] if L["flagged"]] == ["/l2/c2/Conv"], [L["layer"] for L in r["layers"] if L["flagged"]]
assert r["search"]["steps"][0]["layer"] == "/l2/c2/Conv"
assert "int8 engine" in " ".join(r["notes"])
EOF
fi
echo "compare_resnet: ok"
