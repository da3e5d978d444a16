#!/usr/bin/env bash
# curl's smtp:// as a client under test for `mtpspec serve-test`, used as its manual shows
# (`--mail-from`, `--mail-rcpt`, `-T FILE`; no --crlf).
# usage: curl.sh plain|starttls HOST PORT FROM BODY_FILE RCPT...
set -euo pipefail
mode=$1 host=$2 port=$3 from=$4 body=$5
shift 5
args=(--silent --show-error --max-time 30 --url "smtp://$host:$port/client.example"
      --mail-from "$from" -T "$body")
for rcpt in "$@"; do args+=(--mail-rcpt "$rcpt"); done
if [ "$mode" = starttls ]; then args+=(--ssl-reqd --insecure); fi
exec curl "${args[@]}"
