#!/usr/bin/env bash
# Installs every Debian package clusterd's build, tests and benchmarks need. Idempotent:
# a no-op when everything is present. Prints one short line per step, not apt's output.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev clang-format-14
  libasio-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev nlohmann-json3-dev libabsl-dev
  serf golang-github-hashicorp-serf-dev golang-github-hashicorp-memberlist-dev
  tcpdump nftables iproute2 procps psmisc python3 gnuplot-nox valgrind systemd
  libsqlite3-dev sqlite3 libpq-dev postgresql etcd-server etcd-client libhttp-parser-dev devscripts
  # headless browser for the status-page test (tests/e2e/status_page, DevTools protocol over a pipe)
  chromium
  # promtool (tests/interop/metrics_test.cpp checks the agent's metrics text with it)
  prometheus
  avahi-daemon  # tests/lab/mdns_avahi_test.sh: clusterd's mDNS beside a running avahi-daemon
  libre2-dev  # RE2: Go's regexp syntax for member, query and handler filters (src/regex)
  # the Debian package (debian/, tests/package): build, bash completion helper, lintian, man checks
  debhelper dpkg-dev bash-completion lintian groff-base man-db
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
log=$(mktemp /tmp/clusterd-setup.XXXXXX.log)
export DEBIAN_FRONTEND=noninteractive
# apt's full output goes to the log; the terminal gets one short line per download and per
# package set up, so a long install shows that it moves.
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } 2>&1 |
     tee "$log" | sed -un 's/^Get:[0-9]* [^ ]* [^ ]* [^ ]* \([^ [][^ ]*\) .*/setup:   fetched \1/p; s/^Setting up \([^ ]*\) .*/setup:   set up \1/p'; then
  echo "setup: apt-get failed; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "setup: done"
