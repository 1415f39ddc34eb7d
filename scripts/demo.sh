#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: sbx doing its job end to end. A private test world (network namespaces whose
# "internet" is our own origin servers and DNS, see scripts/world.sh) gets a private sbxd;
# a sandbox reaches an allowed name, is refused a denied one and every way around the
# proxy, a deny rule takes effect at once, and the verdict log shows it all. Nothing is
# sent beyond the namespaces made here, and everything made here is removed at the end.
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
in_world() { bash "$ROOT/scripts/world.sh" exec "$W" world "$@"; }
# from $T: the sandbox starts where sbx runs, and a root-only checkout is closed to it
sbx_() { (cd "$T" && in_world env "${ENVV[@]}" timeout 60 "$SBX" "$@" </dev/null); }

cleanup() {
	sbx_ rm --force demo >/dev/null 2>&1
	sbx_ daemon stop >/dev/null 2>&1
	bash scripts/world.sh down "$W" >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -t 1 ]; then bold=$(tput bold 2>/dev/null) plain=$(tput sgr0 2>/dev/null); else bold= plain=; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
run() {
	printf '%s$ sbx %s%s\n' "$bold" "$*" "$plain"
	sbx_ "$@"
	local rc=$?
	[ $rc -eq 0 ] || printf '(exit %d)\n' $rc
}
# A command inside the sandbox, shown as the user would type it.
inside() {
	printf '%s[demo]$ %s%s\n' "$bold" "$*" "$plain"
	sbx_ exec demo -- sh -c "$*"
	local rc=$?
	[ $rc -eq 0 ] || printf '(exit %d)\n' $rc
}

say "Building a private test world: our own 'internet' of origin servers and a DNS server"
if ! out=$(bash scripts/world.sh up "$W" 2>&1); then
	echo "$out"
	exit 1
fi
eval "$(bash scripts/world.sh env "$W")"
cp "$SBX_TEST_CA" "$T/ca.pem" && chmod 644 "$T/ca.pem"
CA=$T/ca.pem
# the sandbox's root is nobody on the host: a copy of the tool it may run (root-only checkouts)
install -m 755 "$NETTOOL" "$T/nettool"
NETTOOL=$T/nettool

say "No default policy yet; without a terminal sbx says what to do"
run policy ls
say "CI and headless servers choose one up front: Balanced allows common dev sites"
run policy set-default balanced
sbx_ policy ls --type network | head -6
echo "..."

say "A sandbox: its own cgroup and network namespace; the kernel sends everything to sbxd"
run run demo -- sh -c 'echo "inside: $(hostname), HTTPS_PROXY=$HTTPS_PROXY"; ip -4 -br addr show eth0'

say "PyPI is in the Balanced baseline: allowed"
inside "curl -s --cacert $CA https://pypi.org/simple/"
say "An unknown host: the resolver refuses the name, the proxy the request"
inside "curl -s http://evil.example/upload"
say "Going around the proxy gets nowhere: a direct IP, raw TCP, UDP, IPv6"
inside "curl -s --noproxy '*' http://203.0.113.66/"
inside "$NETTOOL tcp 203.0.113.66 22"
inside "$NETTOOL udp 198.51.100.53 9999"
inside "curl -s -m 3 -g --noproxy '*' http://[2001:db8:100::10]/ || echo 'IPv6: refused'"
say "Nor does a name that resolves to an internal address (DNS rebinding, cloud metadata)"
run policy allow network metadata.example
inside "curl -s http://metadata.example/latest/meta-data/"

say "Block PyPI: a deny beats every allow and applies to the next connection, no restart"
run policy deny network pypi.org
inside "curl -s -o /dev/null -w 'HTTP %{http_connect}\n' --cacert $CA https://pypi.org/simple/"
run policy check pypi.org --sandbox demo

say "The verdict log, read straight from the kernel's pinned map"
run policy log demo

say "sbxd killed: the kernel still lets nothing out (fail closed)"
cg=$(sbx_ ls --json | grep -o '"/sys/fs/cgroup[^"]*/demo"' | tr -d '"')
kill -9 "$(head -1 "$T/run/sbxd.lock")" 2>/dev/null
sleep 0.3
printf '%s[demo]$ %s%s\n' "$bold" "$NETTOOL tcp 198.51.100.10 22   # sbxd is dead" "$plain"
# what sbx exec does, by hand (sbx exec would start sbxd again): join the cgroup and netns
sh -c 'echo $$ >"$1/cgroup.procs" && exec nsenter --net="$2" timeout 5 "$3" tcp 198.51.100.10 22' \
	sh "$cg" "$T/run/netns/demo" "$NETTOOL"
echo
echo "Done: the world, the sandbox, sbxd and its pins are being removed."
