#!/usr/bin/env bash
# profile.sh: where the reference server spends its CPU under load. Runs `mtpspec serve`
# (release, durable; with --sink: the sink mode) on 127.0.0.1, drives it with
# `mtpspec load --pipelining --reuse` at 16 sessions, samples it with `perf record -g`
# (cpu-clock: works without hardware counters, e.g. in a VM) and prints the top of
# `perf report` by symbol (self time) and by caller (children). Falls back to
# valgrind --tool=callgrind (much slower, fewer messages) when perf is missing.
#
#   bash harness/bench/profile.sh [--sink] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MTPSPEC_BIN:-target/profiling/mtpspec}
# The release code with line tables (Cargo.toml, profile `profiling`), so perf can name lines.
[[ -x $bin ]] || cargo build --profile profiling -q -p mtpspec
sink=()
if [[ ${1:-} == --sink ]]; then
    sink=(--sink)
    shift
fi
seconds=${1:-5}
port=${PORT:-27190}
state=$(mktemp -d)
server=""
cleanup() {
    if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$state"
}
trap cleanup EXIT

serve=("$bin" serve --smtp "127.0.0.1:$port" --data-dir "$state/data" "${sink[@]}")
if command -v perf >/dev/null; then
    RUST_LOG=warn "${serve[@]}" >"$state/serve.out" 2>&1 &
    server=$!
else
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$state/callgrind.out" \
        "${serve[@]}" >"$state/serve.out" 2>&1 &
    server=$!
fi
for _ in $(seq 1 300); do grep -q "listening smtp" "$state/serve.out" && break; sleep 0.1; done
grep -q "listening smtp" "$state/serve.out" || { cat "$state/serve.out" >&2; exit 1; }

if command -v perf >/dev/null; then
    perf record -q -e cpu-clock -F 1999 -g -p "$server" -o "$state/perf.data" &
    recorder=$!
    "$bin" load --target "smtp://127.0.0.1:$port" --sessions 16 --messages 1000000000 \
        --duration "$seconds" --pipelining --reuse
    kill -INT "$recorder"
    wait "$recorder" || true
    echo "== self time by symbol =="
    perf report -i "$state/perf.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null |
        grep -E '^ +[0-9]' | sed 's/ *$//' | head -40
    echo "== including callees, by symbol =="
    perf report -i "$state/perf.data" --stdio --children -g none --sort symbol 2>/dev/null |
        grep -E '^ +[0-9]' | sed 's/ *$//' | head -60
else
    "$bin" load --target "smtp://127.0.0.1:$port" --sessions 16 --messages 3000 --pipelining --reuse
    kill "$server"
    wait "$server" || true
    server=""
    callgrind_annotate "$state/callgrind.out" | head -60
fi
