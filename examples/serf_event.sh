#!/bin/sh
# A Kong 0.x-style event handler for clusterd (or serf): forwards each event to the Kong Admin
# API's /cluster/events/ endpoint, the way Kong's own serf_event.sh did.
#
#   clusterd agent -event-handler \
#     "member-join,member-leave,member-failed,member-update,member-reap,user:kong=/path/to/serf_event.sh"
#
# Member events are wrapped as {"type":"<SERF_EVENT>","entity":"<stdin>"} (stdin holds one
# "name<TAB>addr<TAB>role<TAB>tags" line per member); a user event's payload is already the JSON
# Kong broadcast, so it is posted unchanged. KONG_ADMIN_URL overrides the Admin API address.
set -u
admin="${KONG_ADMIN_URL:-http://127.0.0.1:8001}"
payload=$(cat)

if [ "${SERF_EVENT:-}" = "user" ]; then
  body="$payload"
else
  tab=$(printf '\t')
  # JSON string escaping: backslash, double quote, tab, then join lines with \n.
  entity=$(printf '%s\n' "$payload" \
    | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/${tab}/\\\\t/g" \
    | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }')
  body="{\"type\":\"${SERF_EVENT:-unknown}\",\"entity\":\"${entity}\"}"
fi

exec curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' \
  --data-binary "$body" "${admin%/}/cluster/events/"
