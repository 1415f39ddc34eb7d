#!/bin/bash
# SPDX-License-Identifier: MIT
# `sbx policy ls` is easy to scan (issue 7, item 4): your rules first, each default group on
# one line with its number of entries, 100 columns (or a wider terminal), --expand (--wide) for
# every entry in full, --source user|default to tell your rules from the built-in groups,
# "no rules match" when a filter matches nothing; --json keeps every entry.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2094,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins ls
sbx_instance_setup
HDR='PROVENANCE APPLIES_TO POLICY/RULE TYPE DECISION RESOURCES'
GROUPS_N=8 # six network groups and two filesystem groups under Balanced
LONG=a-very-long-host-name-for-an-internal-registry.build.example.com:8443

canon() { CANON=$(ls_canon <<<"$STDOUT"); }
widest() { "$PYTHON" -c 'import sys; print(max([len(l.rstrip("\n")) for l in sys.stdin] + [0]))' <<<"$STDOUT"; }
# headers of the tables on stdout, single-spaced
headers() { grep -E '^PROVENANCE ' <<<"$STDOUT" | tr -s ' ' | sed 's/ $//'; }
# the JSON count of each group's entries: "name count" lines
group_counts() {
	run sbx policy ls --json
	"$PYTHON" -c 'import json,sys
for r in json.load(sys.stdin)["rules"]:
    if r["builtin"]: print(r["name"], len(r["resources"]))' <<<"$STDOUT"
}

run sbx policy set-default balanced
COUNTS=$(group_counts)
[ "$(wc -l <<<"$COUNTS")" = $GROUPS_N ] && pass ls.setup_counts || fail ls.setup_counts "$COUNTS"

# ---- only the groups: one line each, with its count ------------------------------------
expect_exit ls.groups_only 0 sbx policy ls
canon
[ "$(headers)" = "$HDR" ] && pass ls.groups_only_one_header || fail ls.groups_only_one_header "$(headers)"
[ "$(wc -l <<<"$STDOUT")" = $((GROUPS_N + 1)) ] && pass ls.groups_one_line_each ||
	{ fail ls.groups_one_line_each "$(wc -l <<<"$STDOUT") lines, want $((GROUPS_N + 1))"; _show_out; }
[ "$(widest)" -le 100 ] && pass ls.groups_fit_100_columns || fail ls.groups_fit_100_columns "$(widest) columns"
while read -r name n; do
	if [ "$n" = 1 ]; then
		want="^local all $name filesystem:[a-z]+ allow \*\*$" # seed 003's rows, as they were
	else
		want="^local all $name network allow $n hosts(: .*, …)?$"
	fi
	grep -Eq -- "$want" <<<"$CANON" && pass "ls.group_line.$name" ||
		{ fail "ls.group_line.$name" "no row /$want/"; _show_out; }
done <<<"$COUNTS"
expect_out ls.hint_names_expand 'Default groups are summarised: sbx policy ls --expand lists every entry'
grep -q -- '--expand' <<<"$STDOUT" && fail ls.hint_on_stderr "the hint is on stdout" || pass ls.hint_on_stderr

# ---- your rules first ---------------------------------------------------------------------
run sbx policy allow network "example.com,registry.example.org:8443"
A=$(grep -Eo 'local:[0-9a-f]{8}' <<<"$STDOUT")
run sbx policy deny network ads.example.com
D=$(grep -Eo 'local:[0-9a-f]{8}' <<<"$STDOUT")
run sbx policy allow --sandbox docs --name docs-registry network "$LONG"
run sbx policy allow --sandbox other network other.example.com
O=$(grep -Eo 'local:[0-9a-f]{8}' <<<"$STDOUT")
expect_exit ls.with_rules 0 sbx policy ls
canon
first=$(head -n4 <<<"$CANON" | awk '{print $3}' | tr '\n' ' ')
[ "$first" = "$A $D docs-registry $O " ] && pass ls.your_rules_first_in_order_added ||
	{ fail ls.your_rules_first_in_order_added "first rows: $first"; _show_out; }
[ "$(sed -n 5,12p <<<"$CANON" | awk '{print $3}' | grep -c '^default-')" = $GROUPS_N ] &&
	pass ls.groups_after_your_rules || { fail ls.groups_after_your_rules "rows 5-12 are not the groups"; _show_out; }
# two tables with seed 003's header, a blank line between
[ "$(headers)" = "$HDR"$'\n'"$HDR" ] && pass ls.two_tables_same_header || fail ls.two_tables_same_header "$(headers)"
grep -qx '' <<<"$STDOUT" && pass ls.blank_line_between || fail ls.blank_line_between "no blank line"
[ "$(widest)" -le 100 ] && pass ls.fits_100_columns || { fail ls.fits_100_columns "$(widest) columns"; _show_out; }
[ "$(wc -l <<<"$STDOUT")" -le 20 ] && pass ls.short || fail ls.short "$(wc -l <<<"$STDOUT") lines"
grep -Eq "^local all $A network allow example.com,registry.example.org:8443$" <<<"$CANON" &&
	pass ls.your_resources_whole || { fail ls.your_resources_whole "row of $A"; _show_out; }
# a resource too long for 100 columns loses its middle, keeps its start and port; the name stays
row=$(grep ' docs-registry ' <<<"$CANON")
[[ "$row" =~ ^local\ sandbox:docs\ docs-registry\ network\ allow\ a-very-[^\ ]*…[^\ ]*:8443$ ]] &&
	pass ls.long_resource_cut_in_the_middle || fail ls.long_resource_cut_in_the_middle "row: $row"
expect_out ls.hint_says_cut 'long resources cut: sbx policy ls --expand lists every entry in full'

# ---- --expand (--wide): every entry, whole ------------------------------------------------
expect_exit ls.expand 0 sbx policy ls --expand
canon
EXPANDED=$STDOUT
while read -r name n; do
	got=$(grep -E "^local all $name " <<<"$CANON" | awk '{print $6}' | tr ',' '\n' | grep -c .)
	[ "$got" = "$n" ] && pass "ls.expand_lists_all.$name" || fail "ls.expand_lists_all.$name" "$got entries, want $n"
done <<<"$COUNTS"
grep -q " docs-registry network allow $LONG\$" <<<"$CANON" && pass ls.expand_resource_whole ||
	fail ls.expand_resource_whole "$LONG is not whole"
expect_no_out ls.expand_no_hint 'summarised|cut'
expect_exit ls.wide 0 sbx policy ls --wide
[ "$STDOUT" = "$EXPANDED" ] && pass ls.wide_is_expand || fail ls.wide_is_expand "--wide differs from --expand"

# ---- --json keeps everything, in the same order ---------------------------------------------
expect_exit ls.json 0 sbx policy ls --json
expect_json ls.json_every_entry "all(len(r['resources']) == int(n) for r in d['rules'] for name, n in
	[l.split() for l in '''$COUNTS'''.splitlines()] if r['name'] == name)"
expect_json ls.json_yours_first "[r['builtin'] for r in d['rules']] == [False] * 4 + [True] * $GROUPS_N"
expect_json ls.json_long_resource_whole "any(r['resources'] == ['$LONG'] for r in d['rules'])"

# ---- --source: yours, the defaults, or a provenance ------------------------------------------
expect_exit ls.source_user 0 sbx policy ls --source user
canon
[ "$(awk '{print $3}' <<<"$CANON" | tr '\n' ' ')" = "$A $D docs-registry $O " ] &&
	pass ls.source_user_only_yours || { fail ls.source_user_only_yours "rows differ"; _show_out; }
[ "$(headers)" = "$HDR" ] && pass ls.source_user_one_table || fail ls.source_user_one_table "$(headers)"
expect_no_out ls.source_user_no_hint 'summarised'
expect_exit ls.source_default 0 sbx policy ls --source default
canon
[ "$(grep -c . <<<"$CANON")" = $GROUPS_N ] && ! grep -q ' local:' <<<"$CANON" &&
	pass ls.source_default_only_groups || { fail ls.source_default_only_groups "rows differ"; _show_out; }
expect_exit ls.source_local 0 sbx policy ls --source local
canon
[ "$(grep -c . <<<"$CANON")" = $((GROUPS_N + 4)) ] && pass ls.source_local_is_both ||
	fail ls.source_local_is_both "$(grep -c . <<<"$CANON") rows" # seed 003: local covers both
expect_exit ls.source_user_json 0 sbx policy ls --source user --json
expect_json ls.source_user_json_rules "len(d['rules']) == 4 and not any(r['builtin'] for r in d['rules'])"

# ---- nothing matches: say so, exit 0 -------------------------------------------------------
for f in "--source kit" "--source remote" "--source default --decision deny" "--type filesystem --source user"; do
	n=${f//--/}
	n=${n// /_}
	# shellcheck disable=SC2086
	expect_exit "ls.no_match_exit0$n" 0 sbx policy ls $f
	[ -z "$STDOUT" ] && [ "$STDERR" = "no rules match" ] && pass "ls.no_match_says_so$n" ||
		{ fail "ls.no_match_says_so$n" "stdout '$STDOUT', stderr '$STDERR'"; }
done
expect_exit ls.no_match_json 0 sbx policy ls --source kit --json
expect_json ls.no_match_json_empty 'd["rules"] == []'

# ---- the filters of seed 003 still work ------------------------------------------------------
expect_exit ls.sandbox 0 sbx policy ls docs
canon
grep -q ' docs-registry ' <<<"$CANON" && grep -q " $A " <<<"$CANON" && ! grep -q "sandbox:other" <<<"$CANON" &&
	grep -q ' default-ai-services ' <<<"$CANON" && pass ls.sandbox_filter || { fail ls.sandbox_filter "rows differ"; _show_out; }
expect_exit ls.type_network 0 sbx policy ls --type network
canon
! grep -q filesystem <<<"$CANON" && [ "$(grep -c ' default-' <<<"$CANON")" = 6 ] &&
	pass ls.type_network_filter || { fail ls.type_network_filter "rows differ"; _show_out; }
expect_exit ls.include_inactive 0 sbx policy ls --include-inactive
[ "$(headers)" = "PROVENANCE APPLIES_TO POLICY/RULE TYPE DECISION STATUS RESOURCES"$'\n'"PROVENANCE APPLIES_TO POLICY/RULE TYPE DECISION STATUS RESOURCES" ] &&
	pass ls.include_inactive_status_column || fail ls.include_inactive_status_column "$(headers)"
canon
grep -Eq "^local all default-package-managers network allow active [0-9]+ hosts" <<<"$CANON" &&
	grep -Eq "^local all $D network deny active ads.example.com$" <<<"$CANON" &&
	pass ls.include_inactive_rows || { fail ls.include_inactive_rows "rows differ"; _show_out; }

# ---- a wider terminal shows some entries of each group -----------------------------------------
if command -v script >/dev/null && script --version 2>/dev/null | grep -q util-linux; then
	run timeout -k 5 20 script -qec "stty cols 160; $SBX_BIN policy ls --type network" /dev/null </dev/null
	STDOUT=$(tr -d '\r' <<<"$STDOUT")
	grep -Eq '^local +all +default-package-managers +network +allow +[0-9]+ hosts: pypi\.org:443, [^ ]+, .*…$' <<<"$STDOUT" &&
		pass ls.tty_wide_shows_entries || { fail ls.tty_wide_shows_entries "no entries on a 160-column terminal"; OUT=$STDOUT; _show_out; }
	[ "$(widest)" -le 160 ] && [ "$(widest)" -gt 100 ] && pass ls.tty_wide_fits ||
		fail ls.tty_wide_fits "$(widest) columns on a 160-column terminal"
else
	skip ls.tty_wide "util-linux script(1) is not installed"
fi

# ---- kit and remote rules (seed 003): --source tells them apart; governance hides rules ------
run sbx daemon stop
STORE=$SBX_STATE_DIR/policy.json
rule() { # id, name, provenance, resource
	printf '{"id": "%s", "name": "%s", "provenance": "%s", "applies_to": "all", "type": "network", "decision": "allow", "resources": ["%s"]}' "$@"
}
printf '{"schema": 1, "default": "balanced", "rules": [%s, %s, %s]}\n' \
	"$(rule 11111111-0000-4000-8000-000000000001 local:11111111 local mine.example.com)" \
	"$(rule 22222222-0000-4000-8000-000000000002 kit:docs kit kit.example.com)" \
	"$(rule 33333333-0000-4000-8000-000000000003 org-network remote org.example.com)" >"$STORE"
expect_exit ls.governed 0 sbx policy ls
canon
expect_out ls.governed_hidden_line '^Hidden 8 inactive rules\. Show with: sbx policy ls --include-inactive$'
[ "$(awk '{print $3}' <<<"$CANON" | tr '\n' ' ')" = "org-network default-fs-read-allow-all default-fs-write-allow-all " ] &&
	pass ls.governed_rows || { fail ls.governed_rows "rows differ"; _show_out; }
# the STATUS cell wraps at 30 columns (seed 003), so rows are read from their first lines here
rows() { grep -E '^(local|kit|remote) ' <<<"$STDOUT" | awk '{print $3}' | tr '\n' ' '; }
expect_exit ls.governed_inactive 0 sbx policy ls --include-inactive
[ "$(rows)" = "local:11111111 kit:docs org-network default-ai-services default-package-managers default-code-and-containers default-cloud-infrastructure default-os-packages default-cert-validation default-fs-read-allow-all default-fs-write-allow-all " ] &&
	pass ls.governed_inactive_yours_kits_org_first || { fail ls.governed_inactive_yours_kits_org_first "rows: $(rows)"; _show_out; }
grep -A1 -E '^kit +all +kit:docs +network +allow +inactive — corporate policy +kit\.example\.com$' <<<"$STDOUT" |
	grep -Eq '^ +takes precedence and does not$' && pass ls.governed_inactive_status_wrapped ||
	{ fail ls.governed_inactive_status_wrapped "kit row"; _show_out; }
expect_out ls.governed_inactive_group_line '^local +all +default-ai-services +network +allow +inactive — corporate policy +45 hosts$'
for src in user:local:11111111 kit:kit:docs remote:org-network; do
	expect_exit "ls.source_${src%%:*}_governed" 0 sbx policy ls --include-inactive --source "${src%%:*}"
	[ "$(rows)" = "${src#*:} " ] && pass "ls.source_${src%%:*}_only_its_rule" ||
		{ fail "ls.source_${src%%:*}_only_its_rule" "rows: $(rows)"; _show_out; }
done

finish
