#!/usr/bin/env bash
# lettre (Rust) as a client under test for `mtpspec serve-test`: a small program in
# harness/clients/lettre/ that sends the message with lettre's SmtpTransport. Built (release)
# on first use into harness/clients/lettre/target.
# usage: lettre.sh plain|starttls HOST PORT FROM BODY_FILE RCPT...
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/lettre" && pwd)
bin=$dir/target/release/lettre-driver
if [ ! -x "$bin" ]; then
    cargo build -q --release --manifest-path "$dir/Cargo.toml" >&2
fi
exec "$bin" "$@"
