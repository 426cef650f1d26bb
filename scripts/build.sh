#!/usr/bin/env bash
# build.sh [release|asan|asan-gcc] [TARGET...]: configures and builds one tree under build/
# (every target, or only the ones named: `scripts/build.sh release clusterd` is the agent alone).
# Ninja prints one [done/total] line per step, so a long build shows its progress.
#   release:  g++, RelWithDebInfo                     -> build/release
#   asan:     clang, Debug, ASan+UBSan, fuzz          -> build/asan
#   asan-gcc: g++, -O1, ASan+UBSan on all code, the coroutine driver included (clang 14
#             cannot put UBSan checks in coroutine frames)  -> build/asan-gcc
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
[ $# -gt 0 ] && shift
targets=()
for t in "$@"; do targets+=(--target "$t"); done
jobs=${CLUSTERD_JOBS:-$(nproc)}
# Let ccache reuse objects across clones in other folders (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
echo "build: configuring build/$kind"
case "$kind" in
  release)
    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc >/dev/null ;;
  asan)
    cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
          -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
          -DCLUSTERD_SANITIZE=ON -DCLUSTERD_FUZZ=ON -DCLUSTERD_BENCH=OFF >/dev/null ;;
  asan-gcc)
    cmake -S . -B build/asan-gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
          -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc \
          -DCLUSTERD_SANITIZE=ON -DCLUSTERD_BENCH=OFF >/dev/null ;;
  *) echo "build.sh: unknown kind '$kind' (release|asan|asan-gcc)" >&2; exit 2 ;;
esac
echo "build: $kind${*:+ ($*)}, $jobs job(s)"
cmake --build "build/$kind" -j "$jobs" "${targets[@]}"
