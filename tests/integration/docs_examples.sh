#!/bin/bash
# SPDX-License-Identifier: MIT
# The docs show what sbx does: every example in README.md and the man pages is run in the
# test world and its output compared with what the text shows. Root only.
#
# An example is a code block (Markdown ``` fence; roff .nf/.fi or .EX/.EE) with lines that
# start with "$ ": each is a command, and the lines up to the next one are what it prints
# (standard output and error together, as on a terminal). Blocks without "$ " lines (config
# files, JSON schemas, the `make demo` excerpt) are not examples. The examples of one file run
# in order against one fresh sbxd instance, in one shell, as a reader would type them: a rule
# added in one block is there in the next, an export holds for the rest of the file.
#
# Annotations, on a line of their own before the block they apply to:
#   <!-- example-setup: CMD -->       (roff: .\" example-setup: CMD)
#       run CMD in the same shell first; its output is not compared, it must succeed.
#       Say what the text assumes, e.g. a chosen baseline or an existing cgroup.
#   <!-- example-skip: WHY -->        (roff: .\" example-skip: WHY)
#       don't run the block; printed as "SKIP docs.example.FILE:LINE: WHY". Keep them rare.
#
# How the run stands in for the reader's machine:
#   - `sudo CMD` runs CMD as root with SUDO_UID/SUDO_GID 65534 (nobody): a user who typed
#     sudo. Without sudo, commands run as root.
#   - this instance's paths and name are shown as the defaults' (/var/lib/sbx, /run/sbx,
#     /sys/fs/bpf/sbx, /etc/sbx/sbxd.conf, instance "sbx"), or as the values an example
#     exported to SBX_STATE_DIR etc.; those in commands become this instance's.
#   - the cgroup /system.slice is /$INST.slice here (sbx attach examples); `sleepers CGROUP N`
#     (for setup) starts N sleeping processes in CGROUP, creating it.
#   - /srv/ is a directory of this file's run (workspace examples: `mkdir /srv/app`, then
#     `sbx run -w /srv/app ...`), so examples never touch the host's /srv, nor each other's.
#   - an ID (UUID) an example's output shows stands for the one this run printed there; later
#     commands that name it, or a prefix of 8+ characters of it, get this run's.
# Compared after that: lines with runs of whitespace as one space (column widths may change);
# UUIDs, times and dates ("18 seconds ago", "14:31:11 23-Nov", ISO 8601, Unix times), pids,
# uptime and cgroup ids match any value of their kind; a line "..." (or "…") in the text
# stands for any number of lines. A command's non-zero exit status is a difference, shown as
# "[exit N]" (show one in the text with `; echo $?`).
#
# A FAIL is followed by the command, what it ran as, and a diff: "- " lines are in the text
# only, "+ " lines in this run's output only, "  " lines agree. Fix the text, or the code.
# `python3 tests/tools/doc_examples.py list FILE` shows what is taken from FILE;
# `tests/integration/docs_examples.sh FILE...` runs only those files' examples.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh

integ_init -i dx docs_examples x ip nsenter curl socat
DOCS=(README.md man/*.1 man/*.8)
[ $# -gt 0 ] && DOCS=("$@")

# The environment of every example: the reader's sbx on PATH, sudo, and the setup helpers.
mkdir "$T/bin"
ln -s "$SBX_BIN" "$T/bin/sbx"
cp "$NETTOOL" "$T/bin/nettool"
cat >"$T/prelude.sh" <<EOF
export PATH=$T/bin:\$PATH
sudo() { env SUDO_UID=65534 SUDO_GID=65534 SUDO_USER=nobody "\$@"; }
sleepers() { # CGROUP N
	mkdir -p "\$1" || return 1
	local i
	for ((i = 0; i < \$2; i++)); do
		sh -c 'echo \$\$ >"\$1/cgroup.procs" && exec sleep 600' sh "\$1" </dev/null >/dev/null 2>&1 &
	done
	for ((i = 0; i < 50; i++)); do
		[ "\$(wc -l <"\$1/cgroup.procs")" -ge "\$2" ] && return 0
		sleep 0.1
	done
	return 1
}
EOF

# One file's instance: its own state, run and pin dirs, instance name and cgroups.
doc_up() { # N
	INST=$BASE$1
	D=$T/doc$1
	mkdir -m 755 "$D" "$D/srv"
	RUN=$D/run
	PIN=/sys/fs/bpf/sbxtest-$INST
	SLICE=$CGROOT/$INST.slice
	ENVV=(SBX_STATE_DIR="$D/state" SBX_RUN_DIR="$RUN" SBX_BPF_DIR="$PIN"
		SBX_CONFIG="$D/sbxd.conf" SBX_INSTANCE="$INST" SBX_DNS_UPSTREAM=198.51.100.53:53)
}

doc_down() {
	local names p cg i
	[ -n "${D:-}" ] || return 0
	names=$(S ls --json 2>/dev/null | "$PYTHON" -c 'import json, sys
print(" ".join(s["name"] for s in json.load(sys.stdin)["sandboxes"]))' 2>/dev/null)
	for p in $names; do S rm --force "$p" >/dev/null 2>&1; done
	S daemon stop >/dev/null 2>&1
	p=$(daemon_pid)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sbxd ] &&
		kill -9 "$p"
	# deepest first
	if [ -d "$SLICE" ]; then
		while read -r cg; do
			echo 1 >"$cg/cgroup.kill" 2>/dev/null
			for ((i = 0; i < 50; i++)); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
		done < <(find "$SLICE" -depth -type d)
	fi
	# shellcheck disable=SC2086
	sandbox_leftovers_remove "$RUN" "$INST" $names
	[ -d "$PIN" ] && rm -rf "$PIN"
	D=
}

# shellcheck disable=SC2317,SC2119 # called by the EXIT trap
cleanup() {
	doc_down
	ATT_CG=/nonexistent
	integ_cleanup
}
integ_traps
BASE=$INST
D=
integ_world_up

# where this host mounts cgroup2 stands for /sys/fs/cgroup
CGMAP=()
[ "$CGROOT" = /sys/fs/cgroup ] || CGMAP=(--map "/sys/fs/cgroup=$CGROOT")
rc=0 n=0
for doc in "${DOCS[@]}"; do
	n=$((n + 1))
	doc_up $n
	"$PYTHON" tests/tools/doc_examples.py run "$doc" \
		--var SBX_STATE_DIR="$D/state" --var SBX_RUN_DIR="$RUN" --var SBX_BPF_DIR="$PIN" \
		--var SBX_CONFIG="$D/sbxd.conf" --var SBX_INSTANCE="$INST" \
		--map "system.slice=$INST.slice" --map "/srv/=$D/srv/" "${CGMAP[@]}" --prelude "$T/prelude.sh" --cwd "$PUB" \
		-- bash "$ROOT/scripts/world.sh" exec "$W" world env -u SHELL "${ENVV[@]}" bash || rc=1
	doc_down
done
exit $rc
