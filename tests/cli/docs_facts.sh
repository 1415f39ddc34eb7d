#!/bin/bash
# SPDX-License-Identifier: MIT
# Facts the docs state that the code can be read for: every map include/sbx/bpf_abi.h pins
# is listed under FILES in sbxd(8), every limit it names has the value the code uses, and the
# default groups have as many resources as README and sbx-policy(1) say.
# Reads files only: no daemon, no root, no network.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
MAN=man/sbxd.8

# ---- the pinned maps ---------------------------------------------------------------------
mapfile -t maps < <(sed -n 's/^#define SBX_MAP_[A-Z_]*[[:space:]]*"\(sbx_[a-z_]*\)".*/\1/p' include/sbx/bpf_abi.h)
[ "${#maps[@]}" -ge 8 ] && pass docs_facts.maps_read || fail docs_facts.maps_read "read ${#maps[@]} maps"
files=$(sed -n '/^\.SH FILES/,/^\.SH /p' "$MAN" | sed 's/\\-/-/g')
missing=
for m in "${maps[@]}"; do
	grep -qE "^\.BR? $m( |$)" <<<"$files" || missing+=" $m"
done
[ -z "$missing" ] && pass docs_facts.every_map_in_files || fail docs_facts.every_map_in_files "not under FILES in $MAN:$missing"

# ---- limits: "the man page says N" against "#define NAME N" -----------------------------------
# define, file, man page phrase (an ERE with @N@ where the number goes, @W@ for it in words)
limit() {
	local def=$1 file=$2 phrase=$3 val words=(zero one two three four five six seven eight nine)
	val=$(sed -n "s/^#define ${def}[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p" "$file")
	[ -n "$val" ] && [ "$val" -lt 10 ] && phrase=${phrase//@W@/${words[$val]}}
	if [ -z "$val" ]; then
		fail "docs_facts.$def" "no #define $def NUMBER in $file"
	elif grep -qE -- "${phrase//@N@/$val}" <(tr '\n' ' ' <"$MAN"); then
		pass "docs_facts.$def"
	else
		fail "docs_facts.$def" "$MAN does not say /${phrase//@N@/$val}/ ($def is $val)"
	fi
}
limit CTL_CLIENTS_MAX user/sbxd.c 'At most @N@ clients are served at once'
limit CTL_SPARE_FDS user/sbxd.c 'keeps @N@ descriptors in reserve'
limit SBX_DNSD_PENDING_PER_SANDBOX user/dnsd.h 'B @N@ lookups in flight per sandbox'
limit SBX_DNSD_TCP_PER_SANDBOX user/dnsd.h 'B @N@ DNS\\-over\\-TCP connections per sandbox, '
limit SBX_DNSD_TCP_MAX user/dnsd.h 'per sandbox, @N@ in all'
limit SBX_RESOLVE_PENDING_MAX user/resolve.h 'has at most @N@ lookups'
limit SBX_RESOLVE_TRIES user/resolve.h 'each query is tried @N@ times'
limit SBX_RESOLVE_UPSTREAMS user/resolve.h 'one to @W@ IPv4'
limit SBX_PROXY_LOOKUPS_PER_SANDBOX user/proxy.h 'at most @N@ of the proxy.s upstream lookups'
limit SBX_PROXY_SESSIONS_PER_SANDBOX user/proxy.h '\(@N@\) proxy connections at once'
limit SBX_PROXY_FD_RESERVE user/proxy.h '\\- @N@\) / 2'
limit SBX_VERDICTS_PER_SANDBOX include/sbx/bpf_abi.h 'at most @N@ rows of that map'
limit SBX_MAX_VERDICTS include/sbx/bpf_abi.h 'the map holds @N@'
limit SBX_INSTANCE_MAX include/sbx/paths.h 'up to @N@ characters'

# ---- the default groups: how many resources README and sbx-policy(1) say each has -------------
for list in data/defaults/*.list; do
	g=$(basename "$list" .list)
	n=$(grep -cvE '^[[:space:]]*(#|$)' "$list")
	grep -qE "^\| \`$g\` \|.*\| $n \|\$" README.md && pass "docs_facts.readme_count.$g" ||
		fail "docs_facts.readme_count.$g" "README's default groups table does not give $g $n resources"
	sed -n "/^\.B ${g//-/\\\\-}\$/{n;p}" man/sbx-policy.1 | grep -qE "\($n( resources)?\)\.\$" &&
		pass "docs_facts.man_count.$g" ||
		fail "docs_facts.man_count.$g" "sbx-policy(1) DEFAULT GROUPS does not give $g ($n)"
done

# ---- README's Quick start: where make install puts sbx and sbxd, and sbx finds sbxd there --------
prefix=$(sed -n 's/^PREFIX *?= *//p' Makefile)
grep -qF 'install -m 0755 $(BUILD)/sbx $(DESTDIR)$(PREFIX)/bin/sbx' Makefile &&
	grep -qF 'install -m 0755 $(BUILD)/sbxd $(DESTDIR)$(PREFIX)/sbin/sbxd' Makefile &&
	grep -qF '"%s/../sbin/sbxd"' cli/client.c &&
	sed -n '/^## Quick start/,/^## Usage/p' README.md | tr '\n' ' ' |
	grep -qF "puts \`sbx\` in \`$prefix/bin\`, \`sbxd\` in \`$prefix/sbin\`" &&
	pass docs_facts.quick_start_install || fail docs_facts.quick_start_install \
	"README's Quick start does not say where make install ($prefix) puts sbx and sbxd, or sbx does not look there"
finish
