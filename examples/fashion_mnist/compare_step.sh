#!/usr/bin/env bash
# The demo's last step: fp32 vs int8 layer by layer on the labelled test LMDB, ending with the
# comparison summary and the path of the HTML report (docs/analysis.md explains it).
# The test prototxts' Data layer gets a `label` top (copies in <out_dir>) so top-1/top-5 of both
# nets are reported; the LMDB must hold labels.
# usage: compare_step.sh <bin_dir> <fp32.prototxt> <fp32umodel> <int8.prototxt> <int8umodel> <out_dir> [iterations]
set -euo pipefail
BIN=${1:?usage: compare_step.sh <bin_dir> <fp32.prototxt> <fp32umodel> <int8.prototxt> <int8umodel> <out_dir> [iterations]}
FM=${2:?fp32 prototxt}; FW=${3:?fp32umodel}; IM=${4:?int8 prototxt}; IW=${5:?int8umodel}; OUT=${6:?out dir}
ITERS=${7:-200}
mkdir -p "$OUT"
with_label() {  # <in.prototxt> <out.prototxt>: add top "label" to a Data layer that has one top
  /usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
m = re.search(r'type: "Data"\n((?:  top: "[^"]*"\n)+)', s)
if m and m.group(1).count("top:") == 1 and 'top: "label"' not in s:
    s = s[:m.end()] + '  top: "label"\n' + s[m.end():]
open(sys.argv[2], "w").write(s)
PY
}
with_label "$FM" "$OUT/compare_fp32.prototxt"
with_label "$IM" "$OUT/compare_int8.prototxt"
echo "== fp32 vs int8, layer by layer ($ITERS records) =="
"$BIN/ufw" compare -fm="$OUT/compare_fp32.prototxt" -fw="$FW" -im="$OUT/compare_int8.prototxt" -iw="$IW" \
  -iterations="$ITERS" -rows=12 -search_fp_layers=3 -target_cos=0.999 \
  -report="$OUT/compare_report.html" -json="$OUT/compare_report.json"
echo "HTML report: $(cd "$OUT" && pwd)/compare_report.html"
