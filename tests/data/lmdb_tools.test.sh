#!/usr/bin/env bash
# create_lmdb and lmdb_info from the command line: flags, output text, exit codes.
set -euo pipefail
BIN=${OCTET_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A 5-image IDX file (3x2 pixels, value = 10*index + position) and its labels, gzipped.
/usr/bin/python3 - "$T" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
with gzip.open(d + "/img.gz", "wb") as f:
    f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 5, 3, 2) + bytes(10 * i + j for i in range(5) for j in range(6)))
with gzip.open(d + "/lab.gz", "wb") as f:
    f.write(struct.pack(">BBBBI", 0, 0, 8, 1, 5) + bytes([4, 3, 2, 1, 0]))
PY

"$BIN/create_lmdb" --idx "$T/img.gz" --idx_labels="$T/lab.gz" --mean 10 -scale=0.5 --batch_dim \
  --imageset_lmdbfolder "$T/db" > "$T/out.txt"
grep -q "wrote 5 records to $T/db" "$T/out.txt" || fail "create_lmdb summary: $(cat "$T/out.txt")"
[ -f "$T/db/data.mdb" ] || fail "no data.mdb"

"$BIN/lmdb_info" "$T/db" --count 2 > "$T/info.txt"
head -1 "$T/info.txt" | grep -q ": 5 records" || fail "record count line: $(head -1 "$T/info.txt")"
grep -q "Name,  *DType,  Shape,  Label,  Data" "$T/info.txt" || fail "header"
# Record 1: pixels 10..15 -> (p - 10) * 0.5 = 0 .. 2.5, label 3.
grep -qF "0000000001__ ,   float32,  (1, 1, 3, 2),  3,  [0. 0.5 1. 1.5 2. 2.5]" "$T/info.txt" \
  || fail "record line: $(cat "$T/info.txt")"
grep -q "3 more; --all lists them" "$T/info.txt" || fail "truncation note"
[ "$("$BIN/lmdb_info" "$T/db" --all | grep -c '__ ,')" = 5 ] || fail "--all"

# uint8 storage prints integers.
"$BIN/create_lmdb" --idx "$T/img.gz" --dtype uint8 --limit 1 --offset 4 --imageset_lmdbfolder "$T/u8" > /dev/null
"$BIN/lmdb_info" "$T/u8" | grep -qF "uint8,  (1, 3, 2),  -,  [40 41 42 43 44 45]" || fail "uint8 line: $("$BIN/lmdb_info" "$T/u8")"

# Errors: one line on stderr, exit 1, nothing written.
if "$BIN/create_lmdb" --imageset_lmdbfolder "$T/none" 2> "$T/err.txt"; then fail "no source accepted"; fi
grep -q "^error: .*exactly one source" "$T/err.txt" || fail "no-source message: $(cat "$T/err.txt")"
if "$BIN/create_lmdb" --idx "$T/img.gz" --dtype uint8 --mean 1 --imageset_lmdbfolder "$T/none" 2> "$T/err.txt"; then
  fail "uint8 + mean accepted"
fi
mkdir "$T/emptyimgs"
if "$BIN/create_lmdb" --imageset_rootfolder "$T/emptyimgs" --imageset_lmdbfolder "$T/none" 2> "$T/err.txt"; then
  fail "empty folder accepted"
fi
grep -q "source is empty" "$T/err.txt" || fail "empty message: $(cat "$T/err.txt")"
[ ! -e "$T/none" ] || fail "a failed conversion left $T/none"
if "$BIN/lmdb_info" "$T/missing" 2> "$T/err.txt"; then fail "lmdb_info on a missing folder"; fi
grep -q "^error: $T/missing: no such LMDB folder" "$T/err.txt" || fail "lmdb_info message: $(cat "$T/err.txt")"
echo "lmdb tools OK"
