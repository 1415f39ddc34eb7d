#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: sbx doing its job end to end. A private test world (network namespaces whose
# "internet" is our own origin servers and DNS, see scripts/world.sh) gets a private sbxd;
# a sandbox sees the host only through its workspace (and a workspace the filesystem rules
# deny is refused), reaches an allowed name, is refused a denied one and every way around
# the proxy, a deny rule takes effect at once, and the verdict log shows it all. Nothing is
# sent beyond the namespaces made here, and everything made here is removed at the end.
# The sandbox never runs a file of this checkout: it sees only $PROJECT, under $T.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
SBX=$ROOT/$BUILD/sbx
NETTOOL=$ROOT/$BUILD/tests/tools/nettool

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: it creates network namespaces, cgroups and eBPF programs" >&2
	exit 1
fi

W=dm$(($$ % 10000))
T=$(mktemp -d /tmp/sbx-demo.XXXXXX)
chmod 755 "$T"
PIN=/sys/fs/bpf/sbxdemo-$W
ENVV=(SBX_STATE_DIR="$T/state" SBX_RUN_DIR="$T/run" SBX_BPF_DIR="$PIN" SBX_CONFIG="$T/none.conf"
	SBX_INSTANCE="$W" SBX_DNS_UPSTREAM=198.51.100.53:53)
# the sandbox's workspace: sbx runs from it, so commands start there (same path inside)
PROJECT=$T/project
in_world() { bash "$ROOT/scripts/world.sh" exec "$W" world "$@"; }
sbx_() { (cd "$PROJECT" && in_world env "${ENVV[@]}" timeout 60 "$SBX" "$@" </dev/null); }

cleanup() {
	sbx_ rm --force demo scratch >/dev/null 2>&1
	sbx_ daemon stop >/dev/null 2>&1
	bash scripts/world.sh down "$W" >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -t 1 ]; then bold=$(tput bold 2>/dev/null) plain=$(tput sgr0 2>/dev/null); else bold= plain=; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
# ARGS as a shell would need them typed
typed() {
	local a q=\' out=
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+=" $a"
		else
			out+=" '${a//$q/$q\\$q$q}'"
		fi
	done
	printf '%s' "${out# }"
}
run() {
	printf '%s$ sbx %s%s\n' "$bold" "$(typed "$@")" "$plain"
	sbx_ "$@"
	local rc=$?
	[ $rc -eq 0 ] || printf '(exit %d)\n' $rc
}
# A command inside the sandbox, shown as the user would type it (the project's bin is on PATH).
inside() {
	printf '%s[demo]$ %s%s\n' "$bold" "$*" "$plain"
	sbx_ exec demo -- sh -c "PATH=\$PWD/bin:\$PATH; $*"
	local rc=$?
	[ $rc -eq 0 ] || printf '(exit %d)\n' $rc
}
# A command on the host, in the project directory.
host() {
	printf '%s$ %s%s\n' "$bold" "$*" "$plain"
	(cd "$PROJECT" && sh -c "$*")
}

say "Building a private test world: our own 'internet' of origin servers and a DNS server"
if ! out=$(bash scripts/world.sh up "$W" 2>&1); then
	echo "$out"
	exit 1
fi
eval "$(bash scripts/world.sh env "$W")"
# Who the sandbox's commands are in their workspaces: the user who ran sudo, or nobody when
# root runs sbx itself; the project belongs to that user, as a user's checkout would.
if [ "${SUDO_UID:-0}" -gt 0 ] 2>/dev/null && [ "$SUDO_UID" -lt 65536 ]; then
	OWNER=$SUDO_UID:${SUDO_GID:-$SUDO_UID}
else
	unset SUDO_UID SUDO_GID SUDO_USER
	OWNER=65534:65534
fi
# in the project, what the demo runs in the sandbox: the test world's CA (its origin servers'
# certificates) and nettool, a probe that opens raw TCP and UDP sockets
mkdir -m 755 "$PROJECT" "$PROJECT/bin"
install -m 644 "$SBX_TEST_CA" "$PROJECT/ca.pem"
install -m 755 "$NETTOOL" "$PROJECT/bin/nettool"
chown "$OWNER" "$PROJECT"
# the host's own copy, run outside any sandbox (never from a directory the sandbox may write)
install -m 755 "$NETTOOL" "$T/nettool"
NETTOOL=$T/nettool

say "No default policy yet; without a terminal sbx says what to do"
run policy ls
say "CI and headless servers choose one up front: Balanced allows common dev sites"
run policy set-default balanced
sbx_ policy ls --type network | head -6
echo "..."

say "A sandbox: its own cgroup, network namespace and root; the kernel sends everything to sbxd."
say "Run from a project directory, -w . makes it the sandbox's workspace, at the same path inside"
printf '%s$ cd %s%s\n' "$bold" "$PROJECT" "$plain"
run run -w . demo -- sh -c 'echo "inside: $(hostname) in $PWD as $(id -un), HTTPS_PROXY=$HTTPS_PROXY"; ip -4 -br addr show eth0'

say "The workspace is the host's directory itself: what the sandbox writes there, the host sees"
inside "echo 'written in the sandbox' > notes.txt"
host "ls -l notes.txt; cat notes.txt"
say "Nothing else of the host is there. Next to the project, the host has:"
host "echo 'host only' > ../host-only.txt; ls .."
say "The sandbox sees only its workspace there, and a /tmp of its own"
inside "cat ../host-only.txt; ls -A .. /tmp"

say "Filesystem rules decide which directories may be workspaces; a deny beats every allow"
host "mkdir ../secrets"
run policy deny filesystem:write "$T/secrets"
run run -w ../secrets scratch -- ls

say "PyPI is in the Balanced baseline: allowed"
inside "curl -s --cacert ca.pem https://pypi.org/simple/"
say "An unknown host: the resolver refuses the name, the proxy the request"
inside "curl -s http://evil.example/upload"
say "Going around the proxy gets nowhere: a direct IP, raw TCP, UDP, IPv6"
inside "curl -s --noproxy '*' http://203.0.113.66/"
inside "nettool tcp 203.0.113.66 22   # raw TCP: sbxd takes the connection, then resets it"
inside "nettool udp 198.51.100.53 9999"
inside "curl -s -m 3 -g --noproxy '*' http://[2001:db8:100::10]/ || echo 'IPv6: refused'"
say "Nor does a name that resolves to an internal address (DNS rebinding, cloud metadata)"
run policy allow network metadata.example
inside "curl -s http://metadata.example/latest/meta-data/"

say "Block PyPI: a deny beats every allow and applies to the next connection, no restart"
run policy deny network pypi.org
inside "curl -s -o /dev/null -w 'HTTP %{http_connect}\n' --cacert ca.pem https://pypi.org/simple/"
run policy check pypi.org --sandbox demo

say "The verdict log, read straight from the kernel's pinned map"
run policy log demo

say "sbxd killed: the kernel still lets nothing out (fail closed)"
cg=$(sbx_ ls --json | grep -o '"/sys/fs/cgroup[^"]*/demo"' | tr -d '"')
kill -9 "$(head -1 "$T/run/sbxd.lock")" 2>/dev/null
sleep 0.3
printf '%s[demo]$ %s%s\n' "$bold" "nettool tcp 198.51.100.10 22   # sbxd is dead" "$plain"
# what sbx exec does, by hand (sbx exec would start sbxd again): join the cgroup and netns
sh -c 'echo $$ >"$1/cgroup.procs" && exec nsenter --net="$2" timeout 5 "$3" tcp 198.51.100.10 22' \
	sh "$cg" "$T/run/netns/demo" "$NETTOOL"
echo
echo "Done: the world, the sandbox, sbxd and its pins are being removed."
