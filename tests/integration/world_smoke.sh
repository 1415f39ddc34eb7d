#!/bin/bash
# SPDX-License-Identifier: MIT
# Smoke test of the test world (scripts/world.sh): every other integration test trusts that the
# world's origins answer and that nothing in it has a way out, so this checks both, from inside
# world the way sbxd will see it, and that "down" leaves nothing behind. Root only.
# Prints "PASS world.<check>" or "FAIL world.<check>: why" per check; exit 0 if all pass.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "SKIP world: needs root (network namespaces)"
	exit 0
fi
for tool in ip nsenter dnsmasq nginx socat openssl curl dig ping perl; do
	command -v "$tool" >/dev/null || { echo "SKIP world: $tool not installed (scripts/deps.sh)"; exit 0; }
done

WORLD=scripts/world.sh
# Derived from our pid, so tests running side by side never pick the same world.
W=w$(($$ % 100000))
failed=0

pass() { echo "PASS world.$1"; }
fail() { echo "FAIL world.$1: $2"; failed=1; }
in_world() { bash "$WORLD" exec "$W" world "$@"; }

# The trap is the only teardown path on failure; down is idempotent, so running it twice is fine.
trap 'bash "$WORLD" down "$W" >/dev/null 2>&1' EXIT
trap 'exit 1' INT TERM

start=$(date +%s%N)
if ! out=$(bash "$WORLD" up "$W" 2>&1); then
	fail up "world.sh up $W: $out"
	exit 1
fi
ms=$((($(date +%s%N) - start) / 1000000))
# a bound that catches a hang, not a speed target: 2 busy cores take ~5 s for the origins' keys
if [ $ms -le 20000 ]; then pass up; else fail up "took $ms ms (limit 20000)"; fi

eval "$(bash "$WORLD" env "$W")"
[ "$WORLD_NS" = "$W-world" ] && [ "$INET_NS" = "$W-inet" ] && [ -s "$SBX_TEST_CA" ] &&
	[ "$SBX_DNS_UPSTREAM" = 198.51.100.53:53 ] && pass env ||
	fail env "unexpected: WORLD_NS=$WORLD_NS INET_NS=$INET_NS SBX_TEST_CA=$SBX_TEST_CA"

# dnsmasq logs asynchronously to its file only in log-async mode (off), but allow it a moment.
log_has() { # file, fixed string
	local i
	for ((i = 0; i < 20; i++)); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.05
	done
	return 1
}

got=$(in_world dig @198.51.100.53 +time=2 +tries=1 +short pypi.org A 2>&1)
[ "$got" = 198.51.100.10 ] && pass dns || fail dns "pypi.org gave '$got', want 198.51.100.10"
log_has "$WORLD_DIR/dns.log" "query[A] pypi.org from 192.0.2.2" && pass dns_log ||
	fail dns_log "dns.log does not show the query"

got=$(in_world dig @198.51.100.53 +time=2 +tries=1 +tcp +short v6only.example AAAA 2>&1)
[ "$got" = 2001:db8:100::10 ] && pass dns_aaaa_tcp || fail dns_aaaa_tcp "v6only.example AAAA gave '$got'"

got=$(in_world dig @198.51.100.53 +time=2 +tries=1 no-such-name.example A 2>&1)
grep -q 'status: NXDOMAIN' <<<"$got" && pass dns_nxdomain ||
	fail dns_nxdomain "$(grep -m1 status: <<<"$got" || echo "$got")"

got=$(in_world curl -sS --max-time 3 --resolve pypi.org:80:198.51.100.10 http://pypi.org/ 2>&1)
[ "$got" = "origin host=pypi.org addr=198.51.100.10 port=80 scheme=http uri=/" ] && pass http ||
	fail http "got '$got'"
log_has "$WORLD_DIR/access.log" "198.51.100.10 pypi.org GET / HTTP/1.1" && pass access_log ||
	fail access_log "access.log does not show the request"

got=$(in_world curl -sS --max-time 3 --cacert "$SBX_TEST_CA" \
	--resolve api.github.com:443:198.51.100.13 https://api.github.com/repos 2>&1)
[[ $got == "origin host=api.github.com addr=198.51.100.13 port=443 scheme=https"* ]] &&
	pass https || fail https "got '$got'"

got=$(in_world curl -sS --max-time 3 --cacert "$SBX_TEST_CA" https://203.0.113.66/ 2>&1)
[[ $got == "origin host=203.0.113.66 "* ]] && pass https_ip_san || fail https_ip_san "got '$got'"

got=$(in_world curl -sS --max-time 3 http://198.51.100.20:8080/ 2>&1)
[[ $got == *"port=8080"* ]] && pass http_8080 || fail http_8080 "got '$got'"

got=$(in_world curl -sS --max-time 3 'http://[2001:db8:100::10]/' 2>&1)
[[ $got == *"addr=2001:db8:100::10 "* ]] && pass http_ipv6 || fail http_ipv6 "got '$got'"

got=$(echo sbx-echo | in_world socat -T2 - TCP:198.51.100.10:7 2>&1)
[ "$got" = sbx-echo ] && pass tcp_echo || fail tcp_echo "got '$got'"
log_has "$WORLD_DIR/tcp.log" "on AF=2 198.51.100.10:7" && pass tcp_log ||
	fail tcp_log "tcp.log does not show the connection"

got=$(echo sbx-udp | in_world socat -T2 - UDP:198.51.100.10:9999 2>&1)
[ "$got" = sbx-udp ] && pass udp_echo || fail udp_echo "got '$got'"
log_has "$WORLD_DIR/udp.log" "udp 198.51.100.10:9999 from 192.0.2.2:" && pass udp_log ||
	fail udp_log "udp.log does not show the datagram"

in_world ping -c1 -W2 198.51.100.10 >/dev/null 2>&1 && pass ping || fail ping "no reply from 198.51.100.10"

# The shared-address origin: one address, a certificate and a virtual host per name, chosen by
# SNI and by Host; cdn.log shows every name it was shown.
CDN=$WORLD_CDN_ADDR
got=$(in_world dig @198.51.100.53 +time=2 +tries=1 +short cdn-allowed.example cdn-evil.example 2>&1 | tr '\n' ' ')
[ "$got" = "$CDN $CDN " ] && pass cdn_dns || fail cdn_dns "got '$got'"
for name in cdn-allowed.example cdn-evil.example; do
	got=$(in_world curl -sS --max-time 3 --cacert "$SBX_TEST_CA" --resolve "$name:443:$CDN" \
		-w ' cert=%{certs}' "https://$name/x" 2>&1)
	[[ $got == "cdn vhost=$name host=$name sni=$name scheme=https uri=/x"* ]] && pass "cdn_tls_$name" ||
		fail "cdn_tls_$name" "got '${got:0:200}'"
	log_has "$WORLD_DIR/cdn.log" "sni=$name seen=$name" && pass "cdn_log_sni_$name" ||
		fail "cdn_log_sni_$name" "cdn.log: $(tail -3 "$WORLD_DIR/cdn.log")"
	got=$(in_world curl -sS --max-time 3 -H "Host: $name" "http://$CDN/y" 2>&1)
	[[ $got == "cdn vhost=$name host=$name sni= scheme=http uri=/y" ]] && pass "cdn_http_$name" ||
		fail "cdn_http_$name" "got '$got'"
	log_has "$WORLD_DIR/cdn.log" "http vhost=$name host=$name sni=- GET /y" && pass "cdn_log_http_$name" ||
		fail "cdn_log_http_$name" "cdn.log: $(tail -3 "$WORLD_DIR/cdn.log")"
done
# each name's certificate names only that name
got=$(echo | in_world openssl s_client -connect "$CDN:443" -servername cdn-evil.example 2>/dev/null |
	openssl x509 -noout -ext subjectAltName 2>&1 | tr -d ' \n')
[ "$got" = "X509v3SubjectAlternativeName:DNS:cdn-evil.example" ] && pass cdn_cert_per_name ||
	fail cdn_cert_per_name "got '$got'"
got=$(in_world curl -sS --max-time 3 -H "Host: other.example" "http://$CDN/" 2>&1)
[[ $got == "cdn vhost=none host=other.example"* ]] && pass cdn_unknown_vhost || fail cdn_unknown_vhost "got '$got'"

got=$( (sleep 0.3; echo sbx-banner-echo) | in_world socat -T2 - "TCP:$WORLD_BANNER" 2>&1 | tr '\n' ' ')
[ "$got" = "SSH-2.0-sbx-world-banner sbx-banner-echo " ] && pass banner_speaks_first || fail banner_speaks_first "got '$got'"

bash "$WORLD" dns-stop "$W"
got=$(in_world dig @198.51.100.53 +time=1 +tries=1 +short pypi.org A 2>&1)
bash "$WORLD" dns-cont "$W"
[[ $got == *"timed out"* ]] && pass dns_stop || fail dns_stop "a stopped dnsmasq answered: '$got'"
got=$(in_world dig @198.51.100.53 +time=2 +tries=1 +short pypi.org A 2>&1)
[ "$got" = 198.51.100.10 ] && pass dns_cont || fail dns_cont "got '$got'"

# Every address the DNS server hands out must be one inet owns (127.0.0.1 is its own loopback).
missing=""
owned=$(ip -n "$INET_NS" -o addr show)
while read -r _ addr; do
	[ "$addr" = 127.0.0.1 ] && continue
	grep -qF " $addr/" <<<"$owned" || missing="$missing $addr"
done < <(awk '!/^[ \t]*(#|$)/ { print $1, $2 }' scripts/world/names)
[ -z "$missing" ] && pass inet_owns_all || fail inet_owns_all "not assigned in inet:$missing"

# world: lo and the veth to inet, nothing else; everything leaves through inet.
links=$(ip -n "$WORLD_NS" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' ')
want=$(printf '%s\n' lo "${W}wi0" | sort | tr '\n' ' ')
[ "$links" = "$want" ] && pass world_links || fail world_links "world has: $links"
got=$(ip -n "$WORLD_NS" route get 8.8.8.8 2>&1)
[[ $got == *"via 192.0.2.1 dev ${W}wi0"* ]] && pass world_route || fail world_route "$got"
got=$(ip -n "$WORLD_NS" -6 route get 2001:4860:4860::8888 2>&1)
[[ $got == *"via 2001:db8:77::1 dev ${W}wi0"* ]] && pass world_route6 || fail world_route6 "$got"

# inet: connected routes only (and any return route into world); no default, no forwarding.
bad=$(ip -n "$INET_NS" route show; ip -n "$INET_NS" -6 route show)
bad=$(grep -E '^default|via' <<<"$bad" | grep -v "via 192.0.2.2 \|via 2001:db8:77::2 ")
[ -z "$bad" ] && pass inet_no_route_out || fail inet_no_route_out "$bad"
fwd=$(nsenter --net=/var/run/netns/"$INET_NS" sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding 2>&1 | tr '\n' ' ')
[ "$fwd" = "0 0 " ] && pass inet_no_forward || fail inet_no_forward "forwarding: $fwd"

dir=$WORLD_DIR
bash "$WORLD" down "$W"
rc=$?
left=$(ip netns list | grep -E "^($W-world|$W-inet)( |$)")
if [ $rc = 0 ] && [ -z "$left" ] && [ ! -e "$dir" ]; then
	pass down
else
	fail down "rc=$rc, left: ${left:-no netns} $([ -e "$dir" ] && echo "$dir")"
fi
bash "$WORLD" down "$W" && pass down_idempotent || fail down_idempotent "second down failed"

exit $failed
