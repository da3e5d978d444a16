#!/usr/bin/env bash
# Messages/s of the reference server over loopback, durable store on (fsync before 250),
# PIPELINING on, with 1 and 16 concurrent sessions; writes reports/reference-throughput.md.
# usage: harness/bench/reference-throughput.sh [MTPSPEC_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/mtpspec}
[ -x "$bin" ] || cargo build --release -p mtpspec
state=$(mktemp -d)
port=${PORT:-2700}
"$bin" serve --smtp "127.0.0.1:$port" --data-dir "$state/store" >"$state/serve.out" 2>"$state/serve.err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 1 50); do grep -q "listening smtp" "$state/serve.out" 2>/dev/null && break; sleep 0.1; done

run() { # label, args...
    local label=$1; shift
    local cmd="mtpspec load --target smtp://127.0.0.1:$port $*"
    local out
    out=$("$bin" load --target "smtp://127.0.0.1:$port" "$@" 2>/dev/null)
    printf '### %s\n\n`%s`\n\n```\n%s\n```\n\n' "$label" "$cmd" "$out"
}

{
    echo "# Reference server throughput (durable store, loopback)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)."
    echo "Date: $(date -u +%Y-%m-%d). Server: \`mtpspec serve --smtp 127.0.0.1:$port --data-dir DIR\` (fsync before every 250, group commit)."
    echo "Produced by \`bash harness/bench/reference-throughput.sh\`. 1 KiB messages, one recipient."
    echo
    run "1 session, pipelining, connection reused" --sessions 1 --messages 2000 --pipelining --reuse
    run "16 sessions, pipelining, connections reused" --sessions 16 --messages 20000 --pipelining --reuse
    run "16 sessions, pipelining, one connection per message" --sessions 16 --messages 10000 --pipelining
} > reports/reference-throughput.md
cat reports/reference-throughput.md
