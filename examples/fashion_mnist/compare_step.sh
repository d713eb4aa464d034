#!/usr/bin/env bash
# The demo's last step: fp32 vs int8 layer by layer on the labelled test LMDB, ending with the
# comparison summary and the path of the HTML report (docs/analysis.md explains it).
# usage: compare_step.sh <bin_dir> <fp32.prototxt> <fp32umodel> <int8.prototxt> <int8umodel> <out_dir> [iterations]
set -euo pipefail
BIN=${1:?usage: compare_step.sh <bin_dir> <fp32.prototxt> <fp32umodel> <int8.prototxt> <int8umodel> <out_dir> [iterations]}
FM=${2:?fp32 prototxt}; FW=${3:?fp32umodel}; IM=${4:?int8 prototxt}; IW=${5:?int8umodel}; OUT=${6:?out dir}
ITERS=${7:-200}
mkdir -p "$OUT"
echo "== fp32 vs int8, layer by layer ($ITERS records) =="
"$BIN/ufw" compare -fm="$FM" -fw="$FW" -im="$IM" -iw="$IW" -iterations="$ITERS" -rows=12 \
  -search_fp_layers=3 -target_cos=0.999 \
  -report="$OUT/compare_report.html" -json="$OUT/compare_report.json"
echo "report: $(cd "$OUT" && pwd)/compare_report.html"
