#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: shows sbx's policy control plane end to end with a private sbxd instance
# (its own state and run dirs), so it never touches a real installation.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SBX=$PWD/$BUILD/sbx
demo_dir=$(mktemp -d /tmp/sbx-demo.XXXXXX)
export SBX_STATE_DIR=$demo_dir/state SBX_RUN_DIR=$demo_dir/run SBX_BPF_DIR=$demo_dir/bpf \
	SBX_CONFIG=$demo_dir/sbxd.conf SBX_INSTANCE=demo$$
cleanup() {
	"$SBX" daemon stop >/dev/null 2>&1
	rm -rf "$demo_dir"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$(tput bold 2>/dev/null) plain=$(tput sgr0 2>/dev/null); else bold= plain=; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
run() {
	printf '%s$ sbx %s%s\n' "$bold" "$*" "$plain"
	"$SBX" "$@"
	local rc=$?
	[ $rc -eq 0 ] || printf '(exit %d)\n' $rc
}

say "A fresh machine has no default policy; without a terminal sbx says what to do"
run policy ls </dev/null
say "CI and headless servers choose one up front"
run policy set-default balanced
say "The Balanced baseline: AI services, package managers, code hosts, clouds, OS mirrors"
"$SBX" policy ls --type network | head -12
echo "... ($("$SBX" policy ls --json | grep -c '"id"') rules in all)"
say "Is PyPI reachable? Which rule decides, and why?"
run policy check pypi.org
say "An unknown host falls to the default deny"
run policy check https://evil.example/upload
say "Block PyPI: a deny beats every allow, whatever its specificity"
run policy deny network pypi.org
run policy check pypi.org
say "Allow a few hosts for one sandbox only"
run policy allow network --sandbox docs "api.github.com,*.readthedocs.io"
run policy check docs.python.readthedocs.io --sandbox docs
run policy check docs.python.readthedocs.io
say "Raw TCP (SSH) to one internal address needs an explicit address rule"
run policy allow network 10.1.2.3:22
run policy check 10.1.2.3:22
say "Bad input is refused with a message, and nothing changes"
run policy allow network "exa mple.com"
run policy allow network "*.*.example.com"
run policy allow network "example.com:70000"
say "Local rules, with the ids that rm and inspect take"
"$SBX" policy ls --wide | awk 'NR == 1 || /local:/'
id=$("$SBX" policy ls --wide | awk '/local:/ { print $1; exit }')
run policy inspect "$id"
say "Remove the PyPI deny again; default groups cannot be removed"
run policy rm network --resource pypi.org
run policy rm network --resource pypi.org:443
run policy check pypi.org
say "The daemon keeps the policy in $SBX_STATE_DIR/policy.json (atomic writes)"
run daemon status
say "Kernel enforcement, sandboxes and the verdict log come with the next milestone."
