#!/usr/bin/env bash
# Shared by scripts/run and scripts/test: installs what is missing (as root), then configures
# and builds the release preset. Source it; it sets EMBRT_BUILD_DIR.
set -euo pipefail

EMBRT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EMBRT_BUILD_DIR="${EMBRT_BUILD_DIR:-$EMBRT_ROOT/build/release}"
EMBRT_PACKAGES=(cmake g++ ninja-build pkg-config
  libabsl-dev libprotobuf-dev protobuf-compiler libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  libopenmpi-dev openmpi-bin
  python3-dev python3-numpy python3-pytest python3-pybind11 pybind11-dev python3-torch
  libtorch-dev  # torch's C++ headers: embrt.torch's training step in C++ (python/torch_src/)
  librsvg2-bin)  # rsvg-convert: the learning-curve test renders the SVG as a person sees it

missing=()
for package in "${EMBRT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "embrt: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "embrt: missing packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

jobs="${EMBRT_JOBS:-$(nproc)}"
cmake -S "$EMBRT_ROOT" -B "$EMBRT_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$EMBRT_BUILD_DIR" -j "$jobs"
