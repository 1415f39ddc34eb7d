#!/bin/bash
# SPDX-License-Identifier: MIT
# The setup every root integration script in a test world repeats; source it (it sources
# tests/lib.sh) from the repository root, don't run it.
#
#   integ_init [-i INST_PREFIX] [-b BINARY]... NAME LETTER TOOL...
#       not root, or a TOOL missing: print "SKIP NAME: why" and exit 0; sbx or a BINARY not
#       built: "FAIL NAME.setup: why" and exit 1. Then sets
#         W      world name, LETTER + our pid (tests running side by side never collide)
#         INST   sbxd instance, INST_PREFIX + our pid (default: $W)
#         T      private temp dir (a sandbox sees none of it but $PUB)
#         PUB    $T/pub, mode 1777: the workspace of every test sandbox (S run), where it starts
#                (in_world, in_inet and S run from it)
#         NETTOOL a copy of build/tests/tools/nettool in $T, which sandboxes can run
#         RUN    $T/run, the instance's run dir; PIN its bpffs pin dir
#         ENVV   the SBX_* environment of the instance (config $T/sbxd.conf, created by the
#                script when it wants one) and the world's DNS upstream
#         CGROOT the cgroup v2 root; ATT_CG $CGROOT/$INST-att, a cgroup scripts may attach
#         BG_PIDS background pids integ_cleanup kills
#   in_world CMD... / in_inet CMD...   CMD in the world's / the inet namespace
#   S ARGS...          sbx of this instance, inside the world
#   X CMD...           CMD in sandbox $SB (default t1): output and status in OUT / RC
#   daemon_pid         the instance's sbxd pid, from its lock file
#   sb_field SANDBOX FIELD   a field of the sandbox in `sbx ls --json`
#   mark FILE / since FILE MARK   a log's line count now / the lines it gained since MARK
#   integ_world_up     bring the world up ("FAIL NAME.world" and exit 1 when it cannot), take
#                      its environment, copy its CA to CA=$T/ca.pem (world-readable)
#   integ_host_service BODY    $T/host-service, for socat EXEC: reads a request head, answers
#                      HTTP/1.0 200 with BODY (printf %b escapes)
#   integ_att_sleeper  a sleeper in the cgroup ATT_CG (made by the caller); its pid in APID
#   integ_cleanup SANDBOX...   for the EXIT trap: kill BG_PIDS, remove the sandboxes, stop
#                      sbxd (SIGKILL if it stays), empty and remove ATT_CG, take the world
#                      down, remove PIN and T: exactly what integ_init named
#   integ_traps        cleanup() on EXIT, exit 1 on INT and TERM; define cleanup() first

# Variables are set for the scripts that source this.
# shellcheck disable=SC2034
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$PWD
BUILD=${BUILD:-build}
NETTOOL=$ROOT/$BUILD/tests/tools/nettool
NOUNSHARE=$ROOT/$BUILD/tests/tools/nounshare
INTEG_NAME=

integ_init() {
	local ipre='' bins=("$SBX_BIN") tool b
	while [ $# -gt 0 ]; do
		case $1 in
		-i) ipre=$2 ;;
		-b) bins+=("$2") ;;
		*) break ;;
		esac
		shift 2
	done
	INTEG_NAME=$1
	W=$2$(($$ % 100000))
	shift 2
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP $INTEG_NAME: needs root"
		exit 0
	fi
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "SKIP $INTEG_NAME: $tool missing (scripts/deps.sh)"
			exit 0
		}
	done
	for b in "${bins[@]}"; do
		[ -x "$b" ] || { echo "FAIL $INTEG_NAME.setup: $b is not built (make)"; exit 1; }
	done
	INST=${ipre:+$ipre$(($$ % 100000))}
	INST=${INST:-$W}
	T=$(mktemp -d "/tmp/sbx-$INTEG_NAME.XXXXXX") || { echo "FAIL $INTEG_NAME.setup: mktemp"; exit 1; }
	chmod 755 "$T"
	PUB=$T/pub
	mkdir -m 1777 "$PUB"
	# the tool sandboxed commands run: in $PUB, the workspace every test sandbox gets (S run)
	mkdir -m 755 "$PUB/bin"
	install -m 755 "$NETTOOL" "$PUB/bin/nettool"
	NETTOOL=$PUB/bin/nettool
	PIN=/sys/fs/bpf/sbxtest-$INST
	RUN=$T/run
	ENVV=(SBX_STATE_DIR="$T/state" SBX_RUN_DIR="$RUN" SBX_BPF_DIR="$PIN" SBX_CONFIG="$T/sbxd.conf"
		SBX_INSTANCE="$INST" SBX_DNS_UPSTREAM=198.51.100.53:53)
	CGROOT=$(cgroup2_root)
	ATT_CG=$CGROOT/$INST-att
	BG_PIDS=()
}

# From $PUB: a sandboxed command starts where sbx runs, and a checkout in a directory only
# root can enter (a clone under /root) is closed to the sandbox's nobody.
in_world() { (cd "${PUB:-/}" && bash "$ROOT/scripts/world.sh" exec "$W" world "$@"); }
in_inet() { (cd "${PUB:-/}" && bash "$ROOT/scripts/world.sh" exec "$W" inet "$@"); }
# A sandbox sees only its workspaces of the host: `S run` gives it $PUB (SBX_NO_PUB=1: none).
S() {
	if [ "${1:-}" = run ] && [ -z "${SBX_NO_PUB:-}" ]; then
		shift
		set -- run --workspace "$PUB" "$@"
	fi
	in_world env "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" "$@" </dev/null
}
X() {
	OUT=$(S exec "${SB:-t1}" -- "$@" 2>&1)
	RC=$?
}
daemon_pid() { head -1 "$RUN/sbxd.lock" 2>/dev/null; }
sb_field() { # SANDBOX FIELD: the field of `sbx ls --json`
	S ls --json | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
print([s[sys.argv[2]] for s in d["sandboxes"] if s["name"] == sys.argv[1]][0])' "$1" "$2" 2>/dev/null
}
mark() { wc -l <"$1" 2>/dev/null || echo 0; }
since() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }

integ_world_up() {
	local out
	if ! out=$(bash scripts/world.sh up "$W" 2>&1); then
		echo "FAIL $INTEG_NAME.world: $out"
		exit 1
	fi
	eval "$(bash scripts/world.sh env "$W")"
	# a copy of the test CA inside the workspace the sandboxes see
	cp "$SBX_TEST_CA" "$PUB/ca.pem" && chmod 644 "$PUB/ca.pem"
	CA=$PUB/ca.pem
}

integ_host_service() {
	local body
	body=$(printf '%b' "$1"; echo x)
	body=${body%x}
	printf 'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body" >"$T/host-reply"
	# read the whole request head first: closing on unread data would reset, losing the reply
	cat >"$T/host-service" <<EOF_SVC
#!/bin/sh
cr=\$(printf '\\r')
while IFS= read -r line && [ "\$line" != "\$cr" ] && [ -n "\$line" ]; do :; done
cat "$T/host-reply"
EOF_SVC
	chmod 755 "$T/host-service"
}

integ_att_sleeper() {
	in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec sleep 1000" </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	wait_for -n 50 grep -q . "$ATT_CG/cgroup.procs"
	APID=$(head -1 "$ATT_CG/cgroup.procs")
}

integ_cleanup() {
	local p i sb
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for sb in "$@"; do S rm --force "$sb" >/dev/null 2>&1; done
	S daemon stop >/dev/null 2>&1
	p=$(daemon_pid)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sbxd ] && kill -9 "$p"
	if [ -d "$ATT_CG" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null; done 2>/dev/null <"$ATT_CG/cgroup.procs"
		for ((i = 0; i < 50; i++)); do rmdir "$ATT_CG" 2>/dev/null && break; sleep 0.1; done
	fi
	sandbox_leftovers_remove "$RUN" "$INST" "$@"
	bash scripts/world.sh down "$W" >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	rm -rf "$T"
}

integ_traps() {
	trap cleanup EXIT
	trap 'exit 1' INT TERM
}
