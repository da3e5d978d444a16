#!/usr/bin/env bash
# gateway.sh BIN LABEL SMTP_PORT HTTP_PORT: starts `BIN serve` (SMTP and the HTTP gateway on
# 127.0.0.1) under an open-files limit of 1024, runs both gateway attacks of gateway.py (1,100
# idle HTTP sockets, then 8 stalled uploads and the server's memory), and stops the server by
# its PID. IDLE_ONLY=1 skips the uploads. Prints what each attack measured.
set -euo pipefail
bin=${1:?usage: gateway.sh BIN LABEL SMTP_PORT HTTP_PORT}
label=${2:?}
smtp=${3:?}
http=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "/tmp/mtpspec-gateway-$label.XXXX")
(ulimit -n 1024 && exec "$bin" serve --smtp "127.0.0.1:$smtp" --http "127.0.0.1:$http" \
    --data-dir "$dir" --no-tls) >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
sleep 2
echo "== $label: server pid $pid, open-files limit $(awk '/Max open files/ {print $4}' "/proc/$pid/limits")"
echo "-- 1,100 idle HTTP sockets"
python3 "$here/gateway.py" idle "$http" "$smtp" 1100
sleep 1
if [[ -z ${IDLE_ONLY:-} ]]; then
    echo "-- 8 stalled uploads (declared 25 MiB, 24 MiB sent)"
    python3 "$here/gateway.py" uploads "$http" "$pid" 8 24 65
fi
