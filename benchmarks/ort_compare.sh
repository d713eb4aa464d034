#!/usr/bin/env bash
# fp32 latency of `ufw bench` against ONNX Runtime (ort_bench.js) on the same models, batch and
# thread count, interleaved in one run: for each row the two runners alternate ROUNDS times and
# the table reports the median of the per-run medians and their ratio (octet / ORT). Shared
# machines are noisy, so only ratios measured together like this mean anything.
#
# Usage: benchmarks/ort_compare.sh [--rounds N] [--no-doc]
#   OCTET_BIN   folder with ufw and on_to_umodel (default: $ROOT/build/bin)
#   The table replaces the block between the ort_compare markers in docs/performance.md
#   (the block is appended when the markers are missing) unless --no-doc is given.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared"
BIN="${OCTET_BIN:-$ROOT/build/bin}"
PY=/usr/bin/python3
ROUNDS=5
WRITE_DOC=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --no-doc) WRITE_DOC=0; shift ;;
    *) echo "error: unknown argument '$1'" >&2; exit 1 ;;
  esac
done

for t in ufw on_to_umodel; do
  [ -x "$BIN/$t" ] || { echo "error: $BIN/$t not built (set OCTET_BIN)" >&2; exit 1; }
done
bash "$SHARED/bench/setup_peers.sh" >/dev/null
ORT="$SHARED/bench/ort_bench.js"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# model:input shape at batch 1
MODELS="resnet8:1,28,28 tv_resnet18:3,224,224 tv_mobilenet_v2:3,224,224"
# One umodel per model and batch: the importer freezes the batch into Reshape targets
# (resnet8's Flatten), so a batch-1 umodel cannot simply be run at batch 64.
convert() {  # name batch chw
  local out="$WORK/b$2"
  mkdir -p "$out"
  [ -f "$out/$1_bmneto.fp32umodel" ] && return 0
  "$BIN/on_to_umodel" -m "$SHARED/models/$1.onnx" -s "($2,$3)" -n "$1" -d "$out" >"$out/$1.log" 2>&1 ||
    { cat "$out/$1.log" >&2; echo "error: on_to_umodel failed for $1 at batch $2" >&2; exit 1; }
}

# libgomp's default barrier spins; on a shared, oversubscribed machine a spinning master keeps
# the core its worker needs and a batch-1 forward with 2 threads took 100+ ms instead of 0.4.
# Passive waiting is how octet's threads should wait here (ORT uses its own pool).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

# model batch threads iters-per-run
ROWS="resnet8 1 1 300
resnet8 1 2 300
resnet8 64 1 20
resnet8 64 2 20
tv_resnet18 1 1 15
tv_resnet18 1 2 15
tv_mobilenet_v2 1 1 30
tv_mobilenet_v2 1 2 30"

median_of() { "$PY" -c 'import json,sys,statistics; print(statistics.median(json.loads(l)["median_ms"] for l in sys.stdin if l.strip()))'; }

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
while read -r name batch threads iters; do
  chw=""
  for m in $MODELS; do [ "${m%%:*}" = "$name" ] && chw="${m#*:}"; done
  shape="$batch,$chw"
  convert "$name" "$batch" "$chw"
  um="$WORK/b$batch/$name"
  : >"$WORK/o.jsonl"; : >"$WORK/r.jsonl"
  for ((i = 0; i < ROUNDS; i++)); do
    "$BIN/ufw" bench -model="${um}_bmneto_test_fp32.prototxt" -weights="${um}_bmneto.fp32umodel" \
      -shape="$shape" -iters="$iters" -threads="$threads" | tail -n 1 >>"$WORK/o.jsonl"
    node "$ORT" "$SHARED/models/$name.onnx" --shape "$shape" --threads "$threads" --iters "$iters" |
      tail -n 1 >>"$WORK/r.jsonl"
  done
  o=$(median_of <"$WORK/o.jsonl"); r=$(median_of <"$WORK/r.jsonl")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$batch" "$threads" "$o" "$r" | tee -a "$RESULTS" >&2
done <<<"$ROWS"

TABLE="$WORK/table.md"
"$PY" - "$RESULTS" "$ROUNDS" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >"$TABLE" <<'EOF'
import sys, datetime
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {sys.argv[2]} interleaved rounds per row, "
      f"{sys.argv[3]} CPUs ({sys.argv[4]}). Times are medians of per-run medians in ms.")
print()
print("| model | batch | threads | octet ms | ORT ms | octet / ORT |")
print("|---|---:|---:|---:|---:|---:|")
for name, batch, threads, o, r in rows:
    o, r = float(o), float(r)
    print(f"| {name} | {batch} | {threads} | {o:.3f} | {r:.3f} | {o / r:.2f} |")
EOF
cat "$TABLE"

if [ "$WRITE_DOC" = 1 ]; then
  DOC="$ROOT/docs/performance.md"
  "$PY" - "$DOC" "$TABLE" <<'EOF'
import os, sys
doc, table = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- ort_compare:begin -->", "<!-- ort_compare:end -->"
text = open(doc).read() if os.path.exists(doc) else "# Performance\n\n"
block = f"{begin}\n{table}{end}"
if begin in text and end in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
tmp = doc + ".tmp"
open(tmp, "w").write(text)
os.replace(tmp, doc)
EOF
  echo "wrote $DOC" >&2
fi
