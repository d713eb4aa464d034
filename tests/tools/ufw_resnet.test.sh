# ufw end to end on examples/resnet_caffe (BVLC-syntax deploy prototxt) with random weights:
# init_weights -> forward (outputs and -blobs=all checked against an independent NumPy
# reference of the Caffe semantics) -> bench (one JSON line) -> info (layers and totals).
set -euo pipefail
BIN=${OCTET_BIN:-build/bin}
SRC=${OCTET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
M=$SRC/examples/resnet_caffe/deploy.prototxt
W=$T/resnet.fp32umodel

fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/ufw" init_weights -model="$M" -output="$W" -seed=3
[ -s "$W" ] || fail "init_weights wrote nothing"

$PY - "$T" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(0)
np.save(sys.argv[1] + "/in.npy", rng.standard_normal((1, 3, 64, 64)).astype(np.float32))
np.save(sys.argv[1] + "/in2.npy", rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
EOF

# Net outputs only; -weight is accepted as an alias.
"$BIN/ufw" forward -model="$M" -weight="$W" -input="$T/in.npy" -output="$T/out.npz"
# Every blob, gflags "--flag value" spelling, batch 2 from the input file.
"$BIN/ufw" forward --model "$M" --weights "$W" --input "data=$T/in2.npy" --output "$T/all2.npz" --blobs all
"$BIN/ufw" forward -model="$M" -weights="$W" -input="$T/in.npy" -output="$T/all.npz" -blobs=all -threads=2

$PY - "$T" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
out = np.load(d + "/out.npz")
assert out.files == ["prob"], out.files
p = out["prob"]
assert p.dtype == np.float32 and p.shape == (1, 10), p.shape
assert np.all(np.isfinite(p)) and np.all(p >= 0) and abs(p.sum() - 1) < 1e-5, p
all1 = np.load(d + "/all.npz")
assert np.array_equal(all1["prob"], p), "threads=2 or -blobs=all changed the result"
assert all1["pool1"].shape == (1, 16, 16, 16), all1["pool1"].shape  # ceil-mode pooling: 32 -> 16
assert all1["concat3"].shape == (1, 96, 8, 8)
assert np.array_equal(all1["concat3"][:, :64], all1["res3a"])
assert np.array_equal(all1["data"], np.load(d + "/in.npy"))
all2 = np.load(d + "/all2.npz")
assert all2["prob"].shape == (2, 10)
print("forward outputs ok")
EOF

# Independent reference: the Python protobuf module generated from the same schema.
mkdir -p "$T/pb2"
protoc --proto_path="$SRC/proto" --python_out="$T/pb2" "$SRC/proto/umodel.proto"
$PY "$SRC/tests/tools/ufw_caffe_ref.py" "$T/pb2" "$M" "$W" "$T/in.npy" "$T/all.npz"

"$BIN/ufw" bench -model="$M" -weights="$W" -shape=2,3,64,64 -iters=3 -warmup=1 -threads=1 > "$T/bench.txt"
$PY - "$T/bench.txt" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
r = json.loads(lines[0])
for k in ("median_ms", "min_ms", "max_ms", "threads", "batch"):
    assert k in r, (k, r)
assert r["batch"] == 2 and r["threads"] == 1
assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"], r
print("bench ok:", lines[0])
EOF

"$BIN/ufw" info -model="$M" -weights="$W" > "$T/info.txt"
grep -q "pool1  Pooling  conv1\[1,16,32,32\] -> pool1\[1,16,16,16\]" "$T/info.txt" || fail "info: pool1 line"
grep -q "concat3  Concat  res3a\[1,64,8,8\], res3a_side\[1,32,8,8\] -> concat3\[1,96,8,8\]" "$T/info.txt" || fail "info: concat line"
grep -q "^total params: 52963 " "$T/info.txt" || fail "info: params"
grep -q "^total flops: " "$T/info.txt" || fail "info: flops"
[ "$(grep -c '^  ' "$T/info.txt")" = 44 ] || fail "info: expected 44 layer lines"
echo "ufw resnet_caffe: all checks passed"
