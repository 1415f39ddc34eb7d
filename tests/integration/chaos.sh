#!/bin/bash
# SPDX-License-Identifier: MIT
# Chaos: many concurrent sandboxed clients through both proxy paths (allowed and refused
# requests, clients that stall mid-ClientHello and mid-request-head) while the upstream
# resolver is stopped and continued, policy rules change underneath, and sbxd is SIGKILLed
# and restarted. Afterwards sbxd is alive and serving, the verdict log counts exactly the
# refusals the clients got (none lost, none invented), and sbxd's descriptors and memory are
# flat from round to round. Root only; everything runs in namespaces this script creates and
# removes, by name. Bounded: ROUNDS rounds of JOBS x REQS requests per sandbox (< 90 s).
# Prints "PASS chaos.<check>" or "FAIL chaos.<check>: why"; exit 1 if any check failed.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -b "$NETTOOL" chaos c ip nsenter curl dig

ROUNDS=4 JOBS=8 REQS=6 KILL_ROUND=2
# Descriptors and memory after the last round against the first round after the restart.
FD_SLACK=16 RSS_SLACK_KB=8192
SANDBOXES="c1 c2"
CLIENTS=()

P() { pass "chaos.$1"; }
F() { fail "chaos.$1" "$2"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

cleanup() {
	local p
	bash scripts/world.sh dns-cont "$W" >/dev/null 2>&1
	for p in "${CLIENTS[@]}"; do kill "$p" 2>/dev/null; done
	# shellcheck disable=SC2086
	integ_cleanup $SANDBOXES
}
integ_traps
integ_world_up
CDN=$WORLD_CDN_ADDR

# The sandboxes' commands run $PUB/client and write their outcomes to $WR: their root is
# nobody in the workspace $PUB, so that is a directory of nobody's
WR=$PUB/out
mkdir -m 755 "$WR" && chown 65534:65534 "$WR"

# One client job inside a sandbox: REQS requests, one outcome line each:
#   fwd-allowed|fwd-evil|tp-allowed|tp-evil CODE   curl's HTTP status (000: no answer)
#   stall-hello|stall-head                         a client that went quiet mid-way, then left
cat >"$PUB/client" <<'EOF_CLIENT'
#!/bin/sh
# usage: client NETTOOL CDN-ADDR REQS OUT
nt=$1 cdn=$2 reqs=$3 out=$4
i=0
while [ "$i" -lt "$reqs" ]; do
	i=$((i + 1))
	c="curl -s -o /dev/null -m 6 -w %{http_code}"
	case $((i % 6)) in
	0) echo "fwd-allowed $($c http://cdn-allowed.example/chaos)" ;;
	1) echo "fwd-evil $($c http://cdn-evil.example/chaos)" ;;
	2) echo "tp-allowed $($c --noproxy '*' http://cdn-allowed.example/chaos)" ;;
	3) echo "tp-evil $($c --noproxy '*' -H 'Host: cdn-evil.example' "http://$cdn/chaos")" ;;
	4) timeout 1 "$nt" talk "$cdn" 443 chunk=1 gap=30 hello=cdn-allowed.example >/dev/null 2>&1
	   echo stall-hello ;;
	5) "$nt" talk "$cdn" 80 'send=GET /chaos HTTP/1.1\r\nHost: cdn-al' sleep=1500 >/dev/null 2>&1
	   echo stall-head ;;
	esac
done >>"$out"
EOF_CLIENT
chmod 755 "$PUB/client"

S policy set-default balanced >/dev/null && S policy allow network cdn-allowed.example >/dev/null || {
	echo "FAIL chaos.setup: cannot set the policy"
	exit 1
}
for sb in $SANDBOXES; do
	if ! out=$(S run "$sb" -- true 2>&1); then
		echo "FAIL chaos.setup: sbx run $sb: $out"
		exit 1
	fi
done
P setup

# Blocked verdicts for cdn-evil.example per "sandbox proxy_type", from the pinned log.
evil_counts() {
	S policy log --json | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
c = {}
for e in d["blocked_hosts"]:
    if e["host"].startswith("cdn-evil.example"):
        k = "%s %s" % (e["sandbox"], e["proxy_type"])
        c[k] = c.get(k, 0) + int(e["count"])
for k in sorted(c):
    print(k, c[k])'
}
# 403s the clients of a round got, per "sandbox proxy_type", like evil_counts.
client_403s() { # ROUND...
	local r sb kind
	for sb in $SANDBOXES; do
		for kind in fwd:forward tp:transparent; do
			n=0
			for r in "$@"; do
				n=$((n + $(cat "$WR/$sb-$r".* 2>/dev/null | grep -c "^${kind%%:*}-evil 403$")))
			done
			[ "$n" -gt 0 ] && echo "$sb ${kind#*:} $n"
		done
	done
}
# a minus b of two "key count" listings: the keys where they differ
count_delta() { # BEFORE AFTER
	awk 'NR == FNR { b[$1 " " $2] = $3; next } { k = $1 " " $2; print k, $3 - b[k] }' \
		<(echo "$1") <(echo "$2") | awk '$3 != 0'
}

declare -A FDS RSS
base_counts=""
for ((r = 1; r <= ROUNDS; r++)); do
	CLIENTS=()
	for sb in $SANDBOXES; do
		for ((j = 1; j <= JOBS; j++)); do
			in_world env "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" exec "$sb" -- \
				"$PUB/client" "$NETTOOL" "$CDN" "$REQS" "$WR/$sb-$r.$j" </dev/null >/dev/null 2>&1 &
			CLIENTS+=("$!")
		done
	done
	# underneath the clients: the resolver stops and comes back, rules change, and once
	# sbxd is killed and started again
	sleep 1
	bash scripts/world.sh dns-stop "$W"
	S policy allow network "chaos-$r.example,*.exfil.example" >/dev/null
	sleep 2
	if [ "$r" = "$KILL_ROUND" ]; then
		pid=$(daemon_pid)
		kill -9 "$pid"
		wait_for -n 30 pid_dead "$pid"
		S daemon start >/dev/null 2>&1
	fi
	bash scripts/world.sh dns-cont "$W"
	S policy rm network --resource "chaos-$r.example" >/dev/null
	S policy rm network --resource "*.exfil.example" >/dev/null
	for p in "${CLIENTS[@]}"; do wait "$p"; done
	CLIENTS=()
	sleep 1
	pid=$(daemon_pid)
	FDS[$r]=$(fds "$pid") RSS[$r]=$(rss_kb "$pid")
	echo "    round $r: sbxd $pid fds ${FDS[$r]} rss ${RSS[$r]} kB, $(cat "$WR"/*-$r.* | wc -l) outcomes"
	[ "$r" = "$KILL_ROUND" ] && base_counts=$(evil_counts)
done

pid=$(daemon_pid)
kill -0 "$pid" 2>/dev/null && ! pid_dead "$pid" && P sbxd_alive || F sbxd_alive "no sbxd ($pid)"
out=$(in_world env "${ENVV[@]}" timeout -k 5 30 "$SBX_BIN" exec c1 -- curl -s -m 5 http://cdn-allowed.example/after 2>&1)
[[ $out == *"vhost=cdn-allowed.example"* ]] && P serving_after || F serving_after "$out"
out=$(in_world env "${ENVV[@]}" timeout -k 5 30 "$SBX_BIN" exec c2 -- curl -s -m 5 --noproxy '*' http://cdn-allowed.example/after 2>&1)
[[ $out == *"vhost=cdn-allowed.example"* ]] && P serving_after_transparent || F serving_after_transparent "$out"

# every client actually ran: each job wrote all its outcomes
total=$(cat "$WR"/*-*.* 2>/dev/null | wc -l)
want=$((ROUNDS * JOBS * REQS * $(wc -w <<<"$SANDBOXES")))
[ "$total" = "$want" ] && P clients_completed || F clients_completed "$total outcomes, want $want"
# and the refusals did happen on both paths (else the count check below proves nothing)
n403=$(cat "$WR"/*-*.* | grep -c -- '-evil 403$')
[ "$n403" -ge $((ROUNDS * JOBS)) ] && P refusals_seen || F refusals_seen "only $n403 refusals"

# Verdicts since the kill round equal the refusals the clients got in the rounds after it.
later=$(seq $((KILL_ROUND + 1)) $ROUNDS)
# shellcheck disable=SC2086
want=$(client_403s $later | sort)
got=$(count_delta "$base_counts" "$(evil_counts)" | sort)
[ -n "$want" ] && [ "$got" = "$want" ] && P verdicts_equal_refusals ||
	F verdicts_equal_refusals "log says [$(tr '\n' ';' <<<"$got")], clients got [$(tr '\n' ';' <<<"$want")]"
# and none invented in the rounds before: at most one per refused request made
made=$(cat "$WR"/*-[1-$KILL_ROUND].* | grep -c -- '-evil ')
logged=$(awk '{ s += $3 } END { print s + 0 }' <<<"$base_counts")
[ "$logged" -le "$made" ] && P no_verdict_invented_across_kill ||
	F no_verdict_invented_across_kill "$logged verdicts for $made refused requests"

first=$((KILL_ROUND + 1))
[ "${FDS[$ROUNDS]}" -le $((FDS[$first] + FD_SLACK)) ] && P fds_flat ||
	F fds_flat "fds $(for ((r = first; r <= ROUNDS; r++)); do printf '%s ' "${FDS[$r]}"; done)"
rss="rss kB $(for ((r = first; r <= ROUNDS; r++)); do printf '%s ' "${RSS[$r]}"; done)"
# ASan keeps freed memory in quarantine (up to 256 MB): RSS says nothing about leaks there
if grep -q __asan_init "$SBXD_BIN" 2>/dev/null; then
	skip chaos.rss_flat "sbxd is built with ASan ($rss)"
elif [ "${RSS[$ROUNDS]}" -le $((RSS[$first] + RSS_SLACK_KB)) ]; then
	P rss_flat
else
	F rss_flat "$rss"
fi

finish
