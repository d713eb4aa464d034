#!/usr/bin/env bash
# The one list of Debian packages Octet needs to build, test and run its demo.
# Installs only what is missing, so a second run is quiet and fast.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libeigen3-dev
  libprotobuf-dev protobuf-compiler
  catch2 libbenchmark-dev
  liblmdb-dev liblmdb++-dev zlib1g-dev
  libcxxopts-dev librange-v3-dev
  libopencv-imgcodecs-dev libopencv-imgproc-dev
  libflatbuffers-dev flatbuffers-compiler
  libonnx-dev libonnx-testdata
  dataset-fashion-mnist
  python3 python3-numpy python3-lmdb python3-protobuf
  chromium

)
# Node.js (for the ONNX Runtime peer) may come from another repository that bundles npm;
# ask Debian for it only when no node is on the PATH at all.
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The peer runtime for side-by-side checks (ONNX Runtime for Node.js, an npm package) from the
# shared bench folder next to the repository, when it is there.
PEERS="$(cd "$(dirname "$0")/.." && pwd)/../shared/bench/setup_peers.sh"
if [ -f "$PEERS" ] && [ ! -d "${HOME:-/root}/.cache/octet-peers/node_modules/onnxruntime-node" ]; then
  sh "$PEERS" >/dev/null || echo "bootstrap: warning: could not install ONNX Runtime peer (npm); parity tests will say so"
fi
