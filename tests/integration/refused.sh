#!/bin/bash
# SPDX-License-Identifier: MIT
# What a sandboxed program and its user are told when the policy refuses, in a fresh test
# world: the 403 page of both proxy paths names the fix; a refused CONNECT (where curl shows
# only the status) carries it in its status line and an X-Sbx-Fix header; a host allowed on
# another port says which; a host service names its localhost rule; a private address names
# the private-address rule, not the allow rule it overrides; running the fix opens the way.
# Then `sbx policy log`: the hint under the Blocked table, and --follow with two sandboxes
# (time, sandbox, header, what it follows; --json lines). Last, a restarted sbxd logs no
# libbpf "Exclusivity flag on" line. Root only; everything is named after our pid.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2317
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init refused r ip nsenter curl
failed=0
P() { echo "PASS refused.$1"; }
F() {
	echo "FAIL refused.$1: $2"
	failed=1
}

cleanup() { integ_cleanup t1 t2; }
integ_traps
integ_world_up
ACCESS=$WORLD_DIR/access.log

if ! out=$(S policy set-default balanced 2>&1) ||
	! out=$(S policy allow network "allowed.test,rebind.example" 2>&1) ||
	! out=$(S run t1 -- true 2>&1) || ! out=$(S run t2 -- true 2>&1); then
	echo "FAIL refused.setup: $out"
	exit 1
fi
P setup

# ---- the 403 page and the CONNECT refusal -----------------------------------------------------
X curl -s -m 5 http://evil.example/
[[ $OUT == *$'\ndetail: no matching allow rule - blocked by default deny policy\nfix: sbx policy allow network evil.example:80' ]] &&
	P forward_page_names_the_fix || F forward_page_names_the_fix "$OUT"

X curl -s -m 5 -o /dev/null -D - http://evil.example/
[[ $OUT == *"HTTP/1.1 403 Blocked by network policy; fix: sbx policy allow network evil.example:80"$'\r'* ]] &&
	[[ $OUT == *"X-Sbx-Fix: sbx policy allow network evil.example:80"$'\r'* ]] &&
	P forward_status_and_header_name_the_fix || F forward_status_and_header_name_the_fix "$OUT"

X curl -s -m 5 --noproxy '*' --resolve evil.example:80:203.0.113.66 http://evil.example/
[[ $OUT == *$'\nfix: sbx policy allow network evil.example:80' ]] &&
	P transparent_page_names_the_fix || F transparent_page_names_the_fix "$OUT"

# curl says "CONNECT tunnel failed, response 403"; -v shows the status line and the header
X curl -sS -v -m 5 --cacert "$CA" https://evil.example/
[ "$RC" != 0 ] && [[ $OUT == *"< HTTP/1.1 403 Blocked by network policy; fix: sbx policy allow network evil.example:443"* ]] &&
	[[ $OUT == *"< X-Sbx-Fix: sbx policy allow network evil.example:443"* ]] &&
	P connect_refusal_names_the_fix || F connect_refusal_names_the_fix "rc=$RC $OUT"

# ---- a host allowed on another port only --------------------------------------------------------
X curl -s -m 5 http://pypi.org/
[[ $OUT == *$'\ndetail: pypi.org is allowed on port 443 (default-package-managers), not on port 80\nfix: sbx policy allow network pypi.org:80' ]] &&
	P other_port_says_which || F other_port_says_which "$OUT"
fix=$(sed -n 's/^fix: //p' <<<"$OUT")
m=$(mark "$ACCESS")
# the fix, as a user pastes it
in_world env "${ENVV[@]}" bash -c "sbx() { \"$SBX_BIN\" \"\$@\"; }; $fix" </dev/null >/dev/null 2>&1
X curl -s -m 5 http://pypi.org/
[[ $OUT == *"host=pypi.org"* ]] && since "$ACCESS" "$m" | grep -q "pypi.org GET /" &&
	P other_port_fix_opens_it || F other_port_fix_opens_it "fix '$fix': $OUT"

# ---- host services and private addresses ----------------------------------------------------------
X curl -s -m 5 http://host.docker.internal:18080/
[[ $OUT == *$'\nfix: sbx policy allow network localhost:18080' ]] &&
	P host_service_names_localhost_rule || F host_service_names_localhost_rule "$OUT"

# an address the forward proxy is asked for by IP gets check's answer, not a fix that fails
gw=$(sb_field t1 gateway)
X curl -s -m 5 "http://$gw:3128/"
[[ $OUT == *$'\nfix: no rule can allow this: the proxy never dials sbx\'s own listeners' ]] &&
	P forward_own_listener_no_rule || F forward_own_listener_no_rule "$OUT"
X curl -s -m 5 "http://$gw:18080/"
[[ $OUT == *"detail: $gw is an address of this host: only a localhost:18080 rule opens it"* ]] &&
	[[ $OUT == *$'\nfix: sbx policy allow network localhost:18080' ]] &&
	P forward_gateway_names_localhost_rule || F forward_gateway_names_localhost_rule "$OUT"

X curl -s -m 5 http://rebind.example/
[[ $OUT == *$'\nrule: -\n'* ]] && [[ $OUT != *local:* ]] &&
	[[ $OUT == *"detail: rebind.example resolves to a private address 10.77.0.5: refused by the private-address rule"* ]] &&
	[[ $OUT == *$'\nfix: sbx policy allow network 10.77.0.5:80  # only if 10.77.0.5 is meant to be reached' ]] &&
	P private_address_names_its_rule || F private_address_names_its_rule "$OUT"
S policy log --json | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
rows = [e for e in d["blocked_hosts"] if e["host"] == "rebind.example"]
sys.exit(0 if rows and all(e["reason"] == "private-ip" and e["rule"] == "" for e in rows) else 1)' &&
	P private_address_log_names_no_rule || F private_address_log_names_no_rule "$(S policy log)"

# ---- the log's hint ---------------------------------------------------------------------------------
X "$NETTOOL" udp 198.51.100.10 9999
log=$(S policy log)
hint=$(sed -n '/^Blocked requests:/,/^Allowed requests:/p' <<<"$log")
[[ $hint == *$'\n\nTo allow a blocked host: sbx policy allow network HOST:PORT\nWhat decides it now, and the fix: sbx policy check HOST:PORT\nNo rule allows what was refused as udp-blocked (see sbx-policy(1), Reasons).\n\nAllowed requests:'* ]] &&
	P log_hint_under_blocked_table || F log_hint_under_blocked_table "$log"

# ---- IPv6: the sandbox has none, yet the forward proxy dials an address rule's IPv6 --------------
X curl -s -m 5 -g --noproxy '*' "http://[2001:db8:100::10]/"
[ "$RC" != 0 ] && [[ $OUT != *origin* ]] && P ipv6_direct_refused || F ipv6_direct_refused "rc=$RC $OUT"
X curl -s -m 5 -g "http://[2001:db8:100::10]/"
[[ $OUT == *$'\nfix: sbx policy allow network \'[2001:db8:100::10]:80\'' ]] &&
	P ipv6_forward_names_the_fix || F ipv6_forward_names_the_fix "$OUT"
S policy allow network '[2001:db8:100::10]:80' >/dev/null 2>&1
X curl -s -m 5 -g "http://[2001:db8:100::10]/"
[[ $OUT == *"addr=2001:db8:100::10 port=80"* ]] && P ipv6_forward_rule_opens_it ||
	F ipv6_forward_rule_opens_it "$OUT"
# a name with only an IPv6 address: the proxy resolves A records only, and says so
S policy allow network v6only.example >/dev/null 2>&1
X curl -s -m 5 http://v6only.example/
[[ $OUT == "cannot reach v6only.example:80: the name has no IPv4 address (A record)"* ]] &&
	P v6only_name_says_no_ipv4 || F v6only_name_says_no_ipv4 "$OUT"
X curl -s -m 5 -g --noproxy '*' "http://[2001:db8:100::10]/"
[ "$RC" != 0 ] && [[ $OUT != *origin* ]] && P ipv6_direct_refused_with_rule ||
	F ipv6_direct_refused_with_rule "rc=$RC $OUT"

# ---- --follow with two sandboxes ----------------------------------------------------------------------
follow() { # OUTFILE ARGS...: a follower for 4 s
	local out=$1
	shift
	in_world env "${ENVV[@]}" timeout -s INT 4 "$SBX_BIN" policy log --follow "$@" \
		>"$out" 2>"$out.err" </dev/null &
	FOLLOWERS+=($!)
}
FOLLOWERS=()
follow "$T/all"
follow "$T/json" --json
follow "$T/t1" t1
sleep 1.2
X curl -s -m 5 http://evil.example/one
SB=t2 X curl -s -m 5 http://allowed.test/
wait "${FOLLOWERS[@]}"
hdr='^TIME +SANDBOX +DECISION +HOST +PROXY +REASON +RULE$'
line_t1='^[0-2][0-9]:[0-5][0-9]:[0-5][0-9] +t1 +BLOCKED +evil.example +forward +default-deny +-$'
line_t2='^[0-2][0-9]:[0-5][0-9]:[0-5][0-9] +t2 +ALLOWED +allowed.test +forward +domain-allowed +local:'
[ "$(cat "$T/all.err")" = "Following new verdicts of all sandboxes (Ctrl-C to stop)" ] &&
	head -1 "$T/all" | grep -Eq "$hdr" && grep -Eq "$line_t1" "$T/all" && grep -Eq "$line_t2" "$T/all" &&
	[ "$(wc -l <"$T/all")" = 3 ] && [ "$(head -1 "$T/all" | wc -L)" -le 100 ] &&
	P follow_two_sandboxes_time_sandbox_header ||
	F follow_two_sandboxes_time_sandbox_header "$(cat "$T/all.err" "$T/all")"
[ "$(cat "$T/t1.err")" = "Following new verdicts of sandbox t1 (Ctrl-C to stop)" ] &&
	head -1 "$T/t1" | grep -Eq "$hdr" && grep -Eq "$line_t1" "$T/t1" && ! grep -q ' t2 ' "$T/t1" &&
	P follow_one_sandbox || F follow_one_sandbox "$(cat "$T/t1.err" "$T/t1")"
"$PYTHON" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = {"decision", "host", "port", "sandbox", "type", "proxy_type", "rule", "reason", "time"}
ok = len(rows) == 2 and all(set(r) == keys and isinstance(r["time"], (int, float)) for r in rows)
ok = ok and {(r["sandbox"], r["decision"], r["host"]) for r in rows} == {("t1", "blocked", "evil.example"), ("t2", "allowed", "allowed.test")}
sys.exit(0 if ok else 1)' "$T/json" && [ -s "$T/json.err" ] &&
	P follow_json_lines || F follow_json_lines "$(cat "$T/json.err" "$T/json")"

# ---- a restart logs nothing a user cannot act on ---------------------------------------------------------
S daemon stop >/dev/null
: >"$RUN/sbxd.log"
S daemon start >/dev/null
wait_for -n 50 grep -q 'sandbox.* known' "$RUN/sbxd.log"
grep -q 'sandbox.* known' "$RUN/sbxd.log" && ! grep -q 'Exclusivity' "$RUN/sbxd.log" &&
	P restart_logs_no_exclusivity_line || F restart_logs_no_exclusivity_line "$(cat "$RUN/sbxd.log")"

exit $failed
