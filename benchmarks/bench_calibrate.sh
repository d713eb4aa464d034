#!/usr/bin/env bash
# Whole-quantize speed of calibration_use_pb vs PyTorch FX PTQ on the demo ResNet8, 200 images,
# Octet with -threads=T (default 0, quantize's default: kernels on one thread, statistics on a
# second when there is one), PyTorch on 2 (its script sets 2), runs interleaved (so both see the same machine load); medians of R runs.
# Octet: wall time of `calibration_use_pb quantize` (whole process: load, graph_transform + check,
# statistics, KL thresholds, int8 umodel, files; no cosine pass). PyTorch: the timed region of
# /work/shared/bench/torch_ptq_time.py (prepare + calibrate + convert; model load not counted).
# Then bench_calibrate (Google Benchmark) for forwards vs statistics, when built.
# usage: bench_calibrate.sh <work_dir> [bin_dir=build/bin] [runs=5] [threads=0]
set -euo pipefail
W=${1:?usage: bench_calibrate.sh <work_dir> [bin_dir] [runs]}
BIN=${2:-build/bin}
R=${3:-5}
T=${4:-0}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PEER=/work/shared/bench/torch_ptq_time.py
mkdir -p "$W"
[ -d "$W/data/fmnist_cali_lmdb" ] || bash "$SRC/examples/fashion_mnist/make_data.sh" "$W/data" "$BIN" >/dev/null
[ -f "$W/m/resnet8_bmneto.fp32umodel" ] ||
  "$BIN/on_to_umodel" -m "$SRC/examples/fashion_mnist/resnet8.onnx" -s '(1,1,28,28)' -D "$W/data/fmnist_cali_lmdb" -d "$W/m" >/dev/null
P=$W/m/resnet8_bmneto_test_fp32.prototxt
S=$W/m/resnet8_bmneto
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$W/octet.t"; : >"$W/torch.t"
for i in $(seq "$R"); do
  t0=$(date +%s.%N)
  "$BIN/calibration_use_pb" quantize -model="$P" -weights="$S.fp32umodel" -iterations=200 -threads="$T" -cosine=false >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >>"$W/octet.t"
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then /usr/bin/python3 "$PEER" 200 50 | tail -1 >>"$W/torch.t"; fi
done
o=$(med <"$W/octet.t")
echo "octet calibration_use_pb quantize (200 images, KL, -threads=$T): median ${o} s over $R runs"
if [ -s "$W/torch.t" ]; then
  t=$(med <"$W/torch.t")
  echo "pytorch FX PTQ (200 images, histogram + per-channel): median ${t} s"
  awk -v a="$o" -v b="$t" 'BEGIN {printf "speed-up: %.2fx\n", b/a}'
else
  echo "pytorch: not installed (apt-get install python3-torch)"
fi
# Forwards vs statistics: wall ms per run of 200 images, median and min of 10 repetitions (the
# min is the least disturbed by other load on a shared machine), statistics / forwards, and
# Interleaved's paired ratios (the figure to quote on a shared machine).
if [ -x "$BIN/bench_calibrate" ]; then
  OCTET_CALIB_MODEL=$P OCTET_CALIB_WEIGHTS=$S.fp32umodel OCTET_CALIB_THREADS=$T "$BIN/bench_calibrate" --benchmark_repetitions=10 \
    --benchmark_format=json 2>/dev/null | /usr/bin/python3 -c '
import sys, json, statistics
d, ratio = {}, {}
for b in json.load(sys.stdin)["benchmarks"]:
    if b.get("run_type") == "iteration":
        n = b["name"].replace("/real_time", "").replace("/min_time:5.000", "")
        d.setdefault(n, []).append(b["real_time"])  # wall: with -threads=0 the statistics have a thread of their own
        if "ratio_median" in b:
            ratio.setdefault(n, []).append(b["ratio_median"])
for n, v in d.items():
    print(f"{n:34s} median {statistics.median(v):7.1f} ms  min {min(v):7.1f} ms wall")
f = d.get("Fp32Forwards")
for n in ("Statistics/skip_propagated:1", "Statistics/skip_propagated:0"):
    if f and n in d:
        print(f"{n} / Fp32Forwards: median {statistics.median(d[n]) / statistics.median(f):.2f}x, "
              f"min {min(d[n]) / min(f):.2f}x")
for n, v in ratio.items():
    print(f"{n} statistics / forwards, paired per iteration: median of runs {statistics.median(v):.3f}x, "
          f"range {min(v):.3f}-{max(v):.3f}x (target <= 1.25x; schedule:0 is as quantize runs it)")
'
fi
