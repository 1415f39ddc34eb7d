#!/bin/bash
# SPDX-License-Identifier: MIT
# The verdict log cannot be flushed by a sandbox: t2 sprays a quarter of a million distinct
# refused UDP destinations (refused by sendmsg4 before any packet exists), while t1's allowed
# and blocked history, kernel and proxy rows alike, stays as it was; t2's refusals are all
# counted, past its own bound in one "(other hosts)" row.
# Root only; creates the world f<pid>, sandboxes t1 and t2 of the instance f<pid>, the pin dir
# /sys/fs/bpf/sbxtest-f<pid>, and removes exactly those.
# Prints "PASS log_flood.<check>" or "FAIL log_flood.<check>: why".
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -b "$NETTOOL" log_flood f ip nsenter curl dig
SPRAY=250000
PER_SANDBOX=$(sed -n 's/^#define SBX_VERDICTS_PER_SANDBOX[[:space:]]*\([0-9]*\).*/\1/p' include/sbx/bpf_abi.h)

# t1's history as sorted "kind reason host count" lines, from `sbx policy log t1 --json`
history() {
	S policy log t1 --json | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
for e in sorted(d["blocked_hosts"] + d["allowed_hosts"], key=lambda e: (e["proxy_type"], e["reason"], e["host"])):
    print(e["proxy_type"], e["reason"], e["host"], e.get("port", 0), e["count"])'
}

cleanup() { integ_cleanup t1 t2; }
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1 && S run t1 -- true 2>&1 && S run t2 -- true 2>&1); then
	echo "FAIL log_flood.setup: $out"
	exit 1
fi
[ -n "$PER_SANDBOX" ] || { echo "FAIL log_flood.setup: no SBX_VERDICTS_PER_SANDBOX in bpf_abi.h"; exit 1; }

# ---- t1's history: allowed through the proxy, refused by the proxy, the resolver, the kernel --
X curl -s -m 5 --cacert "$CA" https://pypi.org/simple/
[[ $OUT == *"host=pypi.org"* ]] || fail log_flood.t1_allowed "out=$OUT"
X curl -s -m 5 http://evil.example/
X dig +time=2 +tries=1 secret.exfil.example
X "$NETTOOL" udp 198.51.100.9 9999
[[ $OUT == refused* ]] || fail log_flood.t1_udp_refused "out=$OUT"
BEFORE=$(history)
grep -q "^transparent domain-allowed pypi.org\|^forward domain-allowed pypi.org\|^forward-bypass domain-allowed pypi.org" <<<"$BEFORE" &&
	grep -q "default-deny evil.example" <<<"$BEFORE" && grep -q "dns-refused secret.exfil.example" <<<"$BEFORE" &&
	grep -q "udp-blocked 198.51.100.9:9999" <<<"$BEFORE" && pass log_flood.history_recorded ||
	fail log_flood.history_recorded "$BEFORE"

# ---- t2 sprays ---------------------------------------------------------------------------------
SB=t2 X "$NETTOOL" spray "$SPRAY" 30
REFUSED=$(sed -n 's/^ok sent=0 refused=\([0-9]*\)$/\1/p' <<<"$OUT")
[ -n "$REFUSED" ] && [ "$REFUSED" -ge 100000 ] && pass log_flood.spray_refused ||
	fail log_flood.spray_refused "out=$OUT"
REFUSED=${REFUSED:-0}

AFTER=$(history)
[ "$AFTER" = "$BEFORE" ] && pass log_flood.other_history_survives ||
	fail log_flood.other_history_survives "before:
$BEFORE
after:
$AFTER"

run S policy log t2 --json
expect_json log_flood.every_refusal_counted "sum(b['count'] for b in d['blocked_hosts'] if b['reason'] == 'udp-blocked') == $REFUSED"
expect_json log_flood.rows_bounded "len(d['blocked_hosts']) + len(d['allowed_hosts']) <= $PER_SANDBOX + 8"
expect_json log_flood.other_hosts_row "[b['count'] for b in d['blocked_hosts'] if b['host'] == '(other hosts)' and b['reason'] == 'udp-blocked'] == [$REFUSED - $PER_SANDBOX]"
run S policy log t2 --limit 3
[[ $OUT == *"(other hosts)"* ]] && pass log_flood.table_shows_other_hosts || fail log_flood.table_shows_other_hosts "out=$OUT"

# the resolver's refusals (counted by sbxd, not the kernel) keep to the same bound
NAMES=$((PER_SANDBOX + 300))
SB=t2 X "$NETTOOL" dnsmany 198.51.100.53 53 "$NAMES" flood.invalid
ANSWERED=$(sed -n 's/^ok answered=\([0-9]*\)$/\1/p' <<<"$OUT")
[ "${ANSWERED:-0}" = "$NAMES" ] && pass log_flood.names_refused || fail log_flood.names_refused "out=$OUT"
run S policy log t2 --json
expect_json log_flood.name_refusals_counted "sum(b['count'] for b in d['blocked_hosts'] if b['reason'] == 'dns-refused') == ${ANSWERED:-0} and [b['count'] for b in d['blocked_hosts'] if b['reason'] == 'dns-refused' and b['host'] == '(other hosts)'] == [${ANSWERED:-0}]"
AFTER=$(history)
[ "$AFTER" = "$BEFORE" ] && pass log_flood.history_survives_name_spray || fail log_flood.history_survives_name_spray "$AFTER"

# t1 still gets rows of its own for new hosts
X "$NETTOOL" udp 198.51.100.77 9999
AFTER=$(history)
grep -q "udp-blocked 198.51.100.77:9999" <<<"$AFTER" && pass log_flood.other_sandbox_still_gets_rows ||
	fail log_flood.other_sandbox_still_gets_rows "$AFTER"

finish
