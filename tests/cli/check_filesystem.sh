#!/bin/bash
# SPDX-License-Identifier: MIT
# `sbx policy check filesystem PATH`: may PATH be mounted read-only (filesystem:read) and
# read-write (filesystem:read and filesystem:write), the rule that decides each, and the fix.
# A deny rule matching anything inside PATH refuses the mount; '~' is the caller's home
# ($HOME, or SUDO_UID's). Private sbxd; no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2016
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins check_filesystem
sbx_instance_setup

H=$SBX_TEST_DIR/home
mkdir -p "$H/proj/secrets" "$H/other" "$SBX_TEST_DIR/srv/data"
ln -s "$H/proj" "$SBX_TEST_DIR/link"
export HOME=$H
unset SUDO_UID SUDO_USER

# mount_is NAME MOUNT(read_only|read_write) DECISION REASON RULE(name or -) PATH [args]
mount_is() {
	local name=$1 m=$2 dec=$3 reason=$4 rule=$5 path=$6
	shift 6
	run sbx policy check filesystem "$path" --json "$@"
	if [ "$RC" = 0 ] && json_ok "d[\"$m\"][\"decision\"] == \"$dec\" and d[\"$m\"][\"reason\"] == \"$reason\" and (d[\"$m\"][\"rule\"] or {}).get(\"name\", \"-\") == \"$rule\"" 2>/dev/null; then
		pass "check_fs.$name"
	else
		fail "check_fs.$name" "check filesystem $path $*: rc=$RC, want $m $dec/$reason by $rule"
		_show_out
	fi
}

run sbx policy set-default balanced
# the defaults allow both, for any path
mount_is defaults_ro read_only allow path-allowed default-fs-read-allow-all "$H/proj"
mount_is defaults_rw read_write allow path-allowed default-fs-write-allow-all "$H/proj"
run sbx policy check filesystem "$H/proj"
[ "$RC" = 0 ] && grep -qx "ALLOWED  read-only mount of $H/proj" <<<"$STDOUT" &&
	grep -qx "ALLOWED  read-write mount of $H/proj" <<<"$STDOUT" &&
	grep -qx 'rule:    default-fs-write-allow-all (local filesystem:write allow, \*\*)' <<<"$STDOUT" &&
	! grep -q '^fix:' <<<"$STDOUT" &&
	pass check_fs.text_allowed || { fail check_fs.text_allowed "not two ALLOWED blocks"; _show_out; }

# the path is resolved: a symlink is checked as what it points to
run sbx policy check filesystem "$SBX_TEST_DIR/link" --json
json_ok "d[\"path\"] == \"$H/proj\" and d[\"home\"] == \"$H\"" && pass check_fs.realpath ||
	{ fail check_fs.realpath "path or home not resolved"; _show_out; }

# a deny on something inside the directory refuses mounting the directory for writing
run sbx policy deny filesystem:write --name nosecrets '~/proj/secrets'
mount_is inside_deny_rw read_write deny path-blocked nosecrets "$H/proj"
mount_is inside_deny_ro_unaffected read_only allow path-allowed default-fs-read-allow-all "$H/proj"
mount_is inside_deny_home read_write deny path-blocked nosecrets "$H"
mount_is beside_deny read_write allow path-allowed default-fs-write-allow-all "$H/other"
run sbx policy check filesystem "$H/proj"
grep -qx "BLOCKED  read-write mount of $H/proj" <<<"$STDOUT" &&
	grep -qx "detail:  filesystem:write of $H/proj denied by rule nosecrets (~/proj/secrets), which matches a path inside it (a mount exposes the whole directory)" <<<"$STDOUT" &&
	grep -qxF "fix:     sbx policy rm filesystem:write --resource '~/proj/secrets'  # a deny beats every allow" <<<"$STDOUT" &&
	pass check_fs.text_deny_fix || { fail check_fs.text_deny_fix "no BLOCKED block with detail and fix"; _show_out; }
# the fix is real: run it and the mount is allowed again
run sbx policy rm filesystem:write --resource '~/proj/secrets'
mount_is fix_lifts_deny read_write allow path-allowed default-fs-write-allow-all "$H/proj"

# '~' is the caller's home: with HOME elsewhere, ~ rules do not reach this path
run sbx policy deny filesystem:read --name nohome '~/'
mount_is home_deny read_only deny path-blocked nohome "$H"
mount_is home_deny_rw_by_read read_write deny path-blocked nohome "$H"
mount_is home_deny_not_below read_only allow path-allowed default-fs-read-allow-all "$H/proj"
HOME=$SBX_TEST_DIR/srv mount_is home_is_callers read_only allow path-allowed default-fs-read-allow-all "$H"
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	# under sudo, '~' is the invoking user's home, not root's $HOME
	NOBODY_HOME=$(getent passwd nobody | cut -d: -f6)
	run env SUDO_UID="$(id -u nobody)" SUDO_USER=nobody "$SBX_BIN" policy check filesystem "$H" --json
	json_ok "d[\"home\"] == \"$(realpath -m "$NOBODY_HOME")\" and d[\"read_only\"][\"decision\"] == \"allow\"" &&
		pass check_fs.sudo_home || { fail check_fs.sudo_home "home is not nobody's"; _show_out; }
else
	skip check_fs.sudo_home "needs root and a nobody user"
fi
run sbx policy rm nohome

# the built-in groups allow every path, so a refusal here is always a deny rule's; the
# default-deny refusal and its "sbx policy allow filesystem:..." fix are in the unit tests
# an organization-like deny of the home directory: seed 003's ~/ row
run sbx policy deny filesystem:write --name homedir --sandbox box2 '~/'
mount_is scoped_deny read_write deny path-blocked homedir "$H" --sandbox box2
mount_is scoped_deny_other_box read_write allow path-allowed default-fs-write-allow-all "$H" --sandbox box1

# a trailing ** is every path below: mounting the directory itself exposes them; ls lists ~/
# as written
run sbx policy deny filesystem:read --name nosrv "$SBX_TEST_DIR/srv/**"
mount_is deny_all_below_ro read_only deny path-blocked nosrv "$SBX_TEST_DIR/srv"
run sbx policy ls --type filesystem
grep -Eq '^local +sandbox:box2 +homedir +filesystem:write +deny +~/$' <<<"$STDOUT" &&
	pass check_fs.ls_keeps_tilde_slash || { fail check_fs.ls_keeps_tilde_slash "no ~/ row"; _show_out; }

# refused input: exit 2 with what to do
expect_exit check_fs.missing_path_exit2 2 sbx policy check filesystem "$SBX_TEST_DIR/nowhere"
expect_out check_fs.missing_path_says "cannot check $SBX_TEST_DIR/nowhere: No such file or directory"
expect_exit check_fs.bad_sandbox_exit2 2 sbx policy check filesystem "$H" --sandbox 'bad name!'
finish
