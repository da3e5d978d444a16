#!/usr/bin/env bash
# perf.sh: the performance comparison of issue #9 in one run on 127.0.0.1; writes
# reports/perf.md (and reports/perf.json, the raw measurements).
#
#   bash harness/bench/perf.sh
#
# Builds `mtpspec` (release) if needed, installs Postfix (Debian, brings smtp-source and
# smtp-sink) and aiosmtpd (PyPI) through harness/targets/*.sh, raises the open-file limit
# for the 1,000-idle-connection test, then harness/bench/perf.py starts each server, drives
# it, measures it and stops it by PID:
#   - `mtpspec load` vs smtp-source, 16 sessions, against the same smtp-sink;
#   - the reference (durable; and --sink, NOT durable) vs Postfix, aiosmtpd and smtp-sink at
#     1, 16 and 128 sessions: msg/s, server CPU per message, peak RSS;
#   - memory per idle connection with 1,000 connections open;
#   - MMTP SEND/RECEIVE round trips/s; the scenario suite's wall time; criterion benches.
# Needs root (Postfix). Takes about 8 minutes. Environment: see harness/bench/perf.py
# (PERF_SECONDS, PERF_PORT, PERF_MESSAGES, PERF_SKIP, PERF_OUT, MTPSPEC_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."

export MTPSPEC_BIN=${MTPSPEC_BIN:-target/release/mtpspec}
if [[ ${PERF_NO_BUILD:-} != 1 ]]; then
    cargo build --release -q -p mtpspec
    cargo bench -q -p mtp-proto --bench codec --no-run 2>/dev/null
fi
bash harness/targets/postfix.sh install >/dev/null
bash harness/targets/aiosmtpd.sh install >/dev/null
for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/bin/time; do
    [[ -x $tool ]] || { echo "perf.sh: $tool is missing" >&2; exit 1; }
done
# 1,000 idle connections: both ends of each in this host's limits, plus the servers' files.
ulimit -n "$(ulimit -Hn)"
((${PERF_MIN_FILES:-4096} <= $(ulimit -n))) || { echo "perf.sh: ulimit -n is too low" >&2; exit 1; }
exec "${PYTHON:-python3}" harness/bench/perf.py
