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
# Ninja prints a line when a step finishes; one heavy file can take a minute on a small machine,
# so a line saying the build is still at work comes every 10 s of silence.
start=$SECONDS
set +e
cmake --build "build/$kind" -j "$jobs" "${targets[@]}" 2>&1 | {
  while :; do
    if IFS= read -r -t 10 line; then
      printf '%s\n' "$line"
    elif [ $? -gt 128 ]; then
      [ -n "$line" ] && printf '%s\n' "$line"
      echo "build: still compiling, $((SECONDS - start)) s so far"
    else
      [ -n "$line" ] && printf '%s\n' "$line"
      break
    fi
  done
}
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || { echo "build: failed (exit $rc)" >&2; exit "$rc"; }
echo "build: $kind done in $((SECONDS - start)) s"
