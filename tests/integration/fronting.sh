#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 6's attacks, performed from inside a sandbox against the test world's shared-address
# origin (one address, TLS names and HTTP virtual hosts cdn-allowed.example and
# cdn-evil.example; scripts/world.sh): a sandbox allowed one tenant of a shared address must
# never reach another through either proxy path (silence past a timer, split or doubled SNI,
# a first flight the sniffer rejects, a second request on a kept-alive connection), nor the
# host's own services, another sandbox, or sbx's own listeners; an address deny rule holds for
# names that resolve into it; a slow resolver cannot take sbxd down; and a server that speaks
# first still works. Each check asserts what the sandboxed program got and, where there is one,
# what the origin was shown (WORLD_DIR/cdn.log: every SNI and every Host it saw).
# Root only; everything runs in namespaces this script creates and removes, by name.
# Prints "PASS fronting.<check>" or "FAIL fronting.<check>: why"; exit 1 if any check failed.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -b "$NETTOOL" fronting f ip nsenter curl dig socat openssl
# sbxd's ports (user/egress.h defaults) and the host service the host-address checks aim at
FWD_PORT=3128 TP_PORT=3129 DNS_PORT=3153 HOST_PORT=18091 SB_PORT=18092

P() { pass "fronting.$1"; }
F() {
	fail "fronting.$1" "$2"
}
# nettool talk from the sandbox (tests/tools/nettool.c lists the steps).
TALK() { X "$NETTOOL" talk "$@"; }
# The same, first resolving NAME through the sandbox's resolver, so sbx has handed out the
# name of the address the transparent connection then dials: TP NAME IP PORT STEP...
TP() {
	local name=$1
	shift
	X sh -c 'dig +short +time=2 +tries=1 "$0" >/dev/null; t=$1; shift; exec "$t" talk "$@"' \
		"$name" "$NETTOOL" "$@"
}

cleanup() {
	bash scripts/world.sh dns-cont "$W" >/dev/null 2>&1
	integ_cleanup t1 t2
}
integ_traps
integ_world_up
CDN=$WORLD_CDN_ADDR
CDNLOG=$WORLD_DIR/cdn.log
BANNER_IP=${WORLD_BANNER%:*} BANNER_PORT=${WORLD_BANNER#*:}

# The origin was not shown PATTERN (default: the forbidden tenant) since MARK. The front logs
# a first flight as soon as it is complete or the connection ends: give it a moment.
unseen() { # MARK [PATTERN]
	sleep 0.3
	! since "$CDNLOG" "$1" | grep -q -- "${2:-evil}"
}
seen() { # MARK PATTERN
	wait_for -n 20 sh -c 'tail -n +"$(($2 + 1))" "$1" | grep -q -- "$3"' _ "$CDNLOG" "$1" "$2"
}
# The attack was made (the tool connected and played its steps: a refused CONNECT shows as
# connect=403), and what the sandboxed program got was not the forbidden tenant: no TLS server
# answer, no page (a 403 page naming it is fine).
not_served() { [[ $OUT == "ok end="* && $OUT != *tls=server-hello* && $OUT != *vhost=cdn-evil* ]]; }
# A shortened transcript for FAIL lines.
brief() { tr '\n' ' ' <<<"$OUT" | cut -c1-300; }

# ---- setup: Balanced plus one tenant of the shared address, and the banner service ----------
S policy set-default balanced >/dev/null &&
	S policy allow network cdn-allowed.example >/dev/null &&
	S policy allow network "$BANNER_IP:$BANNER_PORT" >/dev/null || {
	echo "FAIL fronting.setup: cannot set the policy"
	exit 1
}
for sb in t1 t2; do
	if ! out=$(S run "$sb" -- true 2>&1); then
		echo "FAIL fronting.setup: sbx run $sb: $out"
		exit 1
	fi
done
GW=$(sb_field t1 gateway)
T2IP=$(sb_field t2 ip)
[[ $GW =~ ^[0-9.]+$ && $T2IP =~ ^[0-9.]+$ ]] || {
	echo "FAIL fronting.setup: no gateway or address in sbx ls ($GW, $T2IP)"
	exit 1
}
SBXD=$(daemon_pid)
P setup

# ---- controls: the allowed tenant is reachable the same ways ----------------------------------
m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT connect=cdn-allowed.example:443 sleep=1500 hello=cdn-allowed.example read=1500
[[ $OUT == *tls=server-hello* && $OUT == *cdn-allowed.example* ]] && seen "$m" "sni=cdn-allowed.example " &&
	P control_forward_tls_after_silence || F control_forward_tls_after_silence "$(brief)"
m=$(mark "$CDNLOG")
TP cdn-allowed.example "$CDN" 443 hello=cdn-allowed.example read=1500
[[ $OUT == *tls=server-hello* && $OUT == *cdn-allowed.example* ]] && seen "$m" "sni=cdn-allowed.example " &&
	P control_transparent_tls || F control_transparent_tls "$(brief)"
X curl -s -m 5 --noproxy '*' http://cdn-allowed.example/control
[[ $OUT == *"cdn vhost=cdn-allowed.example"*"uri=/control"* ]] && P control_transparent_http ||
	F control_transparent_http "$(brief)"
X curl -s -m 5 --cacert "$CA" https://cdn-allowed.example/control-connect
[[ $OUT == *"cdn vhost=cdn-allowed.example"*"scheme=https"* ]] && P control_forward_connect_curl ||
	F control_forward_connect_curl "$(brief)"

# ---- b (long): transparent silence past both timers, in the background -------------------------
# Started now and judged later, so the 11 s of silence overlap the other checks. The only TLS
# attack in flight meanwhile is this one; the HTTP one carries its own path.
in_world env "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" exec t1 -- sh -c \
	'dig +short +time=2 +tries=1 cdn-allowed.example >/dev/null; exec "$0" talk "$1" 443 sleep=11000 hello=cdn-evil.example read=2000' \
	"$NETTOOL" "$CDN" </dev/null >"$T/long-tls.out" 2>&1 &
LONG_TLS=$!
BG_PIDS+=("$LONG_TLS")
in_world env "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" exec t1 -- sh -c \
	'dig +short +time=2 +tries=1 cdn-allowed.example >/dev/null; exec "$0" talk "$1" 80 sleep=11000 "send=GET /long-silence HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=2000' \
	"$NETTOOL" "$CDN" </dev/null >"$T/long-http.out" 2>&1 &
LONG_HTTP=$!
BG_PIDS+=("$LONG_HTTP")
long_mark=$(mark "$CDNLOG")

# ---- d: a second request on a kept-alive connection (HTTP only: attributable by path) ----------
UP='Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2J4LXRlc3Qtbm9uY2UtMTIzNA==\r\n'
m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT "send=GET http://cdn-allowed.example/d-fwd-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n$UP\r\n" \
	read=1000 "send=GET http://cdn-evil.example/d-fwd-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=1500
[[ $OUT == *"cdn vhost=cdn-allowed.example"*"uri=/d-fwd-first"* ]] && [[ $OUT != *"vhost=cdn-evil"* ]] &&
	unseen "$m" d-fwd-second && P smuggle_forward_after_upgrade || F smuggle_forward_after_upgrade "$(brief)"

m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT "send=GET http://cdn-allowed.example/d-fwd-o-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n$UP\r\n" \
	read=1000 "send=GET /d-fwd-o-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=1500
[[ $OUT == "ok end="* && $OUT != *"vhost=cdn-evil"* ]] && unseen "$m" d-fwd-o-second && P smuggle_forward_origin_form_after_upgrade ||
	F smuggle_forward_origin_form_after_upgrade "$(brief)"

m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT "send=GET http://cdn-allowed.example/d-fwd-p-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n$UP\r\nGET http://cdn-evil.example/d-fwd-p-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=2000
[[ $OUT == *"uri=/d-fwd-p-first"* && $OUT != *"vhost=cdn-evil"* ]] && unseen "$m" d-fwd-p-second && P smuggle_forward_pipelined ||
	F smuggle_forward_pipelined "$(brief)"

m=$(mark "$CDNLOG")
TP cdn-allowed.example "$CDN" 80 "send=GET /d-tp-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n$UP\r\n" \
	read=1000 "send=GET /d-tp-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=1500
[[ $OUT == *"cdn vhost=cdn-allowed.example"*"uri=/d-tp-first"* ]] && [[ $OUT != *"vhost=cdn-evil"* ]] &&
	unseen "$m" d-tp-second && P smuggle_transparent_after_upgrade || F smuggle_transparent_after_upgrade "$(brief)"

m=$(mark "$CDNLOG")
TP cdn-allowed.example "$CDN" 80 "send=GET /d-tp-p-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n$UP\r\nGET /d-tp-p-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=2000
[[ $OUT == *"uri=/d-tp-p-first"* && $OUT != *"vhost=cdn-evil"* ]] && unseen "$m" d-tp-p-second && P smuggle_transparent_pipelined ||
	F smuggle_transparent_pipelined "$(brief)"

# without Upgrade, a second request is decided on its own too
m=$(mark "$CDNLOG")
TP cdn-allowed.example "$CDN" 80 "send=GET /d-ka-first HTTP/1.1\r\nHost: cdn-allowed.example\r\n\r\n" \
	read=1000 "send=GET /d-ka-second HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n" read=1500
[[ $OUT == *"uri=/d-ka-first"* && $OUT != *"vhost=cdn-evil"* ]] && unseen "$m" d-ka-second && P smuggle_transparent_keepalive ||
	F smuggle_transparent_keepalive "$(brief)"

# ---- j: a server that speaks first, under an address rule ---------------------------------------
# the banner must come before the client says anything
TALK "$BANNER_IP" "$BANNER_PORT" read=2500 expect=SSH-2.0-sbx-world-banner "send=ping-after-banner\n" read=1500
[[ $OUT == "ok end="* && $OUT != *stopped=* && $OUT == *"SSH-2.0-sbx-world-banner"*"ping-after-banner"* ]] &&
	P server_speaks_first_raw_tcp ||
	F server_speaks_first_raw_tcp "$(brief)"

# ---- the long silences, judged ----------------------------------------------------------------
wait "$LONG_TLS"
wait "$LONG_HTTP"
OUT=$(cat "$T/long-tls.out")
long_new=$(since "$CDNLOG" "$long_mark")
not_served && ! grep -q '^tls .*evil' <<<"$long_new" && P transparent_tls_after_11s_silence ||
	F transparent_tls_after_11s_silence "$(brief) origin: $(grep '^tls .*evil' <<<"$long_new")"
OUT=$(cat "$T/long-http.out")
not_served && ! grep -q 'long-silence' <<<"$long_new" && P transparent_http_after_11s_silence ||
	F transparent_http_after_11s_silence "$(brief)"

# ---- a: forward proxy, CONNECT to the allowed tenant, ClientHello for the other ----------------
fwd_tls() { # NAME STEP...: one attack through CONNECT cdn-allowed.example:443
	local name=$1 m
	shift
	m=$(mark "$CDNLOG")
	TALK "$GW" $FWD_PORT connect=cdn-allowed.example:443 "$@" read=1500
	not_served && unseen "$m" && P "$name" || F "$name" "$(brief) origin: $(since "$CDNLOG" "$m" | tr '\n' ' ')"
}
fwd_tls forward_sni_after_silence sleep=1500 hello=cdn-evil.example
fwd_tls forward_sni_at_once hello=cdn-evil.example
fwd_tls forward_sni_one_byte_segments chunk=1 gap=4 hello=cdn-evil.example
fwd_tls forward_sni_two_records records=2 hello=cdn-evil.example
fwd_tls forward_sni_silence_then_segments sleep=1500 records=3 chunk=7 gap=20 hello=cdn-evil.example

# ---- b: transparent, to the allowed tenant's address, then another name -------------------------
tp_attack() { # NAME PORT STEP...
	local name=$1 port=$2 m
	shift 2
	m=$(mark "$CDNLOG")
	TP cdn-allowed.example "$CDN" "$port" "$@" read=1500
	not_served && unseen "$m" && P "$name" || F "$name" "$(brief) origin: $(since "$CDNLOG" "$m" | tr '\n' ' ')"
}
tp_attack transparent_tls_after_1500ms_silence 443 sleep=1500 hello=cdn-evil.example
tp_attack transparent_tls_one_byte_segments 443 chunk=1 gap=4 hello=cdn-evil.example
tp_attack transparent_tls_two_records 443 records=2 hello=cdn-evil.example
tp_attack transparent_http_after_1500ms_silence 80 sleep=1500 'send=GET /b-http HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n'
# a first flight the sniffer rejects, then the real one: never relayed blind
tp_attack transparent_garbage_then_tls 443 'send=\x00\x01\x02garbage\r\n' sleep=300 hello=cdn-evil.example
tp_attack transparent_bad_record_then_tls 443 'send=\x16\x03\x01\x00\x04\x01\x00\x00\x00' sleep=300 hello=cdn-evil.example
tp_attack transparent_garbage_then_http 80 'send=\x01\x02\x03 \r\n\r\n' sleep=300 'send=GET /b-garbage HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n'
tp_attack transparent_http_to_tls_port 443 'send=GET /b-tlsport HTTP/1.1\r\nHost: cdn-evil.example\r\n\r\n'

# ---- c: two host names in one ClientHello (and two server_name extensions) -----------------------
fwd_tls forward_two_sni_evil_first hello=cdn-evil.example,cdn-allowed.example
fwd_tls forward_two_sni_allowed_first hello=cdn-allowed.example,cdn-evil.example
fwd_tls forward_two_sni_extensions hello2=cdn-allowed.example,cdn-evil.example
tp_attack transparent_two_sni_evil_first 443 hello=cdn-evil.example,cdn-allowed.example
tp_attack transparent_two_sni_allowed_first 443 hello=cdn-allowed.example,cdn-evil.example
tp_attack transparent_two_sni_extensions 443 hello2=cdn-allowed.example,cdn-evil.example

# no server name at all on a connection opened for a name: the origin would pick its default
m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT connect=cdn-allowed.example:443 hello=- read=1500
not_served && unseen "$m" "sni=-" && P forward_no_sni || F forward_no_sni "$(brief) origin: $(since "$CDNLOG" "$m")"
m=$(mark "$CDNLOG")
TP cdn-allowed.example "$CDN" 443 hello=- read=1500
not_served && unseen "$m" "sni=-" && P transparent_no_sni || F transparent_no_sni "$(brief) origin: $(since "$CDNLOG" "$m")"

# the origin still answers and logs (the "never saw" checks above are worth something)
m=$(mark "$CDNLOG")
TALK "$GW" $FWD_PORT connect=cdn-allowed.example:443 hello=cdn-allowed.example read=1500
[[ $OUT == *tls=server-hello* ]] && seen "$m" "sni=cdn-allowed.example " && P control_origin_still_logging ||
	F control_origin_still_logging "$(brief)"

# the refusals above are verdicts in the log, with a reason, on each path (the host logged
# may be the name the connection was opened for or the one the client sent)
blocked_paths=$(S policy log t1 --json | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted({e["proxy_type"] for e in d["blocked_hosts"]
                       if e["host"].startswith("cdn-") and e["reason"]})))' 2>&1)
[[ " $blocked_paths " =~ \ forward(-bypass)?\  && " $blocked_paths " == *" transparent "* ]] &&
	P refusals_logged_both_paths || F refusals_logged_both_paths "cdn-* blocked on: '$blocked_paths'"

# ---- e, f, g: under '**' -------------------------------------------------------------------------
S policy allow network '**' >/dev/null || F setup_allow_all "cannot allow '**'"

# e: a service on 0.0.0.0 in the namespace sbxd runs in
integ_host_service 'host-secret\n'
in_world socat -lf "$T/host-service.log" -d -d "TCP-LISTEN:$HOST_PORT,bind=0.0.0.0,fork,reuseaddr" \
	EXEC:"$T/host-service" >/dev/null 2>&1 &
BG_PIDS+=("$!")
wait_for in_world sh -c "ss -Hltn | grep -q '0.0.0.0:$HOST_PORT '" || F host_service_setup "not listening"
REQ='send=GET / HTTP/1.1\r\nHost: x\r\n\r\n'
host_refused() { # NAME STEP...: TALK ARGS, refused = no host-secret and no 200 to a CONNECT
	local name=$1
	shift
	TALK "$@"
	[[ $OUT == "ok end="* && $OUT != *host-secret* && $OUT != *connect=200* ]] && P "$name" ||
		F "$name" "$(brief)"
}
for a in "$WORLD_LINK4" "$GW"; do
	host_refused "host_addr_transparent_$a" "$a" $HOST_PORT "$REQ" read=1500
	host_refused "host_addr_connect_$a" "$GW" $FWD_PORT "connect=$a:$HOST_PORT" "$REQ" read=1500
	host_refused "host_addr_forward_http_$a" "$GW" $FWD_PORT "send=GET http://$a:$HOST_PORT/ HTTP/1.1\r\nHost: $a:$HOST_PORT\r\n\r\n" read=1500
done
host_refused host_addr_forward_http_loopback "$GW" $FWD_PORT "send=GET http://127.0.0.1:$HOST_PORT/ HTTP/1.1\r\nHost: 127.0.0.1:$HOST_PORT\r\n\r\n" read=1500
host_refused host_addr_connect_loopback "$GW" $FWD_PORT "connect=127.0.0.1:$HOST_PORT" "$REQ" read=1500
S policy allow network "${WORLD_LINK4%.*}.0/24" >/dev/null
host_refused host_addr_transparent_under_cidr "$WORLD_LINK4" $HOST_PORT "$REQ" read=1500
host_refused host_addr_connect_under_cidr "$GW" $FWD_PORT "connect=$WORLD_LINK4:$HOST_PORT" "$REQ" read=1500
S policy rm network --resource "${WORLD_LINK4%.*}.0/24" >/dev/null
S policy allow network "localhost:$HOST_PORT" >/dev/null
X curl -s -m 5 "http://host.docker.internal:$HOST_PORT/"
[[ $OUT == *host-secret* ]] && P host_service_with_localhost_rule || F host_service_with_localhost_rule "$(brief)"
X curl -s -m 5 --noproxy '*' "http://host.docker.internal:$HOST_PORT/"
[[ $OUT == *host-secret* ]] && P host_service_with_localhost_rule_transparent ||
	F host_service_with_localhost_rule_transparent "$(brief)"
S policy rm network --resource "localhost:$HOST_PORT" >/dev/null

# f: a listener in sandbox t2, dialled from t1; its log in a directory of nobody's, whom t2's
# root is in its workspace $PUB
WR=$PUB/w
mkdir -m 755 "$WR" && chown 65534:65534 "$WR"
in_world env "${ENVV[@]}" timeout -k 5 100 "$SBX_BIN" exec t2 -- socat -d -d -lf "$WR/t2-listener.log" \
	"TCP4-LISTEN:$SB_PORT,fork,reuseaddr" SYSTEM:'echo sandbox-b-secret' </dev/null >/dev/null 2>&1 &
BG_PIDS+=("$!")
wait_for sh -c "grep -q listening '$WR/t2-listener.log'" || F other_sandbox_setup "t2's listener did not start"
sb_refused() { # NAME STEP...
	local name=$1
	shift
	TALK "$@"
	[[ $OUT == "ok end="* && $OUT != *sandbox-b-secret* && $OUT != *connect=200* ]] && P "$name" ||
		F "$name" "$(brief)"
}
for rule in '**' "${T2IP%.*}.0/24"; do
	tag=all
	if [ "$rule" != '**' ]; then
		tag=cidr
		S policy allow network "$rule" >/dev/null
	fi
	sb_refused "other_sandbox_direct_$tag" "$T2IP" $SB_PORT read=1500
	sb_refused "other_sandbox_connect_$tag" "$GW" $FWD_PORT "connect=$T2IP:$SB_PORT" read=1500
	sb_refused "other_sandbox_forward_http_$tag" "$GW" $FWD_PORT "send=GET http://$T2IP:$SB_PORT/ HTTP/1.1\r\nHost: $T2IP:$SB_PORT\r\n\r\n" read=1500
	[ "$rule" != '**' ] && S policy rm network --resource "$rule" >/dev/null
done
! grep -q 'accepting connection' "$WR/t2-listener.log" && P other_sandbox_listener_untouched ||
	F other_sandbox_listener_untouched "$(grep 'accepting' "$WR/t2-listener.log" | head -3)"

# g: sbx's own listeners are never dialled by its proxy
for port in $FWD_PORT $TP_PORT $DNS_PORT; do
	for a in "$GW" 127.0.0.1; do
		TALK "$GW" $FWD_PORT "connect=$a:$port" "send=GET http://cdn-allowed.example/g-loop HTTP/1.1\r\nHost: cdn-allowed.example\r\n\r\n" read=1500
		[[ $OUT == "ok end="* && $OUT != *connect=200* && $OUT != *"vhost="* ]] &&
			P "own_listener_connect_${a}_$port" ||
			F "own_listener_connect_${a}_$port" "$(brief)"
	done
done
TALK "$GW" $FWD_PORT "send=GET http://$GW:$FWD_PORT/ HTTP/1.1\r\nHost: $GW:$FWD_PORT\r\n\r\n" read=1500
[[ $OUT == *" 403 "* || $OUT == *end=reset* ]] && P own_listener_forward_http || F own_listener_forward_http "$(brief)"

# ---- h: an address deny rule holds for a name that resolves into it --------------------------------
S policy deny network "$CDN" >/dev/null || F address_deny_setup "sbx policy deny network $CDN"
m=$(mark "$CDNLOG")
X curl -s -m 5 http://cdn-allowed.example/h-forward
[[ $OUT != *"vhost="* ]] && unseen "$m" h-forward && P address_deny_forward_http || F address_deny_forward_http "$(brief)"
X curl -s -m 5 --noproxy '*' http://cdn-allowed.example/h-transparent
[[ $OUT != *"vhost="* ]] && unseen "$m" h-transparent && P address_deny_transparent_http ||
	F address_deny_transparent_http "$(brief)"
m=$(mark "$CDNLOG")
X curl -s -m 5 --cacert "$CA" https://cdn-allowed.example/h-connect
[[ $OUT != *"vhost="* ]] && unseen "$m" . && P address_deny_forward_connect || F address_deny_forward_connect "$(brief)"
m=$(mark "$CDNLOG")
X curl -s -m 5 --noproxy '*' --cacert "$CA" https://cdn-allowed.example/h-tls
[[ $OUT != *"vhost="* ]] && unseen "$m" . && P address_deny_transparent_tls || F address_deny_transparent_tls "$(brief)"
S policy rm network --resource "$CDN" >/dev/null

# ---- i: a slow resolver while head timers fire ---------------------------------------------------
# The proxy resolves a transparent TLS connection's name when its ClientHello comes; with the
# upstream stopped each lookup pends (3 tries of 1.5 s), so hellos sent 6-9.7 s after the
# connect are still being resolved when the 10 s head timer fires. Names are fresh (no cached
# answer): under *.exfil.example the world answers every name. The upstream is continued once
# every lookup has timed out (by 15 s), and late answers to the last tries then arrive too.
SBXD=$(daemon_pid)
tag=$$
names=()
for k in 1 2 3 4 5 6; do names+=("r$k-$tag.exfil.example"); done
# half of them handed out to the sandbox first, so the transparent path knows them by name
X dig +short +time=2 +tries=1 "${names[@]:0:3}" >/dev/null
bash scripts/world.sh dns-stop "$W" || F slow_resolver_setup "dns-stop"
k=0
I_PIDS=()
for n in "${names[@]}"; do
	k=$((k + 1))
	in_world env "${ENVV[@]}" timeout -k 5 40 "$SBX_BIN" exec t1 -- "$NETTOOL" talk 203.0.113.99 443 \
		"sleep=$((5500 + k * 700))" "hello=$n" read=6000 </dev/null >/dev/null 2>&1 &
	I_PIDS+=("$!")
done
in_world env "${ENVV[@]}" timeout -k 5 40 "$SBX_BIN" exec t1 -- "$NETTOOL" talk "$GW" $FWD_PORT \
	"connect=f-$tag.exfil.example:443" read=3000 </dev/null >/dev/null 2>&1 &
I_PIDS+=("$!")
BG_PIDS+=("${I_PIDS[@]}")
sleep 15
bash scripts/world.sh dns-cont "$W" || F slow_resolver_setup "dns-cont"
# the clients end by themselves (at most 40 s), then their sessions are gone too
for p in "${I_PIDS[@]}"; do wait "$p"; done
sleep 1
# kill -0 first: any sbx command would start a new sbxd on demand
kill -0 "$SBXD" 2>/dev/null && ! pid_dead "$SBXD" && P slow_resolver_sbxd_alive ||
	F slow_resolver_sbxd_alive "sbxd $SBXD is gone; its log ends: $(tail -n 5 "$T/run/sbxd.log" 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
SB=t2 X curl -s -m 5 http://cdn-allowed.example/i-after
[[ $OUT == *"vhost=cdn-allowed.example"* ]] && [ "$(daemon_pid)" = "$SBXD" ] && P slow_resolver_others_served ||
	F slow_resolver_others_served "$(brief) (sbxd $SBXD, now $(daemon_pid))"
grep -q "ERROR: AddressSanitizer\|runtime error:" "$T/run/sbxd.log" 2>/dev/null &&
	grep -m1 -A12 "ERROR: AddressSanitizer\|runtime error:" "$T/run/sbxd.log" | sed 's/^/    | /'

finish
