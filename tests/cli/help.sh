#!/bin/bash
# SPDX-License-Identifier: MIT
# Every command's --help tells the truth about its parser: for `sbx` itself and each command in
# the dispatch tables of cli/*.c, `sbx CMD --help` exits 0 and prints a Usage line on standard
# output, every option that command's parser accepts appears in that text, and every option its
# Usage lines show is accepted. Which options a parser accepts is found by asking it: each
# option named anywhere in cli/*.c is given to each command, and the command knows it when its
# answer differs from its answer to an option no parser has. Runs against a private instance
# (the probes against paths no daemon can use); no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2016
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins help
sbx_instance_setup
SRC=$(cd "$(dirname "$0")/../../cli" && pwd)
BOGUS=--zz-no-such-option
BOGUS_SHORT=-Q # no parser takes -Q

# ---- the commands: the entries of each `struct cmd` table, under the word that selects it ------
declare -A prefix_of=([top_cmds]="" [policy_cmds]="policy " [daemon_cmds]="daemon ")
cmds=("")
while read -r table word; do
	if [ -z "${prefix_of[$table]+x}" ]; then
		fail "help.table_known.$table" "a new command table $table: add its prefix to help.sh"
		continue
	fi
	[ "$word" = help ] || cmds+=("${prefix_of[$table]}$word")
done < <(awk '/^static const struct cmd [a-z_]+\[\]/ { t = $5; sub(/\[\]$/, "", t); next }
	t && /^\};/ { t = "" }
	t && match($0, /\{ "[a-z-]+",/) { w = substr($0, RSTART + 3, RLENGTH - 5); print t, w }' \
	"$SRC"/*.c)
[ "${#cmds[@]}" -ge 15 ] && pass help.commands_found ||
	fail help.commands_found "found ${#cmds[@]} commands in $SRC: ${cmds[*]}"

# ---- the options: every long option and short option letter cli/*.c names ------------------
mapfile -t opts < <({
	grep -ohE '\{ "[a-z][a-z-]*", (no|required|optional)_argument' "$SRC"/*.c |
		sed -E 's/^\{ "([^"]*)".*/--\1/'
	grep -ohE '"--?[a-zA-Z][a-z-]*"' "$SRC"/*.c | tr -d '"'
	# every string on the line of the call: `is_exec ? "+:h" : "+:hw:"` has two
	grep -ohE '(getopt_long|next_opt)\(.*' "$SRC"/*.c | grep -oE '"[^"]*"' | tr -d '"' |
		grep -oE '[a-zA-Z]' | sed 's/^/-/'
} | grep -vxE -- '--help|-h' | sort -u)
[ "${#opts[@]}" -ge 15 ] && pass help.options_found ||
	fail help.options_found "found ${#opts[@]} options in $SRC"

# One answer of `sbx CMD OPT` into ANSWER (exit status and output), the option's own name
# blanked. Paths no daemon can use keep every probe from changing anything (or starting sbxd),
# so the probes of several commands can run at once. No subshell: there are hundreds.
answer() { # file, option, command words...
	local f=$1 opt=$2 rc
	shift 2
	# shellcheck disable=SC2068
	SBX_RUN_DIR=/dev/null/run SBX_STATE_DIR=/dev/null/state SBX_BPF_DIR=/dev/null/bpf \
		timeout -k 1 10 "$SBX_BIN" $@ "$opt" </dev/null >"$f" 2>&1
	rc=$?
	IFS= read -r -d '' ANSWER <"$f"
	ANSWER=" $ANSWER rc=$rc "
	ANSWER=${ANSWER//"'$opt'"/"'OPT'"}
	ANSWER=${ANSWER//" $opt "/" OPT "}
}

# The options the command's parser knows, one a line, into file $1.
accepted() { # file, command words...
	local out=$1 bogus bogus_short opt
	shift
	answer "$out.tmp" "$BOGUS" "$@"
	bogus=$ANSWER
	# a command that takes "-x" as an operand (a host to check) answers a short option no
	# parser knows the same way as an unknown one of its letters
	answer "$out.tmp" "$BOGUS_SHORT" "$@"
	bogus_short=$ANSWER
	for opt in "${opts[@]}"; do
		answer "$out.tmp" "$opt" "$@"
		[ "$ANSWER" = "$bogus" ] || [ "$ANSWER" = "$bogus_short" ] ||
			printf '%s\n' "$opt" >>"$out"
	done
	rm -f "$out.tmp"
}

# ---- each command: usage, then its options against its help --------------------------------
PROBES=${HELP_PROBES:-$SBX_TEST_DIR/probes}
mkdir -p "$PROBES"
running=0
for i in "${!cmds[@]}"; do
	# shellcheck disable=SC2086
	: >"$PROBES/$i"
	# shellcheck disable=SC2086
	accepted "$PROBES/$i" ${cmds[$i]} &
	running=$((running + 1))
	if [ $running -ge 4 ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

for i in "${!cmds[@]}"; do
	cmd=${cmds[$i]}
	name=help.${cmd// /_}
	name=${name%.}
	[ -n "$cmd" ] || name=help.sbx
	# shellcheck disable=SC2086
	run sbx $cmd --help
	help=$STDOUT
	if [ "$RC" = 0 ] && grep -q '^Usage: sbx ' <<<"$help" && [ -z "$STDERR" ]; then
		pass "$name.usage"
	else
		fail "$name.usage" "sbx $cmd --help: exit $RC, first line '$(head -n1 <<<"$OUT")'"
		continue
	fi
	missing=
	while read -r opt; do
		if [[ $opt == --* ]]; then
			grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" <<<"$help" || missing+=" $opt"
		else
			grep -qE -- "(^|[^a-zA-Z-])$opt([^a-zA-Z]|$)" <<<"$help" || missing+=" $opt"
		fi
	done <"$PROBES/$i"
	[ -z "$missing" ] && pass "$name.lists_its_options" ||
		fail "$name.lists_its_options" "sbx ${cmd:+$cmd }accepts but --help does not name:$missing"
	# the options of its Usage lines (a command with subcommands shows theirs: skipped)
	group=0
	for sub in "${cmds[@]}"; do
		[ -n "$cmd" ] && [[ $sub == "$cmd "* ]] && group=1
	done
	[ $group = 1 ] && continue
	unknown=
	# shellcheck disable=SC2013
	for opt in $(sed -n '/^Usage: /,/^$/p' <<<"$help" | grep -oE -- '(^|[^a-zA-Z-])--?[a-zA-Z][a-z-]*' |
		grep -oE -- '--?[a-zA-Z][a-z-]*' | grep -vxE -- '--help|-h' | sort -u); do
		grep -qxF -- "$opt" "$PROBES/$i" || unknown+=" $opt"
	done
	[ -z "$unknown" ] && pass "$name.usage_options_accepted" ||
		fail "$name.usage_options_accepted" "sbx $cmd --help shows but refuses:$unknown"
done

# ---- README "JSON output": which commands take --json, and their errors in JSON ------------------
jsoners=$(for i in "${!cmds[@]}"; do grep -qxF -- --json "$PROBES/$i" && echo "${cmds[$i]}"; done | sort)
para=$(sed -n '/^### JSON output/,/^A rule object/p' "$SRC/../README.md" | tr '\n' ' ')
para=${para#*is accepted by }
para=${para%%. Errors*}
documented=$({
	grep -oE '`[a-z -]+`' <<<"${para%%, by *}" | tr -d '`' | sed 's/^policy //; s/^/policy /'
	grep -oE '`[a-z -]+`' <<<"${para#*, by }" | tr -d '`'
} | sort)
[ "$documented" = "$jsoners" ] && pass help.readme_json_commands ||
	fail help.readme_json_commands "README names '$(tr '\n' ',' <<<"$documented")', the parsers take it in '$(tr '\n' ',' <<<"$jsoners")'"
while read -r cmd; do
	# shellcheck disable=SC2086
	SBX_RUN_DIR=/dev/null/run SBX_STATE_DIR=/dev/null/state SBX_BPF_DIR=/dev/null/bpf \
		run sbx $cmd --json "$BOGUS"
	# (any error will do, as long as it is JSON on standard output with the exit status as
	# its code)
	[ -z "$STDERR" ] && json_ok 'set(d) == {"error", "code"} and d["code"] == '"$RC" 2>/dev/null &&
		pass "help.json_error.${cmd// /_}" ||
		{ fail "help.json_error.${cmd// /_}" "sbx $cmd --json $BOGUS: exit $RC"; _show_out; }
	# and when the bad option comes first: every such command refuses it, in JSON
	# shellcheck disable=SC2086
	SBX_RUN_DIR=/dev/null/run SBX_STATE_DIR=/dev/null/state SBX_BPF_DIR=/dev/null/bpf \
		run sbx $cmd "$BOGUS" --json
	[ -z "$STDERR" ] && [ "$RC" = 2 ] && json_ok 'set(d) == {"error", "code"} and d["code"] == 2 and "'"$BOGUS"'" in d["error"]' 2>/dev/null &&
		pass "help.json_error_after_bad_option.${cmd// /_}" ||
		{ fail "help.json_error_after_bad_option.${cmd// /_}" "sbx $cmd $BOGUS --json: exit $RC"; _show_out; }
done <<<"$jsoners"

# bad usage (a command without what it needs): exit 2, the usage and the complaint on standard
# error, nothing on standard output
for args in "" "policy" "daemon" "stop" "rm" "run" "exec" "policy allow"; do
	# shellcheck disable=SC2086
	run sbx $args
	[ "$RC" = 2 ] && [ -z "$STDOUT" ] && grep -q '^Usage: sbx' <<<"$STDERR" &&
		pass "help.bad_usage_on_stderr.${args// /_}" ||
		{ fail "help.bad_usage_on_stderr.${args// /_}" "sbx $args: exit $RC, stdout '$(head -n1 <<<"$STDOUT")'"; _show_out; }
done

# an unknown command names the --help that lists the right commands
for args in "bogus" "policy bogus" "daemon bogus"; do
	# shellcheck disable=SC2086
	run sbx $args
	want="sbx: unknown command 'bogus' (see sbx ${args% bogus} --help)"
	[ "$args" = bogus ] && want="sbx: unknown command 'bogus' (see sbx --help)"
	[ "$RC" = 2 ] && [ "$STDERR" = "$want" ] && pass "help.unknown_command.${args// /_}" ||
		fail "help.unknown_command.${args// /_}" "sbx $args: exit $RC, '$STDERR', want '$want'"
done

# -h and `help` are --help too
for args in "-h" "help" "policy help" "policy ls -h" "daemon help" "version -h"; do
	# shellcheck disable=SC2086
	run sbx $args
	[ "$RC" = 0 ] && grep -q '^Usage: sbx' <<<"$STDOUT" && pass "help.alias.${args// /_}" ||
		fail "help.alias.${args// /_}" "sbx $args: exit $RC, '$(head -n1 <<<"$OUT")'"
done
finish
