#!/bin/sh
# Records one event-handler invocation for the handler tests: the SERF_* environment (sorted),
# one inherited variable, and stdin, as $RECORD_DIR/<n>.env and $RECORD_DIR/<n>.stdin.
# Handlers run one at a time, so counting finished records gives the sequence number.
dir="${RECORD_DIR:?RECORD_DIR not set}"
n=$(ls "$dir" | grep -c '\.env$')
cat > "$dir/$n.stdin"
{
  env | grep '^SERF_' | LC_ALL=C sort
  echo "INHERITED=${CLUSTERD_RECORD_INHERIT:-}"
} > "$dir/$n.env.tmp"
mv "$dir/$n.env.tmp" "$dir/$n.env"
if [ "$SERF_EVENT" = "query" ]; then
  printf 'response from %s' "$SERF_SELF_NAME"
fi
