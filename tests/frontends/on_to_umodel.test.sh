# on_to_umodel end to end: output file names, kept I/O names, -o, --cmp, multi-input -s, and
# bad input (one-line error, non-zero exit, nothing written).
set -u
BIN="$OCTET_BIN/on_to_umodel"
MODEL="$OCTET_SOURCE_DIR/examples/fashion_mnist/resnet8.onnx"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Good conversion with --cmp.
"$BIN" -m "$MODEL" -s '(1,1,28,28)' -d "$T/c" --cmp > "$T/log" 2>&1 || { cat "$T/log"; fail "resnet8 --cmp"; }
[ -f "$T/c/resnet8_bmneto_test_fp32.prototxt" ] || fail "prototxt name"
[ -f "$T/c/resnet8_bmneto.fp32umodel" ] || fail "weights name"
grep -q '^output output ' "$T/log" || fail "--cmp prints the output blob"
grep -q 'cmp: [0-9]*/[0-9]* blobs within tolerance' "$T/log" || fail "--cmp summary"
grep -q 'top: "input"' "$T/c/resnet8_bmneto_test_fp32.prototxt" || fail "input name kept"
grep -q 'top: "output"' "$T/c/resnet8_bmneto_test_fp32.prototxt" || fail "output name kept"
grep -q 'type: "BatchNorm"' "$T/c/resnet8_bmneto_test_fp32.prototxt" || fail "BatchNorm kept"
grep -q 'type: "Scale"' "$T/c/resnet8_bmneto_test_fp32.prototxt" || fail "Scale kept separate"

# -n and argparse spellings, -o truncation.
"$BIN" -m "$MODEL" -s '[1, 1, 28, 28]' -d "$T/n" -n net8 -o /GlobalAveragePool_output_0 > /dev/null || fail "-n/-o"
[ -f "$T/n/net8_bmneto_test_fp32.prototxt" ] || fail "-n names the files"
grep -q 'InnerProduct' "$T/n/net8_bmneto_test_fp32.prototxt" && fail "-o should drop layers after the output"

# -D: a Data layer in place of the Input layer.
"$BIN" -m "$MODEL" -s '(1,1,28,28)' -d "$T/D" -D /some/lmdb > /dev/null 2>&1
if [ -f "$T/D/resnet8_bmneto_test_fp32.prototxt" ]; then
  grep -q 'type: "Data"' "$T/D/resnet8_bmneto_test_fp32.prototxt" || fail "-D writes a Data layer"
  grep -q 'source: "/some/lmdb"' "$T/D/resnet8_bmneto_test_fp32.prototxt" || fail "-D source"
fi

# Bad input: one line on stderr starting with error:, exit 1, no output folder.
bad() {
  local name="$1"; shift
  rm -rf "$T/bad"
  if "$BIN" "$@" -d "$T/bad" > "$T/out" 2> "$T/err"; then fail "$name: exit 0"; fi
  [ "$(wc -l < "$T/err")" -eq 1 ] || { cat "$T/err"; fail "$name: not one line"; }
  grep -q '^error: ' "$T/err" || fail "$name: no error: prefix"
  [ ! -e "$T/bad" ] || fail "$name: wrote output"
}
head -c 1000 "$MODEL" > "$T/trunc.onnx"
echo "not a model" > "$T/text.onnx"
bad truncated -m "$T/trunc.onnx" -s '(1,1,28,28)'
bad non-onnx -m "$T/text.onnx" -s '(1,1,28,28)'
bad missing-file -m "$T/none.onnx" -s '(1,1,28,28)'
bad shape-mismatch -m "$MODEL" -s '(1,3,28,28)'
bad rank-mismatch -m "$MODEL" -s '(1,28,28)'
bad two-shapes -m "$MODEL" -s '[(1,1,28,28),(1,10)]'
bad unknown-input -m "$MODEL" -s '(1,1,28,28)' -i nosuch
bad unknown-output -m "$MODEL" -s '(1,1,28,28)' -o nosuch
bad no-shape -m "$MODEL"
bad bad-shape -m "$MODEL" -s '(1,a,28)'
echo "on_to_umodel shell tests passed"
