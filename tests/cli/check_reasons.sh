#!/bin/bash
# SPDX-License-Identifier: MIT
# `sbx policy check` against its docs: it applies the private-address refusal, so a check can
# end in each of five reasons, and README.md (its section and the JSON table) and
# sbx-policy(1) (its section and JSON OUTPUT) name exactly those. Each reason is produced
# here, with --json and without, and looked up in the docs. Private sbxd; no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2016
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins check_reasons
sbx_instance_setup
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
README=$ROOT/README.md
MAN=$ROOT/man/sbx-policy.1

seen=()
expect_reason() { # name, decision (allow|deny), reason, check args...
	local name=$1 decision=$2 reason=$3
	shift 3
	run sbx policy check --json "$@"
	if [ "$RC" = 0 ] && json_ok "d[\"decision\"] == \"$decision\" and d[\"reason\"] == \"$reason\"" 2>/dev/null; then
		pass "check_reasons.$name.json"
	else
		fail "check_reasons.$name.json" "check $* gave rc=$RC, want $decision/$reason"
		_show_out
	fi
	run sbx policy check "$@"
	grep -qx "reason:  $reason" <<<"$STDOUT" && pass "check_reasons.$name" ||
		{ fail "check_reasons.$name" "no 'reason:  $reason' line"; _show_out; }
	seen+=("$reason")
}

run sbx policy set-default allow-all
expect_reason domain_allowed allow domain-allowed pypi.org
# under ** an internal address is still refused, whatever the docs once said
expect_reason private_ip_loopback deny private-ip 127.0.0.1:80
expect_reason private_ip_rfc1918 deny private-ip 10.1.2.3:443
run sbx policy set-default deny-all
expect_reason default_deny deny default-deny pypi.org
run sbx policy deny network evil.example
expect_reason domain_blocked deny domain-blocked evil.example
run sbx policy allow network 203.0.113.5:22
expect_reason address_allowed allow address-allowed 203.0.113.5:22
run sbx policy allow network 10.77.0.5:80
expect_reason private_address_rule_opens allow address-allowed 10.77.0.5:80

mapfile -t want < <(printf '%s\n' "${seen[@]}" | sort -u)
[ "${#want[@]}" = 5 ] && pass check_reasons.five || fail check_reasons.five "saw ${want[*]}"

# every reason sbx has, from the name table of include/sbx/bpf_abi.h
names=$(sed -n 's/^[[:space:]]*\[SBX_REASON_[A-Z0-9_]*\] = "\([a-z0-9-]*\)",$/\1/p' \
	"$ROOT/include/sbx/bpf_abi.h" | sort -u)
# the reasons a doc passage names: `name` in markdown, name (with \- for -) in roff
md_reasons() { grep -oE '`[a-z]+(-[a-z]+)+`' | tr -d '`' | grep -xF "$names" | sort -u; }
roff_reasons() { sed 's/\\-/-/g' | grep -oE '[a-z]+(-[a-z]+)+' | grep -xF "$names" | sort -u; }
same_set() { # name, what, names found
	if [ "$3" = "$(printf '%s\n' "${want[@]}")" ]; then
		pass "check_reasons.docs.$1"
	else
		fail "check_reasons.docs.$1" "$2 names '$(tr '\n' ' ' <<<"$3")', want '${want[*]}'"
	fi
}
section=$(sed -n '/^### Checking a host/,/^### /p' "$README" | tr '\n' ' ')
same_set readme_section "README's 'Checking a host'" \
	"$(grep -oE 'reason is `[^.]*' <<<"$section" | md_reasons)"
same_set readme_json "README's check --json reason row" \
	"$(sed -n '/^`sbx policy check --json`/,/^`sbx policy inspect/p' "$README" | grep -E '^\| `reason` \|' | md_reasons)"
same_set man_section "sbx-policy(1) 'sbx policy check'" \
	"$(sed -n '/^\.SS sbx policy check/,/^\.SS /p' "$MAN" | sed -n '/the reason$/,/^see$/p' | roff_reasons)"
same_set man_json "sbx-policy(1) JSON OUTPUT, check" \
	"$(sed -n '/^\.SH JSON OUTPUT/,/^\.SH /p' "$MAN" | sed -n '/^\.B check$/,/^\.TP$/p' |
		sed -n '/^\.B reason$/,/^\.B detail$/p' | roff_reasons)"
finish
