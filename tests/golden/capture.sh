#!/usr/bin/env bash
# Captures real Serf gossip on loopback (127.0.61.0/24 only) and extracts golden wire vectors.
# Needs root (tcpdump), /usr/bin/serf, python3 (+ the "cryptography" module for the encrypted
# runs). Every process started here is recorded and killed on exit.
#
#   tests/golden/capture.sh [outdir]    (default: tests/golden/vectors next to this script)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/vectors}"
SERF="${SERF:-/usr/bin/serf}"
WORK="$(mktemp -d /tmp/clusterd-golden.XXXXXX)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

NET=127.0.61
KEY16="AAECAwQFBgcICQoLDA0ODw=="                              # bytes 0x00..0x0f
KEY32="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="          # bytes 0x00..0x1f

start_tcpdump() {  # $1 = pcap path
  tcpdump -i lo -U -s 0 -w "$1" "net $NET.0/24" >"$WORK/tcpdump.log" 2>&1 &
  TCPDUMP_PID=$!
  PIDS+=("$TCPDUMP_PID")
  local deadline=$((SECONDS + 10))
  until grep -q "listening" "$WORK/tcpdump.log" 2>/dev/null; do
    (( SECONDS < deadline )) || { echo "tcpdump did not start" >&2; exit 1; }
    sleep 0.2
  done
}

stop_tcpdump() {
  sleep 1
  kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  wait "$TCPDUMP_PID" 2>/dev/null || true
}

# start_agent NAME IP EXTRA_ARGS...
start_agent() {
  local name=$1 ip=$2
  shift 2
  "$SERF" agent -node="$name" -bind="$ip:27946" -rpc-addr="$ip:27373" -log-level=debug "$@" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
  local deadline=$((SECONDS + 10))
  until "$SERF" members -rpc-addr="$ip:27373" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "agent $name did not start" >&2; cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.2
  done
}

rpc() { local ip=$1; shift; local cmd=$1; shift; timeout 20 "$SERF" "$cmd" -rpc-addr="$ip:27373" "$@"; }

# ---------------- plaintext, 3 nodes ----------------
start_tcpdump "$WORK/plain.pcap"
start_agent alpha "$NET.1" -tag role=web -tag dc=one
start_agent beta "$NET.2" -tag role=db -event-handler "query:whoami=echo beta-here"
start_agent gamma "$NET.3"
rpc "$NET.2" join "$NET.1:27946"
rpc "$NET.3" join "$NET.1:27946"
sleep 3
rpc "$NET.1" event deploy "hello-world"
rpc "$NET.1" event -coalesce=false bigpayload "$(printf 'a%.0s' $(seq 1 400))"
sleep 1
rpc "$NET.1" query -timeout=3s whoami "who?" || true
rpc "$NET.1" query -timeout=3s -relay-factor=1 -node=beta whoami "relayed?" || true
rpc "$NET.3" query -timeout=3s -tag role=d.* -no-ack whoami "filtered" || true
rpc "$NET.2" tags -set version=2
sleep 2
# Freeze gamma: alpha/beta probe it, fall back to indirect probes (nacks) and TCP pings,
# then suspect and finally declare it dead.
kill -STOP "$PID_gamma"
sleep 16
kill -CONT "$PID_gamma"
sleep 4
# A second "beta" at .4 joins the real beta: beta sees its own name at another address and asks
# the cluster (_serf_conflict query); alpha/gamma answer with conflict responses (Serf type 6).
start_agent beta "$NET.4" -join="$NET.2:27946"
sleep 4
kill -9 "$PID_beta" 2>/dev/null || true  # it may already have shut itself down (minority)
sleep 1
rpc "$NET.3" leave || true
sleep 3
rpc "$NET.2" leave || true
sleep 1
stop_tcpdump
cleanup
PIDS=()

# ---------------- encrypted runs ----------------
enc_run() {  # $1 = label, $2 = key
  start_tcpdump "$WORK/$1.pcap"
  start_agent alpha "$NET.1" -encrypt="$2"
  start_agent beta "$NET.2" -encrypt="$2"
  rpc "$NET.2" join "$NET.1:27946"
  sleep 3
  rpc "$NET.1" event secret "payload"
  sleep 1
  if [ "$1" = enc16 ]; then
    rpc "$NET.1" keys -install "$KEY32"
    rpc "$NET.1" keys -list
  fi
  sleep 2
  rpc "$NET.2" leave || true
  sleep 1
  stop_tcpdump
  cleanup
  PIDS=()
}
enc_run enc16 "$KEY16"
enc_run enc32 "$KEY32"

mkdir -p "$OUT"
rm -f "$OUT"/*.hex "$OUT"/index.tsv
python3 "$HERE/extract.py" --out "$OUT" \
  --pcap plain="$WORK/plain.pcap" --pcap enc16="$WORK/enc16.pcap" --pcap enc32="$WORK/enc32.pcap" \
  --key enc16="$KEY16" --key enc32="$KEY32"
"$SERF" version | head -1 >"$OUT/SERF_VERSION"
echo "vectors written to $OUT (work dir $WORK)"
python3 "$HERE/make_vsn0.py" "$OUT"
