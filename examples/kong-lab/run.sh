#!/usr/bin/env bash
# kong-lab: the seed's own setup on three hosts. Builds a 3-host lab in network namespaces
# (tests/support/netlab: addresses 10.201.0.1-3 exist only inside the lab), starts one clusterd
# per host with a Kong-style YAML file (cluster_listen 0.0.0.0:7946, encryption, ttl_on_failure,
# Kong's generated node names), waits until every host sees all three alive, prints
# `clusterd members -format kong` on every host, and removes everything it started.
#
#   examples/kong-lab/run.sh [BUILD_DIR]     # as root; BUILD_DIR defaults to build/release
#
# Exit status 0 when every host listed all three members alive.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
clusterd=${CLUSTERD_BIN:-$build/src/clusterd}
netlab=$build/tests/lab/netlab
hosts=3
[ "$(id -u)" -eq 0 ] || { echo "kong-lab: run as root (network namespaces)" >&2; exit 1; }
for f in "$clusterd" "$netlab"; do
  [ -x "$f" ] || { echo "kong-lab: $f not built (scripts/build.sh release)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/kong-lab.XXXXXX)
pids=()
lab_pid=
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$work/lab.env"            # tells netlab to remove the lab
  if [ -n "$lab_pid" ]; then
    for _ in $(seq 100); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$netlab" up -n "$hosts" --env "$work/lab.env" >"$work/netlab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 100); do [ -f "$work/lab.env" ] && break; sleep 0.1; done
[ -f "$work/lab.env" ] || { cat "$work/netlab.log" >&2; echo "kong-lab: lab did not come up" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/lab.env"

key=$("$clusterd" keygen)
for i in $(seq 0 $((hosts - 1))); do
  ns_var=NETLAB_NS$i
  mkdir -p "$work/h$i"
  {
    echo 'cluster_listen: "0.0.0.0:7946"'
    echo 'cluster_listen_rpc: "127.0.0.1:7373"'
    echo 'cluster:'
    echo '  advertise: ""'
    echo "  encrypt: \"$key\""
    echo '  ttl_on_failure: 3600'
    echo "data_dir: $work/h$i"
    [ "$i" -gt 0 ] && echo "retry_join: [\"$NETLAB_IP0\"]" && echo 'retry_interval: 1s'
  } >"$work/h$i/kong.yml"
  ip netns exec "${!ns_var}" "$clusterd" agent -c "$work/h$i/kong.yml" >"$work/h$i/agent.log" 2>&1 &
  pids+=($!)
done

members() { ip netns exec "$1" timeout 5 "$clusterd" members -format kong -rpc-addr=127.0.0.1:7373 2>/dev/null || true; }
ok=0
for _ in $(seq 60); do
  ok=1
  for i in $(seq 0 $((hosts - 1))); do
    ns_var=NETLAB_NS$i
    [ "$(members "${!ns_var}" | grep -c $'\talive$' || true)" -eq "$hosts" ] || ok=0
  done
  [ "$ok" -eq 1 ] && break
  sleep 0.5
done

for i in $(seq 0 $((hosts - 1))); do
  ns_var=NETLAB_NS$i
  ip_var=NETLAB_IP$i
  echo "== host $i (${!ip_var}): clusterd members -format kong"
  members "${!ns_var}"
done
if [ "$ok" -ne 1 ]; then
  for i in $(seq 0 $((hosts - 1))); do echo "== agent log, host $i" >&2; tail -20 "$work/h$i/agent.log" >&2; done
  echo "kong-lab: not every host saw $hosts members alive" >&2
  exit 1
fi
echo "kong-lab: every host sees $hosts members alive"
