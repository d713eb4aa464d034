#!/usr/bin/env bash
# make demo: the whole Octet pipeline on the bundled example, the Fashion-MNIST ResNet-8
# (examples/fashion_mnist/resnet8.onnx, trained; PyTorch fp32 top-1 0.9087):
#   data -> import -> fp32 accuracy -> calibrate -> int8 accuracy -> compare -> compile.
# usage: demo.sh [build_dir]     (outputs under <build_dir>/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
OUT=$BUILD/demo
EX=examples/fashion_mnist
rm -rf "$OUT"
mkdir -p "$OUT"

step() { printf '\n== %s ==\n' "$*"; }

step "1. calibration and test LMDBs from Debian's dataset-fashion-mnist"
bash $EX/make_data.sh "$OUT" "$BIN"

step "2. import ONNX -> fp32 umodel (with --cmp against the ONNX reference interpreter)"
"$BIN/on_to_umodel" -m $EX/resnet8.onnx -s '(1,1,28,28)' -n resnet8 -d "$OUT/compilation" \
  -D "$OUT/fmnist_cali_lmdb" --cmp
M=$OUT/compilation/resnet8_bmneto
"$BIN/ufw" info -model="${M}_test_fp32.prototxt" -weights="$M.fp32umodel" | tail -n 4

step "3. calibrate on 200 training images (KL, BM1684X)"
"$BIN/calibration_use_pb" quantize -model="${M}_test_fp32.prototxt" -weights="$M.fp32umodel" \
  -iterations=200 -save_test_proto=true

# The test prototxts keep the calibration Data layer; point them at the labelled test set.
sed "s#$OUT/fmnist_cali_lmdb#$OUT/fmnist_test_lmdb#" "${M}_test_fp32_unique_top.prototxt" >"$OUT/test_fp32.prototxt"
sed "s#$OUT/fmnist_cali_lmdb#$OUT/fmnist_test_lmdb#" "${M}_test_int8_unique_top.prototxt" >"$OUT/test_int8.prototxt"

step "4. accuracy on the 10,000 test images: fp32, then int8"
"$BIN/ufw" test_fp32 -model="$OUT/test_fp32.prototxt" -weights="$M.fp32umodel" -iterations=10000 | grep "mean score"
"$BIN/ufw" test_int8 -model="$OUT/test_int8.prototxt" -weights="$M.int8umodel" -iterations=10000 | grep "mean score"

step "5. fp32 vs int8, layer by layer"
bash $EX/compare_step.sh "$BIN" "$OUT/test_fp32.prototxt" "$M.fp32umodel" "$OUT/test_int8.prototxt" \
  "$M.int8umodel" "$OUT" 200

step "6. compile to a BM1684X bmodel, checked bit for bit in the command-level simulator"
"$BIN/bmnetu" -model="${M}_deploy_int8_unique_top.prototxt" -weight="$M.int8umodel" \
  -outdir="$OUT/bmodel" -target=BM1684X -cmp=true
"$BIN/bmodel_tool" --info "$OUT/bmodel/compilation.bmodel"

printf '\ndemo: all outputs in %s\n' "$OUT"
