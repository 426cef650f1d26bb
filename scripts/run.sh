#!/usr/bin/env bash
# README command 1: set up, build, and run `clusterd agent` in the foreground on the embedded
# default config (conf/clusterd.yml: loopback, no encryption). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null
exec build/release/src/clusterd agent -c conf/clusterd.yml "$@"
