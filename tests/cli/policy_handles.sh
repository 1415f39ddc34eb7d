#!/bin/bash
# SPDX-License-Identifier: MIT
# Rule names are handles (issue 7, item 5): `sbx policy inspect` and `rm` take what the
# POLICY/RULE column shows (local:1a2b3c4d, default-ai-services, a --name) as well as the ID;
# names are unique in their scope; ambiguity is refused with the candidates listed; `rm --id`
# needs no type; an ID prefix too short or shared says how long it must be and what it matched.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2094,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins handles
sbx_instance_setup
STORE=$SBX_STATE_DIR/policy.json
UUID='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

added() { grep -Eo '^Added [^:]+(:[0-9a-f]{8})?' <<<"$STDOUT" | cut -d' ' -f2; }
id_of() { # NAME -> its whole ID, from inspect --json
	run sbx policy inspect --json "$1"
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$STDOUT" 2>/dev/null
}
# refused NAME ERE ARGS...: exit 2, the message matches ERE, the store is unchanged
refused() {
	local name=$1 re=$2 before why=
	shift 2
	before=$(file_sum "$STORE")
	run sbx "$@"
	[ "$RC" = 2 ] || why="exit $RC, want 2"
	[ -z "$why" ] && ! grep -Ezq -- "$re" <<<"$OUT" && why="message does not match /$re/"
	[ -z "$why" ] && [ "$(file_sum "$STORE")" != "$before" ] && why="policy.json changed"
	[ -z "$why" ] && pass "$name" || { fail "$name" "sbx $*: $why"; _show_out; }
}

run sbx policy set-default balanced

# ---- a rule you add is named local: + the first 8 characters of its ID ---------------------
expect_exit handles.allow 0 sbx policy allow network api.example.com
expect_out handles.added_short_name '^Added local:[0-9a-f]{8}: network allow api\.example\.com$'
A=$(added)
AID=$(id_of "$A")
[[ "$AID" =~ ^$UUID$ ]] && [ "local:${AID:0:8}" = "$A" ] && pass handles.name_is_id_prefix ||
	fail handles.name_is_id_prefix "name $A, id $AID"

# ---- every name ls shows opens that rule in inspect ------------------------------------------
run sbx policy ls --json
mapfile -t NAMES < <("$PYTHON" -c 'import json,sys
for r in json.load(sys.stdin)["rules"]: print(r["name"], r["id"])' <<<"$STDOUT")
[ "${#NAMES[@]}" -ge 9 ] && pass handles.names_listed || fail handles.names_listed "${#NAMES[@]} names"
bad=
for line in "${NAMES[@]}"; do
	run sbx policy inspect --json "${line% *}"
	json_ok "d['name'] == '${line% *}' and d['id'] == '${line#* }'" 2>/dev/null || bad+=" ${line% *}"
done
[ -z "$bad" ] && pass handles.inspect_every_listed_name || fail handles.inspect_every_listed_name "not found:$bad"

# ---- inspect: by name, by ID, with or without local:, by a prefix of 8 -------------------------
for h in "$A" "$AID" "local:$AID" "${AID:0:8}" "${AID:0:13}" "$(tr a-f A-F <<<"$AID")"; do
	expect_exit "handles.inspect.$h" 0 sbx policy inspect "$h"
	expect_out "handles.inspect_finds.$h" "^ID: +$AID$"
done
expect_exit handles.inspect_group 0 sbx policy inspect default-ai-services
expect_out handles.inspect_group_shows_it '^Name: +default-ai-services$'

# ---- an ID prefix too short: how long it must be, and what it matched ------------------------
refused handles.short_prefix "ID prefix '${AID:0:7}' is too short: give at least 8 characters.*it matches 1 rule:.*$A .*api\.example\.com.*\(ID $AID\)" \
	policy inspect "${AID:0:7}"
refused handles.short_prefix_rm "too short: give at least 8 characters" policy rm --id "${AID:0:4}"
refused handles.unknown_name "no rule is named no-such-rule" policy inspect no-such-rule
refused handles.unknown_id "no rule has the ID 00000000" policy rm --id 00000000

# ---- --name: a handle of your own, unique in its scope -------------------------------------------
expect_exit handles.named 0 sbx policy allow --name ci-cache network cache.example.com
expect_out handles.named_added '^Added ci-cache: network allow cache\.example\.com$'
CID=$(id_of ci-cache)
refused handles.duplicate_name_refused "a rule named ci-cache already applies to all sandboxes; names are unique in their scope.*sbx policy rm --id ${CID:0:8}" \
	policy deny --name ci-cache network other.example.com
expect_exit handles.same_name_other_scope 0 sbx policy allow --name ci-cache --sandbox build network cache.example.com
expect_out handles.same_name_other_scope_added '^Added ci-cache: network allow cache\.example\.com for sandbox build$'
refused handles.duplicate_in_sandbox_scope 'already applies to sandbox build' \
	policy allow --name ci-cache --sandbox build network x.example.com
BID=$(run sbx policy ls --json && "$PYTHON" -c 'import json,sys
print([r["id"] for r in json.load(sys.stdin)["rules"] if r["applies_to"] == "sandbox:build"][0])' <<<"$STDOUT")
# two rules answer to ci-cache now: refuse, listing both with their IDs
refused handles.ambiguous_name "'ci-cache' names 2 rules; give the ID of the one you mean.*ci-cache  all  network allow cache\.example\.com  \(ID $CID\).*ci-cache  sandbox:build  network allow cache\.example\.com  \(ID $BID\)" \
	policy rm ci-cache
refused handles.ambiguous_name_inspect "'ci-cache' names 2 rules; give the ID of the one you mean \\(its first 8 characters are enough\\):" policy inspect ci-cache
# what it says to give works for inspect (which has no --id) as for rm
expect_exit handles.ambiguous_advice_works 0 sbx policy inspect "${BID:0:8}"
expect_exit handles.rm_id_without_type 0 sbx policy rm --id "${BID:0:8}"
expect_out handles.rm_id_says '^Removed ci-cache: network allow cache\.example\.com for sandbox build$'
expect_exit handles.rm_by_name 0 sbx policy rm ci-cache
expect_out handles.rm_by_name_says '^Removed ci-cache: network allow cache\.example\.com$'
refused handles.rm_by_name_gone 'no rule is named ci-cache' policy rm ci-cache

# ---- rm by the name ls shows; rm --id with and without the type ---------------------------------
run sbx policy deny network ads.example.com
D=$(added)
expect_exit handles.rm_auto_name 0 sbx policy rm "$D"
expect_out handles.rm_auto_name_says "^Removed $D: network deny ads\\.example\\.com$"
run sbx policy ls
! grep -q "$D" <<<"$STDOUT" && pass handles.rm_auto_name_gone || fail handles.rm_auto_name_gone "$D still listed"
run sbx policy allow filesystem:read '~/src/**'
F=$(added)
refused handles.rm_id_wrong_type "rule $F is a filesystem:read rule, not network" policy rm network --id "${F#local:}"
expect_exit handles.rm_id_with_type 0 sbx policy rm filesystem:read --id "${F#local:}"
refused handles.rm_group_by_name 'default-ai-services is a default policy group and cannot be removed' \
	policy rm default-ai-services
refused handles.rm_type_alone "'network' is a rule type: give --resource RESOURCE or --id ID" policy rm network
run sbx policy allow network "one.example.com,two.example.com,three.example.com"
L=$(added)
expect_exit handles.rm_resource_json 0 sbx policy rm --json network --resource two.example.com
expect_json handles.rm_resource_json_rule_as_it_was "d['rules'][0]['name'] == '$L' and d['rules'][0]['resources'] == ['one.example.com', 'two.example.com', 'three.example.com']"
expect_exit handles.rm_resource_says_rule 0 sbx policy rm network --resource one.example.com
expect_out handles.rm_resource_says_rule_name "^Removed one\.example\.com from rule $L$"
# said as it is listed, however it was spelt
expect_exit handles.rm_last_resource 0 sbx policy rm network --resource Three.Example.com.
expect_out handles.rm_last_resource_says_rule_gone "^Removed three\.example\.com, and rule $L with it \(it had nothing else\)$"
refused handles.rm_last_resource_rule_gone "no rule is named $L" policy inspect "$L"
expect_exit handles.rm_json 0 sbx policy rm --json "$A"
expect_json handles.rm_json_shape "d['removed'] == ['$AID'] and d['rules'][0]['name'] == '$A'"

# ---- a store from before short names; an ID prefix two rules share ---------------------------------
run sbx daemon stop
OLD=7a1b2c3d-0000-4000-8000-000000000001
TWIN1=abcdef12-3456-4000-8000-000000000001
TWIN2=abcdef12-3457-4000-8000-000000000002
rule() { # id, name, resource
	printf '{"id": "%s", "name": "%s", "provenance": "local", "applies_to": "all", "type": "network", "decision": "allow", "resources": ["%s"], "created": 1700000000}' "$1" "$2" "$3"
}
printf '{"schema": 1, "default": "balanced", "rules": [%s, %s, %s]}\n' "$(rule $OLD "local:$OLD" old.example.com)" \
	"$(rule $TWIN1 "local:$TWIN1" twin1.example.com)" "$(rule $TWIN2 "local:$TWIN2" twin2.example.com)" >"$STORE"
expect_exit handles.old_store 0 sbx policy ls --source user
canon=$(ls_canon <<<"$STDOUT")
grep -q "^local all local:7a1b2c3d network allow old.example.com$" <<<"$canon" && pass handles.old_name_shortened ||
	{ fail handles.old_name_shortened "no local:7a1b2c3d row"; _show_out; }
# two IDs that share their first 8 characters keep their whole names: a short one would be shared
grep -q "^local all local:$TWIN1 " <<<"$canon" && grep -q "^local all local:$TWIN2 " <<<"$canon" &&
	pass handles.shared_prefix_names_kept || { fail handles.shared_prefix_names_kept "rows differ"; _show_out; }
expect_exit handles.old_name_still_finds 0 sbx policy inspect "local:$OLD"
expect_out handles.old_name_still_finds_it "^ID: +$OLD$"
refused handles.shared_prefix "ID prefix 'abcdef12' matches 2 rules; give more of the ID:.*twin1\.example\.com.*\(ID $TWIN1\).*twin2\.example\.com.*\(ID $TWIN2\)" \
	policy rm --id abcdef12
expect_exit handles.longer_prefix 0 sbx policy rm abcdef12-3457
expect_out handles.longer_prefix_removes "^Removed local:$TWIN2: network allow twin2\\.example\\.com$"
# the first change saves the short name
expect_exit handles.short_name_saved 0 grep -Eq '"name":[[:space:]]*"local:7a1b2c3d"' "$STORE"

finish
