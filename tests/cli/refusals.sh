#!/bin/bash
# SPDX-License-Identifier: MIT
# What a user is told when something is not allowed, against a private sbxd (no root needed):
#   - `sbx policy check` names the fix of a refusal on a `fix:` line (and in --json): the
#     command that allows it, which port a default group allows instead, the host-service
#     rule, the deny to lift, the private-address rule (never the allow rule it overrides),
#     and the limit when no rule can allow it; running the fix it prints makes the host
#     allowed;
#   - `sbx policy log` run by someone who cannot read the pinned verdict maps (a group member,
#     not root) fails with one sentence that says it needs root, exit 1.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins refusals
sbx_instance_setup

# check TARGET [ARGS]: FIX and DETAIL are its fix: and detail: lines
check_fix() {
	run sbx policy check "$@"
	FIX=$(sed -n 's/^fix: *//p' <<<"$STDOUT")
	DETAIL=$(sed -n 's/^detail: *//p' <<<"$STDOUT")
}
expect_fix() { # name, wanted fix (exact), check args...
	local name=$1 want=$2
	shift 2
	check_fix "$@"
	[ "$RC" = 0 ] && [ "$FIX" = "$want" ] && pass "$name" ||
		{ fail "$name" "check $* gave fix '$FIX', want '$want'"; _show_out; }
}
# run the fix check printed, as a user would paste it; then check says ALLOWED
fix_works() { # name, check args...
	local name=$1
	shift
	check_fix "$@"
	run eval "$FIX"
	run sbx policy check "$@"
	[[ $STDOUT == ALLOWED* ]] && pass "$name" || { fail "$name" "after '$FIX': $STDOUT"; _show_out; }
}

run sbx policy set-default balanced
[ "$RC" = 0 ] || { fail refusals.setup "set-default: $OUT"; finish; }

# ---- the rule to add --------------------------------------------------------------------------
expect_fix refusals.default_deny_names_the_rule 'sbx policy allow network evil.example:443' \
	evil.example
run sbx policy check pypi.org
[[ $STDOUT == ALLOWED* ]] && pass refusals.allowed || fail refusals.allowed "$STDOUT"
expect_no_out refusals.allowed_has_no_fix '^fix:'
check_fix http://pypi.org/
[ "$DETAIL" = "pypi.org is allowed on port 443 (default-package-managers), not on port 80" ] &&
	[ "$FIX" = "sbx policy allow network pypi.org:80" ] && pass refusals.other_port_says_which_port ||
	{ fail refusals.other_port_says_which_port "detail '$DETAIL' fix '$FIX'"; _show_out; }
fix_works refusals.other_port_fix_works http://pypi.org/
fix_works refusals.default_deny_fix_works evil.example:8443
expect_fix refusals.ipv6_fix_is_quoted "sbx policy allow network '[2001:db8::7]:443'" '[2001:db8::7]:443'
fix_works refusals.ipv6_fix_works '[2001:db8::7]:443'

# ---- host services ------------------------------------------------------------------------------
expect_fix refusals.host_service_names_localhost 'sbx policy allow network localhost:18080' \
	host.docker.internal:18080
fix_works refusals.host_service_fix_works host.docker.internal:18080

# sbx's own port as a host service: no localhost rule opens it, so none is offered
expect_fix refusals.own_port_host_service_is_a_limit \
	"no rule can allow this: the proxy never dials sbx's own listeners" host.docker.internal:3128
expect_fix refusals.own_port_localhost_is_a_limit \
	"no rule can allow this: the proxy never dials sbx's own listeners" localhost:3128

# ---- a deny rule ----------------------------------------------------------------------------------
run sbx policy deny network '*.ads.example'
expect_fix refusals.deny_names_the_resource_to_remove \
	"sbx policy rm network --resource '*.ads.example'  # a deny beats every allow" \
	x.ads.example
check_fix x.ads.example
run eval "$FIX"
run sbx policy check x.ads.example
grep -q '^reason: *default-deny$' <<<"$STDOUT" && pass refusals.deny_fix_lifts_the_deny ||
	{ fail refusals.deny_fix_lifts_the_deny "$STDOUT"; _show_out; }

# ---- private addresses and limits ---------------------------------------------------------------
# no rule at all: the fix is the address rule, with the same note as under '**'
expect_fix refusals.private_ip_default_deny_fix_has_note \
	"sbx policy allow network 169.254.169.254:80  # only if 169.254.169.254 is meant to be reached" \
	169.254.169.254:80
run sbx policy set-default allow-all
check_fix 10.0.0.5:5432
[[ $DETAIL == "10.0.0.5 is a private address: refused by the private-address rule"* ]] &&
	[[ $DETAIL != *default-allow-all* ]] && pass refusals.private_ip_names_the_private_address_rule ||
	{ fail refusals.private_ip_names_the_private_address_rule "detail '$DETAIL'"; _show_out; }
[ "$FIX" = "sbx policy allow network 10.0.0.5:5432  # only if 10.0.0.5 is meant to be reached" ] &&
	pass refusals.private_ip_fix_is_an_address_rule || fail refusals.private_ip_fix_is_an_address_rule "fix '$FIX'"
fix_works refusals.private_ip_fix_works 10.0.0.5:5432
expect_fix refusals.sandbox_address_is_a_limit 'no rule can allow this: sandboxes never reach each other' \
	10.209.0.6:22
[ "$DETAIL" = "10.209.0.6 is a sandbox's address: sandboxes never reach each other, and no rule changes that" ] &&
	pass refusals.sandbox_address_detail || fail refusals.sandbox_address_detail "detail '$DETAIL'"
expect_fix refusals.own_port_is_a_limit "no rule can allow this: the proxy never dials sbx's own listeners" \
	127.0.0.1:3128

# ---- JSON ---------------------------------------------------------------------------------------
expect_exit refusals.json_blocked 0 sbx policy check --json 10.209.0.6:22
expect_json refusals.json_has_fix 'd["fix"] == "no rule can allow this: sandboxes never reach each other"'
expect_exit refusals.json_allowed 0 sbx policy check --json example.com
expect_json refusals.json_allowed_has_no_fix '"fix" not in d and d["decision"] == "allow"'

# ---- the log, as someone who cannot read the pinned maps ------------------------------------------
# The pin directory is root's (mode 700), as /sys/fs/bpf/sbx is. Root runs sbx as uid/gid 65534
# (what control.sh configures as the group member), from a copy anyone can run; anyone else
# is that member already, and a directory it cannot enter stands for root's.
PIN=$SBX_TEST_DIR/pins
PUBDIR=$(mktemp -d "${TMPDIR:-/tmp}/sbxpub.XXXXXX")
chmod 755 "$PUBDIR"
cp "$SBX_BIN" "$PUBDIR/sbx"
mkdir -m 700 "$PIN"
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null; then
		AS_MEMBER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	else
		AS_MEMBER=()
	fi
else
	chmod 000 "$PIN"
	AS_MEMBER=(env)
fi
if [ ${#AS_MEMBER[@]} = 0 ]; then
	skip refusals.log_as_member "setpriv missing"
else
	member_log() {
		SBX_BPF_DIR=$PIN timeout -k 2 10 "${AS_MEMBER[@]}" "$PUBDIR/sbx" policy log "$@" </dev/null
	}
	want="sbx: policy log reads the verdict maps pinned under $PIN: needs root (sudo sbx policy log)"
	for args in "" "--follow" "dev --limit 3"; do
		# shellcheck disable=SC2086
		run member_log $args
		tag=${args:-plain}
		tag=${tag//[^a-z0-9]/_}
		[ "$RC" = 1 ] && [ "$STDERR" = "$want" ] && [ -z "$STDOUT" ] &&
			pass "refusals.log_as_member_one_sentence_$tag" ||
			{ fail "refusals.log_as_member_one_sentence_$tag" "rc=$RC"; _show_out; }
	done
	run member_log --json
	[ "$RC" = 1 ] && [ -z "$STDERR" ] && pass refusals.log_as_member_json_on_stdout ||
		{ fail refusals.log_as_member_json_on_stdout "rc=$RC"; _show_out; }
	expect_json refusals.log_as_member_json_error "d[\"code\"] == 1 and d[\"error\"] == \"${want#sbx: }\""
fi
chmod 700 "$PIN"
rm -rf "$PUBDIR"
finish
