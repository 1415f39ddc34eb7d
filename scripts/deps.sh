#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages sbx needs to build, test and demo; only what is missing.
# Idempotent: a second run installs nothing and touches no package list.
set -eu

# libclang-rt-dev: clang's sanitizer and libFuzzer runtimes (only recommended by clang, so a
# --no-install-recommends clang lacks them); without it `make fuzz` falls back to a replay.
PKGS="make gcc clang libclang-rt-dev llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev openssl
libnl-3-dev libnl-route-3-dev libcjson-dev libyaml-dev libseccomp-dev
iproute2 dnsmasq-base socat iputils-ping bind9-dnsutils curl nginx-light util-linux procps python3"

# `scripts/deps.sh --bench` adds the peers the benchmarks compare against.
[ "${1:-}" = --bench ] && PKGS="$PKGS wrk tinyproxy squid"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "sbx: missing packages:$missing" >&2
	echo "sbx: run 'sudo scripts/deps.sh' (or install them with apt-get) and try again" >&2
	exit 1
fi

echo "sbx: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Servers we install (nginx, dnsmasq, squid...) are for tests in private namespaces: keep
# their packages from starting them on the host, and put back whatever policy was there.
guard=/usr/sbin/policy-rc.d
if [ ! -e "$guard" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
	trap 'rm -f "$guard"' EXIT
fi
# Refresh the lists only when an install from the current ones fails.
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing ||
	{ apt-get update && apt-get install -y --no-install-recommends $missing; }
