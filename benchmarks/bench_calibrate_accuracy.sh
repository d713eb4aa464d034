#!/usr/bin/env bash
# Accuracy matrix of calibration_use_pb on the demo ResNet8 (docs/accuracy.md): fp32, then every
# -th_method x {per-tensor, per-channel, -conv_group} x {BM1684X, BM1684}, calibrated on the 200-image LMDB and
# scored by ufw test_int8 on the test LMDB. Prints one markdown row per run.
# usage: bench_calibrate_accuracy.sh <work_dir> [bin_dir=build/bin] [test_images=10000] [methods...]
set -euo pipefail
W=${1:?usage: bench_calibrate_accuracy.sh <work_dir> [bin_dir] [test_images] [methods...]}
BIN=${2:-build/bin}
N=${3:-10000}
shift $(( $# < 3 ? $# : 3 ))
METHODS=${*:-KL SYMKL JSD ADMM ACIQ MAX PERCENTILE9999 MSE}
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$W"
[ -d "$W/data/fmnist_test_lmdb" ] || bash "$SRC/examples/fashion_mnist/make_data.sh" "$W/data" "$BIN" >/dev/null
[ -f "$W/m/resnet8_bmneto.fp32umodel" ] ||
  "$BIN/on_to_umodel" -m "$SRC/examples/fashion_mnist/resnet8.onnx" -s '(1,1,28,28)' -D "$W/data/fmnist_cali_lmdb" -d "$W/m" >/dev/null
P=$W/m/resnet8_bmneto_test_fp32.prototxt
S=$W/m/resnet8_bmneto
sed "s#fmnist_cali_lmdb#fmnist_test_lmdb#" "$P" >"$W/test_fp32.prototxt"
f1=$("$BIN/ufw" test_fp32 -model="$W/test_fp32.prototxt" -weights="$S.fp32umodel" -iterations="$N" | awk '$1=="acc/top-1" {print $3}')
echo "| fp32 | | | $f1 | |"
for target in BM1684X BM1684; do
  for wm in per-tensor per-channel conv-group; do
    for m in $METHODS; do
      "$BIN/calibration_use_pb" quantize -model="$P" -weights="$S.fp32umodel" -th_method="$m" \
        -per_channel=$([ $wm = per-channel ] && echo true || echo false) \
        -conv_group=$([ $wm = conv-group ] && echo true || echo false) \
        -target=$target -save_test_proto=true -cosine=false >"$W/q.log" 2>&1
      sed "s#fmnist_cali_lmdb#fmnist_test_lmdb#" "${S}_test_int8_unique_top.prototxt" >"$W/test_int8.prototxt"
      i1=$("$BIN/ufw" test_int8 -model="$W/test_int8.prototxt" -weights="$S.int8umodel" -iterations="$N" | awk '$1=="acc/top-1" {print $3}')
      d=$(awk -v a="$i1" -v b="$f1" 'BEGIN {printf "%+.2f", (a-b)*100}')
      echo "| $target | $wm | $m | $i1 | $d |"
    done
  done
done
