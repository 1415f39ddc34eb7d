#!/bin/bash
# SPDX-License-Identifier: MIT
# Every kind of bad input to `sbx policy` is refused with exit 2 and a message that says what
# is wrong, and leaves the policy store byte for byte as it was; commands that take --json
# then answer {"error": ..., "code": 2} on stdout instead.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2094,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins bad
sbx_instance_setup
STORE=$SBX_STATE_DIR/policy.json

# a store with something in it: a preset, a global and a scoped rule
run sbx policy set-default balanced
run sbx policy deny network ads.example.com
run sbx policy allow --sandbox box1 network "*.example.org,10.0.0.0/8"
ID=$(grep -Eo 'local:[0-9a-f]{8}' <<<"$STDOUT" | head -n1 | cut -d: -f2) # a prefix of its ID
SUM=$(file_sum "$STORE")
if [ "$SUM" = absent ] || [ -z "$ID" ]; then
	fail bad.setup "could not set up a store ($STDOUT)"
	finish
fi

L63=$(printf 'a%.0s' {1..63})
L64=${L63}a
N60=$(printf 'b%.0s' {1..60})
N254=$N60.$N60.$N60.$N60.abcdef.com # 254 bytes
N253=$N60.$N60.$N60.$N60.abcde.com  # 253 bytes: the longest allowed

# bad NAME ERE ARGS...: exit 2, message matching ERE (case-insensitive), store unchanged.
bad() {
	local name=$1 re=$2
	shift 2
	run sbx "$@"
	local why=
	[ "$RC" = 2 ] || why="exit $RC, want 2"
	[ -z "$why" ] && ! grep -Eiq -- "$re" <<<"$OUT" && why="message does not match /$re/"
	[ -z "$why" ] && [ "$(file_sum "$STORE")" != "$SUM" ] && why="policy.json changed"
	if [ -z "$why" ]; then
		pass "bad.$name"
	else
		fail "bad.$name" "sbx $*: $why"
		_show_out
	fi
}

# bad_json NAME ERE ARGS...: ARGS with --json after the verb: exit 2, stdout exactly one JSON
# object {"error": matching ERE, "code": 2}, store unchanged.
bad_json() {
	local name=$1 re=$2
	shift 2
	local args=("$@")
	local pos=2
	args=("${args[@]:0:pos}" --json "${args[@]:pos}")
	run sbx "${args[@]}"
	local why=
	[ "$RC" = 2 ] || why="exit $RC, want 2"
	if [ -z "$why" ]; then
		why=$("$PYTHON" -c '
import json, re, sys
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("stdout is not one JSON object (%s)" % e); sys.exit()
if not isinstance(d, dict) or d.get("code") != 2 or not isinstance(d.get("error"), str):
    print("want {\"error\": ..., \"code\": 2}, got %r" % (d,)); sys.exit()
if not re.search(sys.argv[1], d["error"], re.I):
    print("error %r does not match /%s/" % (d["error"], sys.argv[1]))' "$re" <<<"$STDOUT")
	fi
	[ -z "$why" ] && [ "$(file_sum "$STORE")" != "$SUM" ] && why="policy.json changed"
	if [ -z "$why" ]; then
		pass "bad.json.$name"
	else
		fail "bad.json.$name" "sbx ${args[*]}: $why"
		_show_out
	fi
}

both() {
	bad "$@"
	bad_json "$@"
}

# ---- resources --------------------------------------------------------------------------
both space_in_resource 'white ?space|space' policy allow network "a b.com"
both space_in_list 'white ?space|space' policy allow network "a.com, b.com"
both empty_list_item 'empty' policy allow network "a.com,,b.com"
both trailing_comma 'empty|comma' policy allow network "a.com,"
both leading_comma 'empty|comma' policy deny network ",a.com"
both empty_resource 'no resources|empty' policy allow network ""
both label_over_63 'label.*63|63.*label' policy allow network "$L64.com"
both name_over_253 '253' policy allow network "$N254"
both empty_label 'empty label' policy allow network "a..com"
both label_trailing_dash "'-'|dash" policy allow network "a-.com"
both bad_character "not allowed|contains" policy allow network 'a_b!.com'
both port_zero 'port.*(1-65535|outside|range)' policy allow network "x.com:0"
both port_65536 'port.*(1-65535|outside|range)' policy allow network "x.com:65536"
both port_not_number "port.*(number|numeric)" policy allow network "x.com:abc"
both port_missing 'port' policy allow network "x.com:"
both stray_wildcard_inside "\*" policy allow network "foo*.com"
both stray_wildcard_middle "\*" policy allow network "a.*.com"
both lone_star "\*" policy allow network "*"
both triple_star "\*" policy allow network "***.x"
both wildcard_suffix "\*" policy allow network "example.*"
both url 'URL' policy allow network "https://x.com"
both url_in_list 'URL' policy allow network "a.com,http://x.com/path"
both localhost_without_port 'port' policy allow network "localhost"
both host_docker_internal 'localhost:PORT|localhost' policy allow network "host.docker.internal"
both cidr_host_bits 'host bits' policy allow network "10.1.2.3/8"
both cidr_prefix_33 'prefix' policy allow network "10.0.0.0/33"
both cidr_prefix_v6_129 'prefix' policy allow network "2001:db8::/129"
both cidr_prefix_not_number 'prefix' policy allow network "10.0.0.0/x"
both numeric_tld 'address|host' policy allow network "999.1.1.1"
both ipv6_unclosed "']'|bracket" policy allow network "[2001:db8::1:22"
both fs_relative_path "start with" policy allow filesystem:read "relative/path"
both fs_dotdot "'/srv/\.\./etc' has a '\.\.' segment" policy allow filesystem:read "/srv/../etc"
both fs_empty_segment "empty segment" policy deny filesystem:write "/srv//x"
both fs_split_globstar "'\*\*' must be a whole segment" policy allow filesystem:read "/srv/x**"
both fs_tilde_user "~NAME is not supported" policy allow filesystem:read "~root/x"
both extra_argument "one comma-separated list of resources: sbx policy allow network 'a\.com,b\.com'" policy allow network a.com b.com
# a resource that starts with '-' is the resource, not options (getopt permutes: it used to
# say "unknown option 'network'"); and "--" ends the options
both dash_resource "(^|sbx: )'-a\.com': a label cannot start" policy allow network '-a.com'
both dash_resource_options_after "(^|sbx: )'-a\.com': a label cannot start" policy deny network '-a.com' --sandbox box1
both dash_resource_global_first "(^|sbx: )'-a\.com': a label cannot start" policy allow -g network '-a.com'
both dash_resource_after_dashes "(^|sbx: )'-a\.com': a label cannot start" policy allow network -- '-a.com'
both dash_single_letter "(^|sbx: )'-x': a label cannot start" policy allow network -x
both dash_unknown_long_option "unknown option '--bogus'" policy allow network --bogus
# a filesystem pattern given as a network resource: say so, and the command that takes it
both path_as_network "(^|sbx: )'~/src/\*\*' is a filesystem path pattern, not a host; to allow reading it, run: sbx policy allow filesystem:read '~/src/\*\*'" policy allow network '~/src/**'
both path_as_network_deny "run: sbx policy deny filesystem:read '/etc/shadow'" policy deny network /etc/shadow
both path_in_network_list "'\./build' is a filesystem path pattern" policy allow network 'a.com,./build'
both path_rm_resource 'filesystem path pattern, not a host' policy rm network --resource '~/src/**'
both host_with_path "names a host, not a path; give 'example\.com'" policy allow network example.com/api

# ---- types, arguments, options -----------------------------------------------------------
both unknown_type 'unknown rule type' policy allow net x.com
both unknown_type_deny 'unknown rule type' policy deny filesystem x.com
both missing_resources 'no resources given: sbx policy allow network RESOURCE\[,RESOURCE\.\.\.\]' policy allow network
# resources given apart, or no type: the message says what to write
both resources_apart "one comma-separated list of resources: sbx policy allow network 'x\.com,y\.com'$" policy allow network x.com, y.com
both type_missing "'x\.com' is not a rule type: .* as in: sbx policy deny network x\.com$" policy deny x.com
both missing_type_and_resources 'expected|usage' policy deny
both sandbox_invalid_name 'sandbox name' policy allow --sandbox 'bad name!' network x.com
both sandbox_name_too_long 'sandbox name.*63|63' policy allow --sandbox "$L64" network x.com
both sandbox_and_global 'exclude|--global' policy allow --sandbox box1 -g network x.com
both rule_name_newline 'name' policy allow --name "$(printf 'a\nb')" network x.com
# a name is a handle for rm and inspect: one word, not a type, not a built-in group's
both rule_name_space 'may only contain' policy allow --name 'my rule' network x.com
both rule_name_colon 'may only contain' policy allow --name 'local:mine' network x.com
both rule_name_dash_first 'start with a letter or digit' policy allow --name=-x network x.com
both rule_name_over_63 'longer than 63' policy allow --name "$L64" network x.com
both rule_name_is_a_type 'is a rule type' policy allow --name network network x.com
both rule_name_default_space "'default-'" policy deny --name default-ai-services network x.com
both unknown_option 'unrecognized|unknown|invalid' policy allow --bogus network x.com
both ls_unknown_option 'unrecognized|unknown|invalid' policy ls --bogus
# policy commands take long options only, log too (-n and -f meant nothing elsewhere)
bad log_no_short_limit "unknown option '-n'" policy log -n 5
bad log_no_short_follow "unknown option '-f'" policy log -f
both ls_bad_type "--type must be network or filesystem, not 'bogus'$" policy ls --type bogus
both ls_bad_decision '--decision|decision' policy ls --decision maybe
both ls_bad_source '--source|source' policy ls --source elsewhere
both ls_invalid_sandbox 'sandbox name' policy ls 'bad name!'
both ls_two_sandboxes 'at most one|SANDBOX' policy ls box1 box2
both rm_both_resource_and_id 'exactly one' policy rm network --resource ads.example.com --id "$ID"
both rm_type_alone 'rule type.*--resource.*--id' policy rm network
both rm_unknown_id 'no rule' policy rm network --id 12345678-1234-4234-8234-123456789012
both rm_unknown_short_id 'no rule' policy rm network --id 1234
both rm_wrong_type_for_id 'not|type' policy rm filesystem:read --id "$ID"
both rm_unknown_type 'unknown rule type' policy rm net --resource ads.example.com
both rm_missing_type 'needs the rule type' policy rm --resource ads.example.com
both rm_nothing 'give the rule' policy rm
both rm_invalid_resource 'contains|not allowed' policy rm network --resource 'bad!.com'
both rm_resource_not_present 'no local' policy rm network --resource nowhere.example.com
both rm_unknown_option 'unrecognized|unknown|invalid' policy rm network --bogus x
both inspect_unknown_id 'no rule' policy inspect 12345678-1234-4234-8234-123456789012
both inspect_unknown_name 'no rule is named nope' policy inspect nope
both inspect_missing_id 'usage|id' policy inspect
both inspect_two_ids 'usage' policy inspect "$ID" "$ID"
both check_space 'space' policy check 'foo bar'
both check_bad_scheme 'http' policy check 'ftp://x.com/'
both check_port_range 'port' policy check 'x.com:99999'
both check_port_zero 'port' policy check 'x.com:0'
both check_empty 'not a host' policy check ''
both check_bad_char 'contains|not allowed' policy check 'exa%mple.com'
both check_dash_target "(^|sbx: )'-a\.com': a label cannot start" policy check '-a.com'
both check_dash_target_after_type "(^|sbx: )'-a\.com': a label cannot start" policy check network '-a.com' --sandbox box1
both check_missing_target 'usage' policy check
both check_only_the_type_word "give the target after 'network'" policy check network
both check_filesystem_missing_path "cannot check $SBX_TEST_DIR/nowhere: No such file or directory" \
	policy check filesystem "$SBX_TEST_DIR/nowhere"
both check_filesystem_no_path "give the path after 'filesystem'" policy check filesystem
both check_invalid_sandbox 'sandbox name' policy check --sandbox 'bad name!' x.com
both check_unknown_option 'unrecognized|unknown|invalid' policy check --bogus x.com
# every spelling inet_aton() takes is an address, never a host name (issue 6, item 13)
both check_hex_ipv4 'neither a host name nor a valid IPv4' policy check 0x7f000001
both check_hex_ipv4_port 'reads it as 127\.0\.0\.1' policy check 0x7f000001:80
both check_hex_last_part 'reads it as 127\.0\.0\.1' policy check 127.0.0.0x1
both check_hex_metadata 'reads it as 169\.254\.169\.254' policy check 0xa9fea9fe
both check_octal_ipv4 'reads it as 127\.0\.0\.1' policy check 0177.0.0.1
both check_short_ipv4 'reads it as 127\.0\.0\.1' policy check 127.1
both check_decimal_ipv4 'reads it as 127\.0\.0\.1' policy check 2130706433
both check_hex_url 'neither a host name' policy check http://0x7f000001/
both rule_hex_ipv4 'neither a host name nor a valid IPv4' policy allow network 0x7f000001
both rule_hex_last_part 'neither a host name' policy allow network 127.0.0.0x1:80
both rule_hex_wildcard 'neither a host name' policy deny network '*.0x7f000001'
both set_default_bogus 'allow-all.*balanced.*deny-all' policy set-default bogus
both set_default_missing 'allow-all.*balanced.*deny-all' policy set-default
both set_default_none 'allow-all.*balanced.*deny-all' policy set-default none
# the chooser's names (seed 000) are not values: say which value they stand for
both set_default_open "did you mean: sbx policy set-default allow-all$" policy set-default open
both set_default_open_capital "did you mean: sbx policy set-default allow-all$" policy set-default Open
both set_default_locked_down "did you mean: sbx policy set-default deny-all$" policy set-default 'locked down'
both set_default_locked_dash "did you mean: sbx policy set-default deny-all$" policy set-default Locked-Down
both set_default_balanced_capital "did you mean: sbx policy set-default balanced$" policy set-default Balanced
both set_default_two_words 'give one default' policy set-default balanced deny-all
both reset_unknown_argument 'unknown argument' policy reset --bogus
both daemon_status_unknown_argument 'unknown argument' daemon status --bogus

# --json given last, after the bad option, still answers in JSON
run sbx policy ls --type bogus --json
if [ "$RC" = 2 ] && json_ok 'd["code"] == 2 and "--type" in d["error"]' 2>/dev/null; then
	pass bad.json.after_bad_option
else
	fail bad.json.after_bad_option "sbx policy ls --type bogus --json: exit $RC, stdout not {\"error\", \"code\": 2}"
	_show_out
fi

# no command to take --json here: plain exit 2 and a message
bad unknown_subcommand 'unknown command' policy bogus
bad unknown_daemon_subcommand 'unknown command' daemon bogus
bad unknown_command 'unknown command' bogus
bad unknown_global_option 'unknown option' --bogus policy ls
bad no_command 'usage' 
bad ambiguous_prefix 'ambiguous' policy r
run env SBX_INSTANCE='Bad_Name' "$SBX_BIN" policy ls </dev/null
[ "$RC" = 2 ] && grep -q 'SBX_INSTANCE' <<<"$OUT" && pass bad.env_instance_name ||
	{ fail bad.env_instance_name "exit $RC"; _show_out; }
run env SBX_STATE_DIR=relative/dir "$SBX_BIN" policy ls </dev/null
[ "$RC" = 2 ] && grep -q 'absolute' <<<"$OUT" && pass bad.env_relative_dir ||
	{ fail bad.env_relative_dir "exit $RC"; _show_out; }

# the 253-byte name and the 63-byte label are fine: the limits are exact
expect_exit bad.limit_253_accepted 0 sbx policy allow network "$N253"
expect_exit bad.limit_63_accepted 0 sbx policy allow network "$L63.com"

# after all that, the daemon still serves the same rules
expect_exit bad.daemon_still_serves 0 sbx policy ls --json
expect_json bad.rules_intact "any(r[\"id\"].startswith(\"$ID-\") and r[\"resources\"] == [\"*.example.org\", \"10.0.0.0/8\"] for r in d[\"rules\"]) and any(r[\"resources\"] == [\"ads.example.com\"] for r in d[\"rules\"])"

finish
