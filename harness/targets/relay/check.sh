#!/usr/bin/env bash
# check.sh: prove that a target script's relay mode works against the real server, on loopback.
#
# usage: harness/targets/relay/check.sh NAME      (postfix, exim, opensmtpd or haraka: a script
#                                                  in harness/targets/ with relay-args)
#
# It installs NAME, starts next_hop.py (this directory) on a free port of 127.0.0.1, starts the
# target with RELAY_NEXT_HOP=127.0.0.1:HOPPORT on another free port, and checks:
#   1. a message from 127.0.0.1 for rcpt-T1@relay.test arrives at the next hop (its octets are
#      printed escaped: CR as <CR>, LF as <LF>);
#   2. a 451 to the first RCPT of rcpt-T2@relay.test: the message arrives on a later attempt
#      (every attempt is printed with the time since the previous one);
#   3. a 550 to RCPT rcpt-T3@relay.test: a bounce (MAIL FROM:<>) to sender-T3@return.relay.test
#      arrives at the next hop (first 40 lines printed; it should be a multipart/report DSN);
#   4. RCPT TO:<someone@elsewhere.test> is refused by the target;
#   5. (CHECK_GIVEUP=1, the default) a 451 to every RCPT of rcpt-T5@relay.test: the target gives
#      up: a bounce to sender-T5@return.relay.test arrives within CHECK_GIVEUP_WAIT seconds
#      (default 150) and no attempt for rcpt-T5 follows it in the next 10 s (a delay warning
#      would be followed by more attempts); every attempt and bounce is printed.
# When `relay-args` names a --flush-command, every wait runs it every 2 s, as the harness would.
#
# Environment: CHECK_TLS=1 (default: the next hop offers STARTTLS with a throwaway self-signed
# certificate made with openssl) or 0 (no STARTTLS: plaintext); CHECK_GIVEUP, CHECK_GIVEUP_WAIT;
# CHECK_KEEP=1 keeps the next hop's log and the target's state directory (for debugging);
# CHECK_NETNS=1 runs everything in a new network namespace even when `needs-netns` says no.
# Needs root (the targets do). A target whose `needs-netns` says yes runs, with the next hop,
# inside one new network namespace: after `install` this script runs itself again there
# (lib.sh targets_netns_exec), so both share that namespace's 127.0.0.1. Every process it
# starts is stopped by its PID; its temporary directories are removed at exit.
# Exit 0 when every check passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
TARGETS=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
source "$TARGETS/lib.sh"

(($# == 1)) || targets_usage
NAME=$1
SCRIPT=$TARGETS/$NAME.sh
[[ -f $SCRIPT ]] || targets_die "no $SCRIPT"
targets_need_root "the targets need it"
CHECK_TLS=${CHECK_TLS:-1}
CHECK_GIVEUP=${CHECK_GIVEUP:-1}
CHECK_GIVEUP_WAIT=${CHECK_GIVEUP_WAIT:-150}
# The interpreter itself (not a wrapper that might fork), so that $! is its PID.
PY=$(python3 -c 'import sys; print(sys.executable)')
HOP=("$PY" "$HERE/next_hop.py")

if [[ ${MTPSPEC_NETNS:-} != 1 ]]; then
    bash "$SCRIPT" install
    if [[ ${CHECK_NETNS:-} == 1 ]] || bash "$SCRIPT" needs-netns >/dev/null 2>&1; then
        echo "== $NAME runs in a network namespace of its own: the next hop runs there too"
        targets_netns_exec bash "$SELF" "$NAME"
    fi
fi

WORK=$(mktemp -d)
STATE=$(mktemp -d)
HOP_PID=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    bash "$SCRIPT" stop "$STATE" >/dev/null 2>&1 || true
    if [[ -n $HOP_PID ]] && targets_pid_alive "$HOP_PID"; then
        kill -TERM "$HOP_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do
            targets_pid_alive "$HOP_PID" || break
            sleep 0.1
        done
        if targets_pid_alive "$HOP_PID"; then kill -KILL "$HOP_PID" 2>/dev/null || true; fi
    fi
    if [[ ${CHECK_KEEP:-} == 1 ]]; then
        echo "== kept (CHECK_KEEP=1): next hop files in $WORK, target state in $STATE"
    else
        rm -rf "$WORK" "$STATE"
    fi
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the next hop -------------------------------------------------------------------------
hop_args=(serve --port-file "$WORK/hop.port" --log "$WORK/hop.log"
    --rule "rcpt-T2@relay.test=451,250" --rule "rcpt-T3@relay.test=550" --rule "rcpt-T5@relay.test=451")
if [[ $CHECK_TLS == 1 ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=nexthop.relay.test" \
        -keyout "$WORK/hop.key" -out "$WORK/hop.crt" >/dev/null 2>&1 || targets_die "openssl req failed"
    hop_args+=(--tls-cert "$WORK/hop.crt" --tls-key "$WORK/hop.key")
fi
"${HOP[@]}" "${hop_args[@]}" >"$WORK/hop.out" 2>&1 &
HOP_PID=$!
for ((i = 0; i < 100; i++)); do
    [[ -s $WORK/hop.port ]] && break
    targets_pid_alive "$HOP_PID" || break
    sleep 0.1
done
[[ -s $WORK/hop.port ]] || targets_die "next_hop.py did not start: $(cat "$WORK/hop.out")"
HOP_PORT=$(<"$WORK/hop.port")
echo "== next hop: next_hop.py (PID $HOP_PID) on 127.0.0.1:$HOP_PORT, STARTTLS offered: $([[ $CHECK_TLS == 1 ]] && echo yes || echo no)"

# --- the target ---------------------------------------------------------------------------
PORT=$(free_port)
echo "== $NAME: start $PORT STATE_DIR with RELAY_NEXT_HOP=127.0.0.1:$HOP_PORT"
RELAY_NEXT_HOP=127.0.0.1:$HOP_PORT bash "$SCRIPT" start "$PORT" "$STATE"
echo "== $NAME relay-args:"
mapfile -t relay_args < <(bash "$SCRIPT" relay-args "$PORT" "$STATE")
printf '   %s\n' "${relay_args[@]}"
FLUSH=()
for ((i = 0; i < ${#relay_args[@]}; i++)); do
    if [[ ${relay_args[i]} == --flush-command ]]; then
        read -ra FLUSH <<<"${relay_args[i + 1]}"
    fi
done
[[ " ${relay_args[*]} " == *" --inject smtp://127.0.0.1:$PORT "* ]] || targets_die "relay-args has no --inject"

flush() {
    if ((${#FLUSH[@]} > 0)); then
        "${FLUSH[@]}" >/dev/null 2>&1 || echo "   (flush command failed)"
    fi
}

# wait_arrival SECS RCPT MAIL_FROM LINES: wait for a message for RCPT at the next hop (from
# MAIL_FROM; "" is the null reverse-path, "*" any), print its first LINES lines; flush the
# target every 2 s when it has a flush command.
wait_arrival() {
    local secs=$1 rcpt=$2 deadline
    local -a extra=(--data-lines "$4")
    [[ $3 == "*" ]] || extra+=(--mail-from "$3")
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        "${HOP[@]}" wait --log "$WORK/hop.log" --rcpt "$rcpt" --timeout 2 "${extra[@]}" && return 0
        flush
    done
    "${HOP[@]}" wait --log "$WORK/hop.log" --rcpt "$rcpt" --timeout 0 "${extra[@]}"
}

submit() {
    "${HOP[@]}" submit --port "$PORT" --from "$1" --to "$2" --subject "$3"
}

declare -A RESULT
verdict() {
    RESULT[$1]=$2
    echo "-- check $1: $2"
}

T0=$SECONDS
# Check 5's message goes first: its target gives up after about a minute, while 1 to 4 run.
if [[ $CHECK_GIVEUP == 1 ]]; then
    echo "== check 5 (submitted first, judged last): 451 to every RCPT of rcpt-T5@relay.test"
    T5_START=$SECONDS
    if ! submit sender-T5@return.relay.test rcpt-T5@relay.test "relay check T5 (always 451)"; then
        verdict 5 "FAIL (the target did not accept the message)"
    fi
fi

echo "== check 1: rcpt-T1@relay.test arrives at the next hop"
if submit sender-T1@return.relay.test rcpt-T1@relay.test "relay check T1" &&
    wait_arrival 30 rcpt-T1@relay.test "*" 1000; then
    verdict 1 PASS
else
    verdict 1 FAIL
fi

echo "== check 2: 451 at the first RCPT of rcpt-T2@relay.test, then 250"
if submit sender-T2@return.relay.test rcpt-T2@relay.test "relay check T2 (451 first)" &&
    wait_arrival 60 rcpt-T2@relay.test "*" 0; then
    "${HOP[@]}" attempts --log "$WORK/hop.log" --rcpt rcpt-T2@relay.test
    verdict 2 PASS
else
    "${HOP[@]}" attempts --log "$WORK/hop.log" --rcpt rcpt-T2@relay.test
    verdict 2 FAIL
fi

echo "== check 3: 550 at RCPT rcpt-T3@relay.test: a bounce to sender-T3@return.relay.test"
if submit sender-T3@return.relay.test rcpt-T3@relay.test "relay check T3 (550)" &&
    wait_arrival 60 sender-T3@return.relay.test "" 40 | tee "$WORK/bounce3.txt" &&
    [[ -s $WORK/bounce3.txt ]]; then
    "${HOP[@]}" attempts --log "$WORK/hop.log" --rcpt rcpt-T3@relay.test
    if grep -qi 'Content-Type: multipart/report' "$WORK/bounce3.txt"; then
        echo "   the bounce is a multipart/report"
    else
        echo "   the bounce's first 40 lines name no multipart/report"
    fi
    verdict 3 PASS
else
    verdict 3 FAIL
fi

echo "== check 4: relaying to someone@elsewhere.test is refused"
set +e
submit sender-T4@return.relay.test someone@elsewhere.test "relay check T4 (must be refused)"
code=$?
set -e
if ((code == 3)); then
    verdict 4 PASS
else
    verdict 4 "FAIL (submit exited $code, 3 means refused at RCPT)"
fi

if [[ $CHECK_GIVEUP == 1 && -z ${RESULT[5]:-} ]]; then
    echo "== check 5: 451 to every RCPT of rcpt-T5@relay.test: a bounce to sender-T5@return.relay.test"
    left=$((CHECK_GIVEUP_WAIT - (SECONDS - T5_START)))
    ((left > 1)) || left=1
    deadline=$((SECONDS + left))
    gave_up=""
    while ((SECONDS < deadline)); do
        if "${HOP[@]}" bounces --log "$WORK/hop.log" --to sender-T5@return.relay.test \
            --after-rcpt rcpt-T5@relay.test >/dev/null; then
            gave_up=$((SECONDS - T5_START))
            # Given up, or only warned? Another attempt would show in the next 10 s.
            for ((i = 0; i < 5; i++)); do
                sleep 2
                flush
            done
            if "${HOP[@]}" bounces --log "$WORK/hop.log" --to sender-T5@return.relay.test \
                --after-rcpt rcpt-T5@relay.test >/dev/null; then
                break
            fi
            gave_up=""
        else
            sleep 2
            flush
        fi
    done
    "${HOP[@]}" attempts --log "$WORK/hop.log" --rcpt rcpt-T5@relay.test
    "${HOP[@]}" bounces --log "$WORK/hop.log" --to sender-T5@return.relay.test || true
    if [[ -n $gave_up ]]; then
        echo "   the last bounce came after the last attempt, ${gave_up} s (at most; polled) after the submission, and no attempt followed in 10 s"
        verdict 5 PASS
    else
        verdict 5 "FAIL (no bounce after the last attempt within $CHECK_GIVEUP_WAIT s)"
    fi
fi

echo "== the next hop's connections:"
"${HOP[@]}" summary --log "$WORK/hop.log"
echo "== $NAME: $((SECONDS - T0)) s"
failed=0
for n in $(printf '%s\n' "${!RESULT[@]}" | sort); do
    echo "check $n: ${RESULT[$n]}"
    [[ ${RESULT[$n]} == PASS ]] || failed=1
done
if ((failed)); then
    echo "== next hop log lines (last 40):"
    tail -40 "$WORK/hop.log"
fi
exit "$failed"
