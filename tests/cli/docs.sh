#!/bin/bash
# SPDX-License-Identifier: MIT
# The user docs keep up with the code: every verdict reason the kernel programs, the proxy or
# the resolver can log is explained in README.md and in sbx-policy(1) "Reasons", and nothing
# there names a reason sbx does not have; the "(other hosts)" row is described in both; every
# sbxd.conf key user/paths.c accepts is in sbxd(8) CONFIG FILE and in the README's config
# table; each man page renders without a groff warning (when man(1) is installed); the
# examples the docs-examples check runs are found (tests/tools/doc_examples.py).
# Reads files only: no daemon, no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2016
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1

ABI=include/sbx/bpf_abi.h
README=README.md
POLICY_MAN=man/sbx-policy.1
SBXD_MAN=man/sbxd.8

# enum name -> printed name, from the table of sbx_reason_name()
declare -A name_of=()
while read -r enum name; do
	name_of[$enum]=$name
done < <(sed -n 's/^[[:space:]]*\[\(SBX_REASON_[A-Z0-9_]*\)\] = "\([a-z0-9-]*\)",$/\1 \2/p' "$ABI")
[ "${#name_of[@]}" -ge 15 ] && pass docs.reason_table_read ||
	fail docs.reason_table_read "read ${#name_of[@]} names from $ABI"

# the reasons something can log: used outside the ABI header
mapfile -t used < <(grep -rhoE 'SBX_REASON_[A-Z0-9_]+' bpf user cli --include='*.c' \
	--include='*.h' | grep -vE '_(NONE|_MAX)$' | sort -u)
[ "${#used[@]}" -ge 10 ] && pass docs.reasons_used_found ||
	fail docs.reasons_used_found "found ${#used[@]} reasons used in bpf/ user/ cli/"

# the README's reasons table rows and sbx-policy(1)'s Reasons entries
readme_reasons=$(sed -n '/^| Reason | Meaning |/,/^$/p' "$README" |
	sed -n 's/^| `\([a-z0-9-]*\)` | .*/\1/p')
man_reasons=$(sed -n '/^\.SS Reasons/,/^\.SH/p' "$POLICY_MAN" |
	sed -n 's/^\.B \([a-z0-9\\-]*\)$/\1/p' | sed 's/\\-/-/g')

missing_readme='' missing_man=''
for enum in "${used[@]}"; do
	name=${name_of[$enum]:-}
	if [ -z "$name" ]; then
		fail "docs.reason_named.$enum" "$enum is used but has no name in $ABI"
		continue
	fi
	grep -qxF "$name" <<<"$readme_reasons" || missing_readme+=" $name"
	grep -qxF "$name" <<<"$man_reasons" || missing_man+=" $name"
done
[ -z "$missing_readme" ] && pass docs.readme_explains_every_reason ||
	fail docs.readme_explains_every_reason "not in the README's reasons table:$missing_readme"
[ -z "$missing_man" ] && pass docs.man_explains_every_reason ||
	fail docs.man_explains_every_reason "not under Reasons in $POLICY_MAN:$missing_man"

# nothing documented that sbx cannot print
unknown=
for name in $readme_reasons $man_reasons; do
	found=0
	for n in "${name_of[@]}"; do
		[ "$n" = "$name" ] && found=1 && break
	done
	[ $found = 1 ] || unknown+=" $name"
done
[ -z "$unknown" ] && pass docs.documented_reasons_exist ||
	fail docs.documented_reasons_exist "documented but not in $ABI:$unknown"

other=$(sed -n 's/^#define SBX_VERDICT_OTHER_HOSTS[[:space:]]*"\(.*\)"$/\1/p' "$ABI")
[ -n "$other" ] && grep -qF "\`$other\`" "$README" && grep -qF "\"$other\"" "$POLICY_MAN" &&
	pass docs.other_hosts_row_described ||
	fail docs.other_hosts_row_described "'$other' is not in $README and $POLICY_MAN"

# every key sbxd.conf takes, from the "known:" list of the unknown-key error
keys=$(sed -n '/unknown setting/,/path, lineno, key)/p' user/paths.c | tr -d '"\n\t' |
	sed -n 's/.*(known: \([a-z_, ]*\)).*/\1/p' | tr -d ' ' | tr ',' ' ')
nkeys=$(wc -w <<<"$keys")
[ "$nkeys" -ge 10 ] && pass docs.config_keys_read ||
	fail docs.config_keys_read "read $nkeys keys from user/paths.c: '$keys'"
missing_man='' missing_readme=''
for k in $keys; do
	grep -qE "^\.BI \"$k = \"" "$SBXD_MAN" || missing_man+=" $k"
	grep -qE "^\| \`$k\` \|" "$README" || missing_readme+=" $k"
done
[ -z "$missing_man" ] && pass docs.sbxd_man_lists_every_key ||
	fail docs.sbxd_man_lists_every_key "not under CONFIG FILE in $SBXD_MAN:$missing_man"
[ -z "$missing_readme" ] && pass docs.readme_lists_every_key ||
	fail docs.readme_lists_every_key "not in the README's config table:$missing_readme"

# the examples tests/integration/docs_examples.sh runs: each page has some, every annotation
# belongs to one, and the comparison itself holds on made-up output
for page in "$README" man/*.1 man/*.8; do
	nex=0
	out=$("$PYTHON" tests/tools/doc_examples.py list "$page" 2>&1) && nex=$(grep -c '^[^ ]*:[0-9]' <<<"$out")
	[ "$nex" -ge 1 ] && pass "docs.examples_found.$(basename "$page")" ||
		fail "docs.examples_found.$(basename "$page")" "$(tail -1 <<<"$out")"
done
check docs.examples_matcher "$PYTHON" tests/tools/doc_examples.py selftest

if command -v man >/dev/null && command -v groff >/dev/null; then
	for page in man/*.1 man/*.8; do
		warn=$(MANWIDTH=100 timeout 30 man --warnings -l "$page" 2>&1 >/dev/null)
		[ -z "$warn" ] && pass "docs.renders.$(basename "$page")" ||
			fail "docs.renders.$(basename "$page")" "$warn"
	done
else
	skip docs.renders "man(1) or groff is not installed"
fi

finish
