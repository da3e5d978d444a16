#!/usr/bin/env bash
# The reference client (`mtpspec send`) as a client under test for `mtpspec serve-test`. It
# attaches VMTP metadata, which it sends only to a server that offers VMTP METADATA.
# usage: mtpspec_send.sh plain|starttls HOST PORT FROM BODY_FILE RCPT...
# MTPSPEC_BIN names the binary (default: target/debug/mtpspec).
set -euo pipefail
mode=$1 host=$2 port=$3 from=$4 body=$5
shift 5
args=(send --server "$host:$port" --from "$from" --raw --helo client.example
      --timeout 30s --metadata client-id=serve-test)
if [ "$mode" = starttls ]; then args+=(--starttls --insecure); fi
exec "${MTPSPEC_BIN:-target/debug/mtpspec}" "${args[@]}" "$@" - < "$body"
