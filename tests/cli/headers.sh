#!/bin/bash
# SPDX-License-Identifier: MIT
# The CLI is built against the public headers in include/sbx/ only: no cli/ file includes a
# header of sbxd's user/ (a quoted include names a file in cli/), the Makefile compiles cli/
# without -Iuser, and with those flags a cli file that includes user/ctl.h does not compile
# while one that includes <sbx/ctl.h> does. Reads files and runs the compiler: no daemon, no root.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}

# every quoted include of cli/ names a file in cli/
bad=""
while IFS=: read -r file _ name; do
	name=${name#*\"}
	name=${name%%\"*}
	[ -f "cli/$name" ] || bad+=" $file:$name"
done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' cli/*.c cli/*.h)
[ -z "$bad" ] && pass headers.cli_includes_only_cli_and_public ||
	fail headers.cli_includes_only_cli_and_public "includes outside cli/:$bad"

# the command make runs for a cli object
CMD=$(make -s -n -B V=1 BUILD="$BUILD" "$BUILD/cli/main.o" 2>&1 | grep -E ' -c cli/main\.c ')
[ -n "$CMD" ] && pass headers.cli_compile_command_found ||
	fail headers.cli_compile_command_found "make -n printed no compile of cli/main.c"
[[ " $CMD " == *" -Iinclude "* && " $CMD " != *" -Iuser "* ]] &&
	pass headers.cli_compiled_without_user_dir ||
	fail headers.cli_compiled_without_user_dir "command: $CMD"

# with those flags, a daemon header from cli/ fails and the public one compiles
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
FLAGS=$(sed -e 's/ -c cli\/main\.c -o [^ ]*//' -e 's/ -MMD//' -e 's/ -MP//' <<<"$CMD")
printf '#include "ctl.h"\nint main(void) { return sbx_ctl_listen("x", 0, 0); }\n' >"$DIR/user.c"
printf '#include <sbx/ctl.h>\nint main(void) { return sbx_ctl_connect("x", 0); }\n' >"$DIR/pub.c"
OUT=$(bash -c "$FLAGS -fsyntax-only $DIR/user.c" 2>&1)
[ $? -ne 0 ] && [[ $OUT == *ctl.h* ]] && pass headers.user_header_refused_in_cli ||
	fail headers.user_header_refused_in_cli "compiled, or failed for another reason: $OUT"
OUT=$(bash -c "$FLAGS -fsyntax-only $DIR/pub.c" 2>&1)
[ $? -eq 0 ] && pass headers.public_header_compiles_in_cli ||
	fail headers.public_header_compiles_in_cli "$OUT"
finish
