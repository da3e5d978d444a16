#!/usr/bin/env bash
# exim-bs.sh: exim.sh with EXIM_MODE=bs: no daemon; the target is
# `exec:EXIM -C STATE_DIR/exim.conf -bs`, a fresh Exim speaking SMTP on stdin/stdout for every
# harness connection (`run-args` prints it), delivering to the same Maildir that `mailbox`
# reads. Same commands and arguments as exim.sh.
set -euo pipefail
EXIM_MODE=bs exec bash "$(dirname "${BASH_SOURCE[0]}")/exim.sh" "$@"
