#!/usr/bin/env bash
# bmnetu end to end on the demo ResNet8 (Fashion-MNIST): ONNX -> fp32 umodel -> int8 umodel ->
# bmodel, whose cmodel run must equal the int8 runtime on every int8 blob (-cmp), at every -opt
# and with float IO; then bmodel_tool on it and on corrupt copies (one line naming the failed
# loader check, exit 1), and bmnetu's bad-input errors (one line, exit 1, no bmodel left).
set -euo pipefail
BIN=${OCTET_BIN:-build/bin}
SRC=${OCTET_SOURCE_DIR:-.}
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
# bootstrap installs the data and the build makes every tool: a missing one is a failure.
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "FAIL: no Fashion-MNIST at $DATA"; exit 1; }
for t in create_lmdb on_to_umodel calibration_use_pb bmnetu bmodel_tool; do
  [ -x "$BIN/$t" ] || { echo "FAIL: $BIN/$t not built"; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN/create_lmdb" --idx "$DATA/train-images-idx3-ubyte.gz" --shuffle --seed 3 --limit 20 \
  --mean 72.93 --scale 0.0111092595678498 --batch_dim --imageset_lmdbfolder "$T/cali" >/dev/null
"$BIN/on_to_umodel" -m "$SRC/examples/fashion_mnist/resnet8.onnx" -s '(1,1,28,28)' -D "$T/cali" -d "$T/m" >/dev/null
"$BIN/calibration_use_pb" quantize -model="$T/m/resnet8_bmneto_test_fp32.prototxt" \
  -weights="$T/m/resnet8_bmneto.fp32umodel" -iterations=20 >/dev/null 2>&1
M=$T/m/resnet8_bmneto_deploy_int8_unique_top.prototxt
W=$T/m/resnet8_bmneto.int8umodel

for o in 0 1 2; do
  "$BIN/bmnetu" -model="$M" -weight="$W" -outdir="$T/out$o" -opt=$o >"$T/log$o" || { cat "$T/log$o"; fail "bmnetu -opt=$o"; }
  grep -q "cmp: all outputs and [0-9]* int8 blobs bit-exact" "$T/log$o" || fail "-opt=$o not bit-exact"
  grep -q "# Store bmodel of BMCompiler." "$T/log$o" || fail "no store line"
  for f in compilation.bmodel input_ref_data.dat output_ref_data.dat; do [ -s "$T/out$o/$f" ] || fail "missing $f"; done
done
[ "$(stat -c %s "$T/out1/input_ref_data.dat")" = 784 ] || fail "input_ref_data.dat is not 784 int8 codes"
[ "$(stat -c %s "$T/out1/output_ref_data.dat")" = 10 ] || fail "output_ref_data.dat is not 10 int8 codes"

"$BIN/bmnetu" -model="$M" -weight="$W" -outdir="$T/f" -input_as_fp32=input -output_as_fp32=output -net_name=fm >"$T/flog"
grep -q "bit-exact" "$T/flog" || fail "float IO not bit-exact"
"$BIN/bmodel_tool" --info "$T/f/compilation.bmodel" >"$T/finfo"
grep -q "^net 0: \[fm\]  static$" "$T/finfo" || fail "net name"
grep -q "^input: input, \[1, 1, 28, 28\], float32, scale: 1, zero_point: 0$" "$T/finfo" || fail "float input line"
[ "$(stat -c %s "$T/f/input_ref_data.dat")" = 3136 ] || fail "float input_ref_data.dat size"

"$BIN/bmodel_tool" --info "$T/out1/compilation.bmodel" >"$T/info"
head -1 "$T/info" | grep -q "^bmodel version: B.2.2" || fail "version line"
grep -q "^chip: BM1684X$" "$T/info" || fail "chip line"
grep -q "^input: input, \[1, 1, 28, 28\], int8, scale: " "$T/info" || fail "input line"
grep -q "^output: output, \[1, 10\], int8, scale: " "$T/info" || fail "output line"
grep -q "^device mem size: [0-9]* (weight: [0-9]*, instruct: [0-9]*, runtime: [0-9]*)$" "$T/info" || fail "memory line"
"$BIN/bmodel_tool" --print "$T/out1/compilation.bmodel" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
p = m["net"][0]["parameter"][0]
assert m["chip"] == "BM1684X" and m["type"] == "B"
assert len(p["coeff_mem"]["check_code"]) == 64
assert p["coeff_mem"]["address"] == 0x100000000
assert all(l["offset"] % 4096 == 0 for l in p["coeff_mem"]["location"])
g = p["cmd_group"][0]
assert g["bdc_cmd_byte"] % 128 == 0 and g["gdma_cmd_byte"] % 128 == 0
assert p["sub_net"][0]["cmd_group"][0]["binary_bdc"] == g["binary_bdc"]
' || fail "--print JSON"

# corrupt bmodels: one line naming the failed check, exit 1
B=$T/out1/compilation.bmodel
head -c 64 "$B" >"$T/c1.bmodel"
{ printf '\xff\xaa\x55\xff'; tail -c +5 "$B"; } >"$T/c2.bmodel"
head -c $(( $(stat -c %s "$B") - 1 )) "$B" >"$T/c3.bmodel"
{ head -c 64 "$B"; printf '\xf0\xff\xff\x00'; tail -c +69 "$B"; } >"$T/c4.bmodel"
n=1
for what in "check 1 (header)" "check 2 (magic)" "check 3 (sizes)" "check 4 (flatbuffers"; do
  if "$BIN/bmodel_tool" --info "$T/c$n.bmodel" >"$T/o" 2>"$T/e"; then fail "accepted corrupt c$n"; fi
  [ "$(wc -l <"$T/e")" = 1 ] || fail "c$n: not one error line"
  grep -q "^error: .*$what" "$T/e" || { cat "$T/e"; fail "c$n: does not name $what"; }
  n=$((n + 1))
done

# bad input to bmnetu: one line, exit 1, no bmodel
bad() {
  rm -rf "$T/bad"
  if "$BIN/bmnetu" "$@" -outdir="$T/bad" >"$T/o" 2>"$T/e"; then fail "accepted: $*"; fi
  [ "$(wc -l <"$T/e")" = 1 ] || { cat "$T/e"; fail "not one line: $*"; }
  [ ! -e "$T/bad/compilation.bmodel" ] || fail "left a bmodel: $*"
}
bad -model="$M" -weight="$W" -dyn=true
grep -q "not supported yet" "$T/e" || fail "dyn message"
bad -model="$M" -weight="$W" -opt=3
bad -model="$M" -weight="$W" -target=BM9999
bad -model="$M" -weight="$W" -shapes='[1,1,28'
bad -model="$M" -weight="$W" -output_as_fp32=nope
bad -model="$M" -weight="$T/missing.int8umodel"
bad -model="$M"
echo "bmnetu: ok"
