#!/usr/bin/env bash
# postfix-reject.sh: postfix.sh with POSTFIX_BARE_NEWLINE=reject (smtpd_forbid_bare_newline = reject, no
# exclusions), so `run-suite.sh postfix-reject` runs the suite on that mode and writes
# reports/postfix-reject/. Same commands and arguments as postfix.sh.
set -euo pipefail
POSTFIX_BARE_NEWLINE=reject exec bash "$(dirname "${BASH_SOURCE[0]}")/postfix.sh" "$@"
