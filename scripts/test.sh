#!/usr/bin/env bash
# README command 2: set up, build and run the whole test suite.
#   0. the layer and format checks (scripts/layer_check.py, scripts/format_check.py);
#   1. clang + ASan/UBSan tree: unit tests and every fuzz target (bounded time each);
#   2. g++ + ASan/UBSan tree (all code, the coroutine driver included): unit tests and the
#      handler stress test (40 agents, all-event handlers, starved agents);
#   3. g++ release tree: everything (unit, simulator, interop with real serf, e2e, and the
#      valgrind stress test).
# The last lines printed are ctest's summary of the release run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The tree checks first (seconds, nothing to build): modules stay in their rows of
# docs/architecture.md, and every C/C++ file is what clang-format 14 makes of it.
echo "== checks: layers, format"
/usr/bin/python3 scripts/layer_check.py
/usr/bin/python3 scripts/format_check.py | tail -n 20
export CTEST_OUTPUT_ON_FAILURE=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
scripts/build.sh asan | tail -n 3
echo "== ctest (asan+ubsan, clang): unit + fuzz"
ctest --test-dir build/asan -L 'unit|fuzz' -j 2 --timeout 600
scripts/build.sh asan-gcc | tail -n 3
echo "== ctest (asan+ubsan, g++): unit + stress"
ctest --test-dir build/asan-gcc -L 'unit|stress' -j 2 --timeout 600
unset ASAN_OPTIONS UBSAN_OPTIONS
scripts/build.sh release | tail -n 3
echo "== ctest (release, g++): all"
ctest --test-dir build/release -j 2 --timeout 900
