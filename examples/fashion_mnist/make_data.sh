#!/usr/bin/env bash
# The demo's data step: Fashion-MNIST (Debian dataset-fashion-mnist) -> two LMDBs, normalised as
# /work/shared/models/meta.json says: (pixel/255 - 0.2860) / 0.3530 = (pixel - 72.93) / 90.015.
#   <out>/fmnist_cali_lmdb   200 training images, seeded shuffle, no labels (calibration)
#   <out>/fmnist_test_lmdb   the 10,000 test images with labels (accuracy)
# Records are [1,1,28,28] float32, so `batch_size: 0` (what importers' -D writes) feeds the
# [N,1,28,28] net input unchanged.
# usage: make_data.sh <out_dir> [bin_dir]    (bin_dir defaults to build/bin)
set -euo pipefail
OUT=${1:?usage: make_data.sh <out_dir> [bin_dir]}
BIN=${2:-build/bin}
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
MEAN=72.93
SCALE=0.0111092595678498  # 1/(0.3530*255); meta.json rounds it to 0.0111088 (8e-5 off at the top pixel)
mkdir -p "$OUT"

"$BIN/create_lmdb" --idx "$DATA/train-images-idx3-ubyte.gz" \
  --shuffle --seed 3 --limit 200 --mean $MEAN --scale $SCALE --batch_dim \
  --imageset_lmdbfolder "$OUT/fmnist_cali_lmdb"

"$BIN/create_lmdb" --idx "$DATA/t10k-images-idx3-ubyte.gz" --idx_labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --mean $MEAN --scale $SCALE --batch_dim \
  --imageset_lmdbfolder "$OUT/fmnist_test_lmdb"

"$BIN/lmdb_info" "$OUT/fmnist_cali_lmdb" --count 2
"$BIN/lmdb_info" "$OUT/fmnist_test_lmdb" --count 2
