#!/usr/bin/env bash
# swaks as a client under test for `mtpspec serve-test`.
# usage: swaks.sh plain|starttls HOST PORT FROM BODY_FILE RCPT...
set -euo pipefail
mode=$1 host=$2 port=$3 from=$4 body=$5
shift 5
to=$(IFS=,; echo "$*")
args=(--server "$host:$port" --from "$from" --to "$to" --data "@$body"
      --helo client.example --timeout 30)
if [ "$mode" = starttls ]; then args+=(--tls); fi
exec swaks "${args[@]}"
