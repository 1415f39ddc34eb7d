#!/bin/bash
# SPDX-License-Identifier: MIT
# sbxd.conf and SBX_DNS_UPSTREAM as sbxd(8) CONFIG FILE and ENVIRONMENT describe them: every
# bad setting stops sbxd with a message naming the file and line (or the variable) and saying
# what is wrong; the three listening ports must differ; at most three DNS upstreams; a missing
# group says how to create it, and `make install` creates the group sbx (read with make -n: the
# test never adds a group). Runs sbxd in private directories; no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2016
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins config
sbx_instance_setup
CONF=$SBX_TEST_DIR/test.conf

# config_refused NAME ERE LINE...: sbxd with a config of these lines exits 1, its message
# matching ERE, and leaves no daemon behind
config_refused() {
	local name=$1 ere=$2
	shift 2
	printf '%s\n' "$@" >"$CONF"
	run env SBX_CONFIG="$CONF" timeout 10 "$SBXD_BIN"
	if [ "$RC" = 1 ] && grep -Eq -- "$ere" <<<"$OUT" && ! sbx_instance_pid >/dev/null; then
		pass "config.$name"
	else
		fail "config.$name" "exit $RC, want 1 and /$ere/"
		_show_out
	fi
}
F="test\\.conf"

# ---- the three ports: four listeners on one port would leave one of them unreachable --------
config_refused proxy_is_transparent "$F:2: transparent_port 3128 is also proxy_port \(its default\)" \
	'# ports' 'transparent_port = 3128'
config_refused dns_is_proxy "$F:3: dns_port 4000 is also proxy_port \(line 1\)" \
	'proxy_port = 4000' 'transparent_port = 4001' 'dns_port = 4000'
config_refused dns_is_transparent "$F:1: dns_port 3129 is also transparent_port \(its default\)" \
	'dns_port = 3129'
config_refused later_line_named "$F:2: proxy_port 5000 is also dns_port \(line 1\)" \
	'dns_port = 5000' 'proxy_port = 5000'
config_refused ports_message_says_why 'need three different ports' 'dns_port = 3128'

# ---- dns_upstream: up to three, each IPv4[:PORT], with file:line -------------------------------
config_refused upstream_four "$F:2: more than 3 DNS upstreams in '1\.1\.1\.1,2\.2\.2\.2,3\.3\.3\.3,4\.4\.4\.4'" \
	'# four' 'dns_upstream = 1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4'
config_refused upstream_bad "$F:1: DNS upstream 'resolver\.example' is not IPv4\[:PORT\]" \
	'dns_upstream = 10.0.0.53:53,resolver.example'
config_refused upstream_bad_port "$F:1: DNS upstream '10\.0\.0\.53:99999' is not IPv4" \
	'dns_upstream = 10.0.0.53:99999'
config_refused upstream_empty "$F:1: give one to 3 DNS upstreams" 'dns_upstream ='

# ---- SBX_DNS_UPSTREAM: the same rules, the variable named -------------------------------------
: >"$CONF"
run env SBX_CONFIG="$CONF" SBX_DNS_UPSTREAM=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4 timeout 10 "$SBXD_BIN"
[ "$RC" = 1 ] && grep -q "SBX_DNS_UPSTREAM: more than 3 DNS upstreams" <<<"$OUT" &&
	pass config.env_upstream_four || { fail config.env_upstream_four "exit $RC"; _show_out; }
run env SBX_CONFIG="$CONF" SBX_DNS_UPSTREAM=dns.example timeout 10 "$SBXD_BIN"
[ "$RC" = 1 ] && grep -q "SBX_DNS_UPSTREAM: DNS upstream 'dns.example' is not IPv4\[:PORT\]" <<<"$OUT" &&
	pass config.env_upstream_bad || { fail config.env_upstream_bad "exit $RC"; _show_out; }
# the variable wins over the file, so a bad file value it overrides is still an error
printf 'dns_upstream = 1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4\n' >"$CONF"
run env SBX_CONFIG="$CONF" SBX_DNS_UPSTREAM=10.0.0.53 timeout 10 "$SBXD_BIN"
[ "$RC" = 1 ] && grep -q "$F:1: more than 3" <<<"$OUT" && pass config.file_checked_under_env ||
	{ fail config.file_checked_under_env "exit $RC"; _show_out; }

# ---- sandbox_pool: checked with the file and line too ------------------------------------------
config_refused pool_host_bits "$F:2: sandbox_pool '10\.0\.0\.1/8' has host bits set \(did you mean 10\.0\.0\.0/8\?\)" \
	'' 'sandbox_pool = 10.0.0.1/8'
config_refused pool_prefix "$F:1: sandbox_pool '10\.0\.0\.0/31': the prefix length must be 8 to 30" \
	'sandbox_pool = 10.0.0.0/31'

# ---- sandbox_ids: whole blocks of 65536 host ids, clear of the invalid top ids -----------------
config_refused ids_first_unaligned "$F:1: sandbox_ids '65537-196607': FIRST must be a multiple of 65536 \(did you mean 131072\?\)" \
	'sandbox_ids = 65537-196607'
config_refused ids_last_invalid "$F:2: sandbox_ids '65536-4294967295': LAST must be below 4294967294" \
	'# ids' 'sandbox_ids = 65536-4294967295'

# ---- group: a missing one says how to make it -----------------------------------------------
nogroup=sbxnogrp$$
if getent group "$nogroup" >/dev/null; then
	skip config.group_missing "group $nogroup exists here"
else
	config_refused group_missing "$F:1: no such group '$nogroup' \(create it with: groupadd --system $nogroup\)" \
		"group = $nogroup"
	# and sbx, which starts sbxd on demand, shows the same sentence
	printf 'group = %s\n' "$nogroup" >"$CONF"
	SBX_CONFIG=$CONF run sbx daemon start
	[ "$RC" = 1 ] && grep -q "groupadd --system $nogroup" <<<"$STDERR" && pass config.group_missing_via_sbx ||
		{ fail config.group_missing_via_sbx "exit $RC"; _show_out; }
fi

# ---- make install creates the group, only for a real install as root (never in DESTDIR) ------
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if command -v make >/dev/null; then
	plan=$(make -n -C "$ROOT" --no-print-directory install PREFIX=/nonexistent DESTDIR= 2>&1)
	grep -q 'getent group sbx' <<<"$plan" && grep -q 'groupadd --system sbx' <<<"$plan" &&
		grep -q '"$(id -u)" = 0' <<<"$plan" && pass config.install_creates_group ||
		fail config.install_creates_group "make -n install: $(tail -n 3 <<<"$plan")"
	plan=$(make -n -C "$ROOT" --no-print-directory install PREFIX=/nonexistent DESTDIR=/nonexistent 2>&1)
	! grep -q groupadd <<<"$plan" && pass config.install_destdir_no_group ||
		fail config.install_destdir_no_group "groupadd with DESTDIR set"
else
	skip config.install_creates_group "make is not installed"
fi

# ---- what is valid starts ----------------------------------------------------------------------
grp=$(id -gn)
printf '# every key\ngroup = %s\ndns_upstream = 10.0.0.53,10.0.0.54:5353,10.0.0.55\nsandbox_pool = 10.210.0.0/16\nsandbox_ids = 0x10000000-0x1FFFFFFF\nproxy_port = 4128\ntransparent_port = 4129\ndns_port = 4153\n' "$grp" >"$CONF"
SBX_CONFIG=$CONF run sbx daemon start
[ "$RC" = 0 ] && pass config.valid_starts || { fail config.valid_starts "exit $RC"; _show_out; }
run sbx daemon stop
SBX_CONFIG=$CONF SBX_DNS_UPSTREAM=10.0.0.1:53,10.0.0.2,10.0.0.3 run sbx daemon start
[ "$RC" = 0 ] && pass config.env_three_upstreams_start || { fail config.env_three_upstreams_start "exit $RC"; _show_out; }
run sbx daemon stop

finish
