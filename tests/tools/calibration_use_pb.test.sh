#!/usr/bin/env bash
# calibration_use_pb + ufw test_fp32/test_int8 end to end on the demo ResNet8 (small LMDBs):
# output file set, accuracy lines, graph_transform outputs, and bad input (one error line,
# exit 1, nothing written next to -weights; short LMDB is a warning).
set -euo pipefail
BIN=${OCTET_BIN:-build/bin}
SRC=${OCTET_SOURCE_DIR:-.}
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
# bootstrap installs the data: its absence is a failure, not a pass.
[ -f "$DATA/t10k-images-idx3-ubyte.gz" ] || { echo "FAIL: no Fashion-MNIST at $DATA"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN/create_lmdb" --idx "$DATA/train-images-idx3-ubyte.gz" --shuffle --seed 3 --limit 20 \
  --mean 72.93 --scale 0.0111092595678498 --batch_dim --imageset_lmdbfolder "$T/cali" >/dev/null
"$BIN/create_lmdb" --idx "$DATA/t10k-images-idx3-ubyte.gz" --idx_labels "$DATA/t10k-labels-idx1-ubyte.gz" --limit 200 \
  --mean 72.93 --scale 0.0111092595678498 --batch_dim --imageset_lmdbfolder "$T/test" >/dev/null
"$BIN/on_to_umodel" -m "$SRC/examples/fashion_mnist/resnet8.onnx" -s '(1,1,28,28)' -D "$T/cali" -d "$T/m" >/dev/null
P=$T/m/resnet8_bmneto_test_fp32.prototxt
W=$T/m/resnet8_bmneto.fp32umodel
S=$T/m/resnet8_bmneto

# quantize: the NNTC file set next to -weights
"$BIN/calibration_use_pb" quantize -model="$P" -weights="$W" -iterations=20 -save_test_proto=true >"$T/q.log" 2>"$T/q.err"
for f in .int8umodel _deploy_int8_unique_top.prototxt _deploy_fp32_unique_top.prototxt \
         _test_int8_unique_top.prototxt _test_fp32_unique_top.prototxt .calibration_table; do
  [ -s "$S$f" ] || fail "missing $S$f"
done
grep -q "int8 calibration done." "$T/q.log" || fail "no completion line"
grep -q "graph_transform: merged /stem/stem.0/Conv" "$T/q.log" || fail "BN not merged"
! grep -q 'type: "BatchNorm"' "${S}_deploy_int8_unique_top.prototxt" || fail "BatchNorm left in int8 net"
! grep -q 'type: "Data"' "${S}_deploy_int8_unique_top.prototxt" || fail "deploy net has a Data layer"
grep -q 'type: "Data"' "${S}_test_int8_unique_top.prototxt" || fail "test net lost its Data layer"
grep -q "top_quant" "${S}_deploy_int8_unique_top.prototxt" || fail "no top_quant"
# per-layer table has a cosine column with numbers
awk '$1=="output" && $NF+0 > 0.9 {ok=1} END {exit !ok}' "$T/q.log" || fail "no cosine for the output blob"
grep -Eq "^time: .* statistics (serial|pipelined)$" "$T/q.log" || fail "no statistics schedule on the time line"
# The default may run the statistics pipelined on a second thread; -threads=1 never does.
# Same statistics either way, so the same int8 umodel and calibration table.
cp "$S.int8umodel" "$T/default.int8umodel"
cp "$S.calibration_table" "$T/default.table"
"$BIN/calibration_use_pb" quantize -model="$P" -weights="$W" -iterations=20 -threads=1 >"$T/q1.log" 2>/dev/null
grep -q "statistics serial$" "$T/q1.log" || fail "-threads=1 did not run the statistics serially"
cmp -s "$S.int8umodel" "$T/default.int8umodel" || fail "-threads=1 and the default give different int8umodels"
# (the table's first line is its generation time)
cmp -s <(tail -n +2 "$S.calibration_table") <(tail -n +2 "$T/default.table") ||
  fail "-threads=1 and the default give different tables"
head -1 "$T/default.table" | grep -q "^# generated time: " || fail "the table's first line is not its time"

# accuracy on the 200 test images (point the test prototxts at the labelled LMDB)
sed "s#$T/cali#$T/test#" "${S}_test_fp32_unique_top.prototxt" >"$T/tf.prototxt"
sed "s#$T/cali#$T/test#" "${S}_test_int8_unique_top.prototxt" >"$T/ti.prototxt"
"$BIN/ufw" test_fp32 -model="$T/tf.prototxt" -weights="$W" >"$T/f.log"
"$BIN/ufw" test_int8 -model="$T/ti.prototxt" -weights="$S.int8umodel" -iterations=200 >"$T/i.log"
f1=$(awk '$1=="acc/top-1" {print $3}' "$T/f.log")
i1=$(awk '$1=="acc/top-1" {print $3}' "$T/i.log")
grep -q "mean score of Accuracy5-acc/top-5 is" "$T/f.log" || fail "no NNTC mean-score line"
awk -v f="$f1" -v i="$i1" 'BEGIN {exit !(f > 0.8 && i > f - 0.03)}' || fail "accuracy fp32=$f1 int8=$i1"

# graph_transform sub-command
"$BIN/calibration_use_pb" graph_transform -model="$P" -weights="$W" >/dev/null
[ -s "$S.prototxt_optimized" ] && [ -s "$S.fp32umodel_optimized" ] || fail "graph_transform outputs"
! grep -q 'type: "BatchNorm"' "$S.prototxt_optimized" || fail "optimised net keeps BatchNorm"

# short LMDB: warning, uses what exists
"$BIN/calibration_use_pb" quantize -model="$P" -weights="$W" -iterations=500 -th_method=MAX >/dev/null 2>"$T/w.err"
grep -q "fewer than -iterations=500" "$T/w.err" || fail "no short-LMDB warning"

# bad input: one error line, exit 1, nothing written next to -weights
mkdir "$T/bad"
cp "$P" "$T/bad/n.prototxt"
cp "$W" "$T/bad/n.fp32umodel"
bad() {
  local want=$1; shift
  if "$BIN/calibration_use_pb" "$@" >"$T/o" 2>"$T/e"; then fail "accepted: $*"; fi
  [ "$(grep -c . "$T/e")" = 1 ] || { cat "$T/e"; fail "not one error line: $*"; }
  grep -q "^error: .*$want" "$T/e" || { cat "$T/e"; fail "message for $*"; }
  [ "$(ls "$T/bad" | wc -l)" = 2 ] || { ls "$T/bad"; fail "wrote files: $*"; }
}
B=(-model="$T/bad/n.prototxt" -weights="$T/bad/n.fp32umodel" -iterations=2)
bad "KLX" quantize "${B[@]}" -th_method=KLX
bad "th_binnum" quantize "${B[@]}" -th_binnum=100
bad "unknown layer 'nope'" quantize "${B[@]}" -fpfwd_outputs=nope
bad "unknown flag" quantize "${B[@]}" -no_such_flag=1
bad "iterations" quantize "${B[@]}" -iterations=abc
bad "target" quantize "${B[@]}" -target=BM9999
bad "threads must be >= 0" quantize "${B[@]}" -threads=-1
bad "sub-command" frobnicate "${B[@]}"
# prototxt/weights mismatch: a conv with another output count
sed '0,/num_output: 16/s//num_output: 8/' "$P" >"$T/bad/n.prototxt"
bad "blob" quantize "${B[@]}"
echo "calibration_use_pb: ok"
