#!/usr/bin/env bash
# msmtp as a client under test for `mtpspec serve-test`; no configuration file, everything on
# the command line.
# usage: msmtp.sh plain|starttls HOST PORT FROM BODY_FILE RCPT...
set -euo pipefail
mode=$1 host=$2 port=$3 from=$4 body=$5
shift 5
args=(--file=/dev/null --host="$host" --port="$port" --from="$from" --domain=client.example
      --auth=off --timeout=30)
if [ "$mode" = starttls ]; then
    args+=(--tls=on --tls-starttls=on --tls-certcheck=off)
else
    args+=(--tls=off)
fi
exec msmtp "${args[@]}" -- "$@" < "$body"
