#!/usr/bin/env bash
# The fault suite, long version (issue 16): real clusterd and serf agents in network namespaces
# (needs root, `ip`, `nft`, `nsenter`, `unshare`, `python3`, `serf`, a cgroup cpu controller):
# loss held 10 min per rate, CPU cap 120 s, churn of 20 nodes for 10 min, 10,000 user events,
# 5,000 RPC clients. About an hour.
# The short version of the same tests runs in scripts/test.sh (label `fault`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release clusterd netlab fault_test | tail -n 3
CLUSTERD_FAULT_LONG=1 ctest --test-dir build/release -L fault --output-on-failure
