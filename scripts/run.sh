#!/usr/bin/env bash
# README command 1: set up, build, and run `clusterd agent` in the foreground on the embedded
# default config (conf/clusterd.yml: loopback, no encryption). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only the agent binary (the tests, fuzzers and benchmarks are scripts/test.sh's business), with
# ninja's [done/total] progress lines on the terminal.
scripts/build.sh release clusterd
echo "run: starting build/release/src/clusterd agent -c conf/clusterd.yml (Ctrl-C stops it)"
exec build/release/src/clusterd agent -c conf/clusterd.yml "$@"
