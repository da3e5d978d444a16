#!/usr/bin/env bash
# postfix-normalize.sh: postfix.sh with POSTFIX_BARE_NEWLINE=normalize (smtpd_forbid_bare_newline = normalize, no
# exclusions), so `run-suite.sh postfix-normalize` runs the suite on that mode and writes
# reports/postfix-normalize/. Same commands and arguments as postfix.sh.
set -euo pipefail
POSTFIX_BARE_NEWLINE=normalize exec bash "$(dirname "${BASH_SOURCE[0]}")/postfix.sh" "$@"
