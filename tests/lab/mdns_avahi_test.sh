#!/usr/bin/env bash
# Issue 18: clusterd's mDNS discovery shares UDP 5353 with a running avahi-daemon. Two network
# namespaces joined by a veth pair (10.99.0.0/24, created and removed here). Host A runs
# avahi-daemon (no D-Bus, publishing its address on the link) and clusterd -discover=lab on the
# same port; host B runs the stock serf agent -discover=lab. Pass: both agents list both alive,
# avahi-daemon still runs and still holds 5353 beside clusterd, and clusterd answered serf's
# query or found serf itself.
# Every process started here is stopped by PID (trap), every wait is bounded.
set -u
clusterd=${1:?usage: mdns_avahi_test.sh CLUSTERD_BIN}
tag=av$$
a=${tag}a b=${tag}b dir=$(mktemp -d /tmp/clusterd-avahi.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 20); do alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.2; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }
command -v avahi-daemon >/dev/null || fail "avahi-daemon is not installed (scripts/setup.sh installs it)"
ip netns add "$a" && ip netns add "$b" || fail "ip netns"
ip link add "${tag}0" type veth peer name "${tag}1" || fail "veth"
ip link set "${tag}0" netns "$a"; ip link set "${tag}1" netns "$b"
ip -n "$a" addr add 10.99.0.1/24 dev "${tag}0"; ip -n "$b" addr add 10.99.0.2/24 dev "${tag}1"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "${tag}0" up multicast on; ip -n "$b" link set "${tag}1" up multicast on
ip -n "$a" route add 224.0.0.0/4 dev "${tag}0"; ip -n "$b" route add 224.0.0.0/4 dev "${tag}1"
cat >"$dir/avahi.conf" <<EOC
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=${tag}0
enable-dbus=no
[publish]
publish-addresses=yes
EOC
ip netns exec "$a" avahi-daemon -f "$dir/avahi.conf" --no-drop-root --no-chroot --no-rlimits >"$dir/avahi.log" 2>&1 &
pids+=($!); avahi=$!
for _ in $(seq 50); do grep -q "Server startup complete" "$dir/avahi.log" && break; sleep 0.2; done
grep -q "Server startup complete" "$dir/avahi.log" || fail "avahi-daemon did not start"
ip netns exec "$a" "$clusterd" agent -node=cd1 -bind=10.99.0.1:7946 -rpc-addr=127.0.0.1:7373 -discover=lab >"$dir/cd1.log" 2>&1 &
pids+=($!)
ip netns exec "$b" serf agent -node=sf2 -bind=10.99.0.2:7946 -rpc-addr=127.0.0.1:7373 -discover=lab >"$dir/sf2.log" 2>&1 &
pids+=($!)
ok=0
for _ in $(seq 120); do   # 60 s: formation by mDNS waits on both sides' query intervals, slower under load
  ca=$(ip netns exec "$a" "$clusterd" members -rpc-addr=127.0.0.1:7373 -status=alive 2>/dev/null | wc -l)
  sb=$(ip netns exec "$b" serf members -rpc-addr=127.0.0.1:7373 -status=alive 2>/dev/null | wc -l)
  if [ "$ca" = 2 ] && [ "$sb" = 2 ]; then ok=1; break; fi
  sleep 0.5
done
[ $ok = 1 ] || fail "not formed: clusterd sees $ca alive, serf $sb"
kill -0 "$avahi" 2>/dev/null || fail "avahi-daemon exited"
socks=$(ip netns exec "$a" ss -ulnp 'sport = :5353')
echo "$socks" | grep -q avahi-daemon || fail "avahi-daemon no longer holds 5353: $socks"
echo "$socks" | grep -q clusterd || fail "clusterd does not hold 5353: $socks"
info=$(ip netns exec "$a" "$clusterd" info -rpc-addr=127.0.0.1:7373)
answered=$(echo "$info" | awk '/queries_answered/ {print $3}')
found=$(echo "$info" | awk '/peers_found/ {print $3}')
# Whichever side queried first, clusterd's mDNS did its part through the shared port: it
# answered serf's query or found serf by its own.
[ $(( ${answered:-0} + ${found:-0} )) -ge 1 ] || fail "clusterd neither answered nor found (answered=$answered found=$found)"
echo "PASS: clusterd + avahi-daemon on 5353 in one namespace, clusterd and serf formed by mDNS; queries_answered=$answered peers_found=$found"
