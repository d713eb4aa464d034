# Every bad input to ufw gives exit status 1, exactly one `error: ...` line on stderr naming the
# file / layer / blob and the problem, and leaves no output file behind.
set -uo pipefail
BIN=${OCTET_BIN:-build/bin}
SRC=${OCTET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
M=$SRC/examples/resnet_caffe/deploy.prototxt
W=$T/good.fp32umodel
failures=0

"$BIN/ufw" init_weights -model="$M" -output="$W" -seed=1 > /dev/null || { echo "FAIL: init_weights"; exit 1; }
/usr/bin/python3 -c "import numpy as np; np.save('$T/in.npy', np.zeros((1,3,64,64), np.float32))"

# expect_error NAME PATTERN... -- ARGS: runs ufw ARGS; checks rc=1, one stderr line matching all
# PATTERNs (grep -E), and that $T/out.* does not exist.
expect_error() {
  local name=$1; shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  rm -f "$T"/out.*
  "$BIN/ufw" "$@" > "$T/stdout" 2> "$T/stderr"
  local rc=$?
  local msg
  msg=$(cat "$T/stderr")
  if [ $rc -ne 1 ]; then echo "FAIL [$name]: exit $rc, stderr: $msg"; failures=$((failures+1)); return; fi
  if [ "$(wc -l < "$T/stderr")" -ne 1 ]; then echo "FAIL [$name]: not one line: $msg"; failures=$((failures+1)); return; fi
  case "$msg" in error:\ *) ;; *) echo "FAIL [$name]: no 'error: ' prefix: $msg"; failures=$((failures+1)); return;; esac
  for p in "${patterns[@]}"; do
    if ! grep -qE -- "$p" "$T/stderr"; then echo "FAIL [$name]: '$p' not in: $msg"; failures=$((failures+1)); return; fi
  done
  if ls "$T"/out.* "$T"/.out.* > /dev/null 2>&1; then echo "FAIL [$name]: output file left behind"; failures=$((failures+1)); return; fi
  echo "ok [$name]: $msg"
}

fwd() { echo forward -model="$1" -weights="$2" -input="${3:-$T/in.npy}" -output="$T/out.npz"; }

# Malformed prototxt: file:line:col.
sed '0,/num_output: 16/s//num_output 16 16/' "$M" > "$T/syntax.prototxt"
expect_error syntax "syntax.prototxt:[0-9]+:[0-9]+: " -- $(fwd "$T/syntax.prototxt" "$W")
printf 'layer {\n  name: "a"\n  tpye: "ReLU"\n}\n' > "$T/typo.prototxt"
expect_error unknown-field "typo.prototxt:3:[0-9]+: .*tpye" -- $(fwd "$T/typo.prototxt" "$W")

# Truncated weights.
head -c 20000 "$W" > "$T/cut.fp32umodel"
expect_error truncated "cut.fp32umodel" "truncated" -- $(fwd "$M" "$T/cut.fp32umodel")
: > "$T/empty.fp32umodel"
expect_error empty-weights "empty.fp32umodel" "empty" -- $(fwd "$M" "$T/empty.fp32umodel")

# Weights of another net: conv1 with 8 outputs in the prototxt, 16 in the weights.
awk 'BEGIN{n=0} /num_output: 16/ && n==0 {sub(/16/, "8"); n=1} {print}' "$M" > "$T/narrow.prototxt"
expect_error shape-mismatch "good.fp32umodel" "layer conv1" "\[16,3,7,7\]" "\[8,3,7,7\]" -- $(fwd "$T/narrow.prototxt" "$W")

# Graph errors.
sed '/name: "res2a_branch2b"/,/top:/s/bottom: "res2a_branch2a"/bottom: "res2a_branch2x"/' "$M" > "$T/missing.prototxt"
expect_error missing-bottom "missing.prototxt" "layer res2a_branch2b" "'res2a_branch2x'" -- $(fwd "$T/missing.prototxt" "$W")
sed 's/top: "res3a_side"$/top: "res3a"/' "$M" > "$T/dup.prototxt"
expect_error duplicate-top "dup.prototxt" "blob 'res3a'" "layer res3a " "layer res3a_side" -- $(fwd "$T/dup.prototxt" "$W")
cat > "$T/cycle.prototxt" <<'EOF'
input: "data"
input_shape { dim: 1 dim: 4 }
layer { name: "a" type: "Eltwise" bottom: "data" bottom: "q" top: "p" }
layer { name: "b" type: "ReLU" bottom: "p" top: "q" }
EOF
expect_error cycle "cycle.prototxt" "cycle" "layer a" -- forward -model="$T/cycle.prototxt" -input="$T/in.npy" -output="$T/out.npz"
sed 's/type: "Concat"/type: "Concatenate"/' "$M" > "$T/unknown.prototxt"
expect_error unknown-type "unknown.prototxt" "layer concat3" "unknown layer type 'Concatenate'" -- $(fwd "$T/unknown.prototxt" "$W")

# Inputs.
echo "not numpy" > "$T/bad.npy"
expect_error bad-npy "bad.npy" "magic" -- $(fwd "$M" "$W" "$T/bad.npy")
expect_error missing-npy "nothere.npy" "cannot open" -- $(fwd "$M" "$W" "$T/nothere.npy")
expect_error too-many-inputs "more inputs" -- $(fwd "$M" "$W" "$T/in.npy,$T/in.npy")
expect_error wrong-input-name "'image' is not a net input" -- $(fwd "$M" "$W" "image=$T/in.npy")
/usr/bin/python3 -c "import numpy as np; np.savez_compressed('$T/z.npz', data=np.zeros((1,3,64,64), np.float32))"
expect_error compressed-npz "z.npz" "np.savez" -- $(fwd "$M" "$W" "$T/z.npz")

# Flags and commands.
expect_error unknown-flag "unknown flag '-bogus=1'" -- forward -model="$M" -bogus=1
expect_error flag-of-other-command "ufw info: unknown flag '-iters=3'" -- info -model="$M" -iters=3
expect_error bad-int "-iters" "not a valid int" -- bench -model="$M" -weights="$W" -iters=many
expect_error no-model "-model is required" -- info
expect_error unknown-command "unknown command 'forwad'" -- forwad -model="$M"
expect_error test_fp32-without-data "deploy.prototxt" "test_fp32 needs a Data layer" -- test_fp32 -model="$M" -weights="$W"
expect_error init-no-output "-output" -- init_weights -model="$M"

if [ $failures -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "ufw errors: all checks passed"
