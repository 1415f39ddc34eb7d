#!/bin/bash
# SPDX-License-Identifier: MIT
# The test world: two network namespaces in which integration tests, demos and benchmarks run,
# so that no packet they send can reach anything but loopback and hosts we made (see DESIGN.md,
# "The test world — network safety").
#
#   NAME-world  where sbxd runs; lo plus one veth, whose far end is its whole "internet"
#   NAME-inet   that internet: owns every address a test dials (scripts/world/names) and runs
#               the origins on them: nginx (HTTP 80/8080, HTTPS 443 with a test CA), TCP echo
#               on 7 and 22, UDP echo on 5353 and 9999, dnsmasq on 198.51.100.53:53, a
#               server-speaks-first service (an SSH-like banner, then echo) on
#               198.51.100.30:2222, and a shared-address origin (below).
#               It has no default route and does not forward, so anything else dies here.
#
# The shared-address origin, like a CDN: one address (CDN_ADDR) serves every name that
# scripts/world/names gives that address, as HTTP virtual hosts on :80 and as TLS names on :443
# with one certificate per name (from the world CA), chosen by SNI the way OpenSSL servers do:
# by the first host_name entry. Each virtual host answers "cdn vhost=NAME host=... sni=...".
# cdn.log in WORLD_DIR records everything this origin was shown: one "http vhost=NAME host=HOST
# sni=SNI REQUEST" line per HTTP request (TLS or not), and one "tls peer=... sni=... seen=..."
# line per TLS connection, written by its front (scripts/world/sni-front.py) from the client's
# first flight before it is relayed, so "the origin never saw NAME" is "NAME is not in cdn.log".
#
# usage: world.sh up NAME | down NAME | env NAME | exec NAME {world|inet} CMD [ARG...]
#        world.sh dns-stop NAME | dns-cont NAME
# NAME is 1-6 letters or digits; every name the world creates in shared kernel namespaces
# derives from it, so several worlds coexist. State lives in ${WORLD_DIR:-/tmp/sbx-world-NAME}.
# Each origin logs what reached it: access.log, tcp.log, udp.log, dns.log in WORLD_DIR.
# "env" prints the export line tests eval; "exec" runs a command in a namespace with those
# variables set (through nsenter, so /sys/fs/cgroup and bpffs stay visible to sbxd).
# Optional at "up": WORLD_SANDBOX_NETS="CIDR ..." gives inet return routes into world for
# sandbox address pools. DNS answers for exact names come from WORLD_DIR/hosts: edit it and
# send SIGHUP to the pid in WORLD_DIR/dnsmasq.pid to change one (e.g. for rebinding tests).
# dns-stop and dns-cont stop (SIGSTOP) and continue the world's DNS server, to make the
# upstream resolver as slow as a test needs; down continues it before stopping it.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF=$HERE/world

# The veth link is TEST-NET-1; inet is the world's gateway.
readonly INET_LINK4=192.0.2.1 WORLD_LINK4=192.0.2.2 LINK4_LEN=30
readonly INET_LINK6=2001:db8:77::1 WORLD_LINK6=2001:db8:77::2 LINK6_LEN=64
readonly DNS_ADDR=198.51.100.53 DNS_PORT=53
readonly TCP_PORTS="80 443 8080 7 22 53" UDP_PORTS="53 5353 9999"
# The shared-address origin: its address, and where nginx serves its TLS names behind the
# front. The server-speaks-first service.
readonly CDN_ADDR=203.0.113.50 CDN_BACKEND=127.0.0.1:8443
readonly BANNER_ADDR=198.51.100.30 BANNER_PORT=2222
# Listeners bound to one address (ss shows them as ADDR:PORT).
readonly TCP_BINDS="$CDN_ADDR:443 $CDN_BACKEND $BANNER_ADDR:$BANNER_PORT"
# Bounds: readiness polls READY_TRIES x STEP (5 s); stopping waits STOP_TRIES x STEP for
# TERM (3 s, time for sbxd to clean up) and as long again after KILL.
readonly STEP=0.05 READY_TRIES=100 STOP_TRIES=60
readonly NETNS_DIR=/var/run/netns

usage() {
	echo "usage: world.sh up NAME | down NAME | env NAME | exec NAME {world|inet} CMD [ARG...]" >&2
	echo "       world.sh dns-stop NAME | dns-cont NAME" >&2
	echo "  NAME: 1-6 letters or digits, e.g. t123" >&2
	exit 2
}

# Sets every name the world uses from NAME.
set_names() {
	NAME=$1
	[[ $NAME =~ ^[A-Za-z0-9]{1,6}$ ]] || {
		echo "world: bad name '$NAME': use 1-6 letters or digits (interface names must fit 15)" >&2
		exit 2
	}
	WORLD_NS=$NAME-world
	INET_NS=$NAME-inet
	VETH_W=${NAME}wi0
	VETH_I=${NAME}iw0
	DIR=${WORLD_DIR:-/tmp/sbx-world-$NAME}
	DIR=${DIR%/}
	# DIR goes into sed replacements and config files, and down removes it: keep it plain.
	[[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ && ! $DIR =~ (^|/)\.\.?(/|$) ]] || {
		echo "world: bad WORLD_DIR '${WORLD_DIR:-$DIR}': use an absolute path of letters, digits and ._+-/" >&2
		exit 2
	}
	MARK=$DIR/.sbx-world
}

ns_exists() { [ -e "$NETNS_DIR/$1" ]; }

# Runs a command in a namespace. nsenter rather than "ip netns exec": that one remounts /sys,
# hiding /sys/fs/cgroup and /sys/fs/bpf from sbxd.
in_ns() {
	local ns=$1
	shift
	nsenter --net="$NETNS_DIR/$ns" -- "$@"
}

# The process's start time (clock ticks since boot): with the pid, it names one process for
# good, so down never signals a stranger that reused a recorded pid. Empty if gone.
start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# Alive and not a zombie (our daemons are orphans; PID 1 here may be slow to reap them).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Starts a daemon in the background in inet and records "label pid starttime" in DIR/pids.
spawn() {
	local label=$1 pid st
	shift
	# A simple command in the background: bash execs nsenter, which execs the daemon, so $! is
	# the daemon itself.
	nsenter --net="$NETNS_DIR/$INET_NS" -- "$@" </dev/null >>"$DIR/$label.out" 2>&1 &
	pid=$!
	st=$(start_time $pid) || st=-
	echo "$label $pid $st" >>"$DIR/pids"
}

fail() {
	echo "world: $NAME: $*" >&2
	local f
	for f in "$DIR"/*.out "$DIR/nginx-error.log"; do
		[ -s "$f" ] && sed "s|^|world: $(basename "$f"): |" "$f" | tail -n 5 >&2
	done
	teardown
	exit 1
}

# Runs a setup command; on failure, says which and why, tears down what exists, exits 1.
must() {
	local out
	out=$("$@" 2>&1) || fail "failed: $*: $out"
}

# Addresses (no names) from scripts/world/names, one a line, without duplicates.
world_addrs() {
	awk '!/^[ \t]*(#|$)/ && !seen[$2]++ { print $2 }' "$CONF/names"
}

# The names the shared-address origin serves: those scripts/world/names gives CDN_ADDR.
cdn_names() {
	awk -v a="$CDN_ADDR" '!/^[ \t]*(#|$)/ && $2 == a && $1 != "-" { print $1 }' "$CONF/names"
}

setup_net() {
	local ns a
	must ip netns add "$WORLD_NS"
	must ip netns add "$INET_NS"
	# Set before the veth exists, so its per-interface settings start from these defaults.
	# IPv4 settings of a new namespace are copied from the host's, so say every one we rely on.
	# world forwards (sandboxes will route through it, IPv6 too so escape tests mean something);
	# inet must not: it is what drops traffic to addresses we do not own. No rp_filter in inet,
	# so a leaked packet from a sandbox address still reaches the origins' logs. No DAD, so
	# addresses work at once.
	must in_ns "$WORLD_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	must in_ns "$INET_NS" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	# Created directly in the two namespaces: nothing appears on the host, even for a moment.
	must ip link add "$VETH_W" netns "$WORLD_NS" type veth peer name "$VETH_I" netns "$INET_NS"

	must ip -n "$WORLD_NS" -batch - <<-EOF
		link set lo up
		address add $WORLD_LINK4/$LINK4_LEN dev $VETH_W
		address add $WORLD_LINK6/$LINK6_LEN dev $VETH_W nodad
		link set $VETH_W up
		route add default via $INET_LINK4 dev $VETH_W
		route add default via $INET_LINK6 dev $VETH_W
	EOF

	{
		echo "link set lo up"
		echo "address add $INET_LINK4/$LINK4_LEN dev $VETH_I"
		echo "address add $INET_LINK6/$LINK6_LEN dev $VETH_I nodad"
		echo "link set $VETH_I up"
		while read -r a; do
			case $a in
			127.0.0.1) ;;
			*:*) echo "address add $a/128 dev lo nodad" ;;
			*) echo "address add $a/32 dev lo" ;;
			esac
		done < <(world_addrs)
		# Optional return routes for sandbox address pools (CIDRs, space-separated), so a
		# leaked, un-NATed connection completes and shows in the origins' logs.
		for a in ${WORLD_SANDBOX_NETS:-}; do
			case $a in
			*:*) echo "route add $a via $WORLD_LINK6 dev $VETH_I" ;;
			*) echo "route add $a via $WORLD_LINK4 dev $VETH_I" ;;
			esac
		done
	} >"$DIR/inet.ip"
	must ip -n "$INET_NS" -batch "$DIR/inet.ip"
}

make_certs() {
	local sans="" name a
	while read -r name a; do
		case $name in
		-) ;;
		\*.*) sans="$sans,DNS:${name#\*.},DNS:$name" ;;
		*) sans="$sans,DNS:$name" ;;
		esac
	done < <(awk '!/^[ \t]*(#|$)/ { print $1, $2 }' "$CONF/names")
	for a in $(world_addrs) $INET_LINK4 $INET_LINK6; do
		sans="$sans,IP:$a"
	done
	export WORLD_SANS=${sans#,}
	local cnf=$CONF/openssl.cnf ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc)
	must openssl req -config "$cnf" -x509 "${ec[@]}" -extensions ca_ext -days 30 \
		-subj "/CN=sbx test world CA ($NAME)" -keyout "$DIR/ca.key" -out "$DIR/ca.pem"
	must openssl req -config "$cnf" -new "${ec[@]}" -subj "/CN=sbx test world origin ($NAME)" \
		-keyout "$DIR/server.key" -out "$DIR/server.csr"
	must openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 30 \
		-extfile "$cnf" -extensions server_ext -out "$DIR/server.pem"
	# The shared-address origin: one certificate per name, naming only that name, so what
	# a client gets back says which virtual host the origin chose.
	for name in $(cdn_names); do
		export WORLD_SANS=DNS:$name
		must openssl req -config "$cnf" -new "${ec[@]}" -subj "/CN=$name" \
			-keyout "$DIR/cdn-$name.key" -out "$DIR/cdn-$name.csr"
		must openssl x509 -req -in "$DIR/cdn-$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
			-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 30 \
			-extfile "$cnf" -extensions server_ext -out "$DIR/cdn-$name.pem"
	done
}

write_dnsmasq_conf() {
	local name a
	{
		echo "# generated by world.sh from scripts/world/names"
		echo "no-resolv"
		echo "no-hosts"
		echo "no-poll"
		echo "bind-interfaces"
		echo "listen-address=$DNS_ADDR"
		echo "port=$DNS_PORT"
		echo "user=root"
		echo "log-queries"
		echo "log-facility=$DIR/dns.log"
		echo "pid-file=$DIR/dnsmasq.pid"
		# A realistic TTL: a proxy that remembers name->address answers for their TTL
		# would see nothing with dnsmasq's default of 0.
		echo "local-ttl=60"
		# Exact names come from a hosts file: a test may edit it and send dnsmasq SIGHUP
		# (pid in dnsmasq.pid) to change an answer, e.g. for DNS rebinding.
		echo "addn-hosts=$DIR/hosts"
		# Every other name is NXDOMAIN; there is no upstream to forward to.
		echo "address=/#/"
		while read -r name a; do
			case $name in
			# local=: other types (AAAA) under the domain get NODATA, not NXDOMAIN.
			\*.*) echo "address=/${name#\*.}/$a"; echo "local=/${name#\*.}/" ;;
			esac
		done < <(awk '!/^[ \t]*(#|$)/ { print $1, $2 }' "$CONF/names")
	} >"$DIR/dnsmasq.conf"
	awk '!/^[ \t]*(#|$)/ && $1 != "-" && $1 !~ /^\*/ { print $2, $1 }' "$CONF/names" \
		>"$DIR/hosts"
}

# nginx's generated parts: the catch-all origin's 443 listeners, one per inet address but the
# shared-address origin's (whose :443 belongs to its front), and the shared-address origin's
# virtual hosts. On :80 nginx tells the origins apart by the address a client dialled.
write_nginx_conf() {
	local a name crt
	{
		echo "# generated by world.sh"
		for a in $( (world_addrs; printf '%s\n' 127.0.0.1 ::1 $INET_LINK4 $INET_LINK6) |
			awk '!seen[$0]++'); do
			[ "$a" = "$CDN_ADDR" ] && continue
			case $a in
			*:*) echo "listen [$a]:443 ssl default_server;" ;;
			*) echo "listen $a:443 ssl default_server;" ;;
			esac
		done
	} >"$DIR/nginx-listen443.conf"
	{
		echo "# generated by world.sh: the shared-address origin's virtual hosts"
		echo "log_format cdn 'http vhost=\$server_name host=\$host sni=\$ssl_server_name \$request';"
		# A name it does not serve gets 421 from a default server, logged like the others.
		echo "server {"
		echo "	listen $CDN_ADDR:80 default_server;"
		echo "	listen $CDN_BACKEND ssl default_server;"
		echo "	server_name none;"
		echo "	access_log $DIR/cdn.log cdn;"
		echo "	ssl_certificate $DIR/server.pem;"
		echo "	ssl_certificate_key $DIR/server.key;"
		echo "	location / { return 421 \"cdn vhost=none host=\$host sni=\$ssl_server_name\\n\"; }"
		echo "}"
		for name in $(cdn_names); do
			crt=$DIR/cdn-$name
			echo "server {"
			echo "	listen $CDN_ADDR:80;"
			echo "	listen $CDN_BACKEND ssl;"
			echo "	server_name $name;"
			echo "	access_log $DIR/cdn.log cdn;"
			echo "	ssl_certificate $crt.pem;"
			echo "	ssl_certificate_key $crt.key;"
			echo "	location / { return 200 \"cdn vhost=$name host=\$host sni=\$ssl_server_name scheme=\$scheme uri=\$request_uri\\n\"; }"
			echo "}"
		done
	} >"$DIR/nginx-cdn.conf"
	sed "s|@DIR@|$DIR|g" "$CONF/nginx.conf.in" >"$DIR/nginx.conf"
}

# The python the front runs on: the system's, not a user's shim.
python_bin() {
	local p
	for p in /usr/bin/python3 "$(command -v python3)"; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

start_servers() {
	local a v4=() v6=() py
	mkdir -p "$DIR/nginx-tmp"
	write_nginx_conf
	spawn nginx nginx -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/nginx-error.log"
	py=$(python_bin) || fail "python3 is not installed (scripts/deps.sh)"
	spawn sni-front "$py" "$CONF/sni-front.py" "$CDN_ADDR:443" "$CDN_BACKEND" "$DIR/cdn.log" \
		"$DIR/sni-front.ready"
	# Speaks first, like SSH: a banner before the client says anything, then echo.
	spawn banner socat -d -d -lf "$DIR/tcp.log" \
		"TCP4-LISTEN:$BANNER_PORT,bind=$BANNER_ADDR,fork,reuseaddr" \
		"SYSTEM:echo SSH-2.0-sbx-world-banner; exec cat"

	# socat -d -d logs "accepting connection from AF=2 SRC:PORT on AF=2 DST:PORT" for each
	# connection, which is how a test sees raw TCP reach the origin. A log file opened for
	# append is shared safely by the four listeners and their children.
	local port
	for port in 7 22; do
		spawn "tcp$port" socat -d -d -lf "$DIR/tcp.log" \
			"TCP4-LISTEN:$port,fork,reuseaddr" PIPE
		spawn "tcp${port}v6" socat -d -d -lf "$DIR/tcp.log" \
			"TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=1" PIPE
	done

	while read -r a; do
		case $a in
		*:*) v6+=("$a") ;;
		*) v4+=("$a") ;;
		esac
	done < <(world_addrs)
	grep -qx 127.0.0.1 < <(printf '%s\n' "${v4[@]}") || v4+=(127.0.0.1)
	spawn udp perl "$CONF/udp-echo.pl" "$DIR/udp.log" "$DIR/udp.ready" 5353,9999 \
		"${v4[@]}" "$INET_LINK4" "${v6[@]}" "$INET_LINK6" ::1

	write_dnsmasq_conf
	spawn dnsmasq dnsmasq --keep-in-foreground --conf-file="$DIR/dnsmasq.conf"
}

# A veth end that is up and passing packets: operstate UP, and a real qdisc in place of noop.
link_ready() {
	local l
	l=$(ip -n "$1" -o link show dev "$2" 2>/dev/null)
	[[ $l == *"state UP"* && $l != *"qdisc noop"* ]]
}

# Every origin listening, and every recorded process still alive, within READY_TRIES steps.
wait_ready() {
	local i label pid st tcp udp p missing binds
	for ((i = 0; i < READY_TRIES; i++)); do
		while read -r label pid st; do
			alive "$pid" || fail "$label exited at startup"
		done <"$DIR/pids"
		tcp=" $(in_ns "$INET_NS" ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | tr '\n' ' ') "
		udp=" $(in_ns "$INET_NS" ss -Hlun | awk '{ n = split($4, a, ":"); print a[n] }' | tr '\n' ' ') "
		missing=""
		# The kernel brings a new veth's carrier up from a deferred work item (up to 1 s late);
		# until then packets are dropped, so the first ARP or NDP probe would cost a 1 s retry.
		link_ready "$WORLD_NS" "$VETH_W" || missing="$missing $VETH_W"
		link_ready "$INET_NS" "$VETH_I" || missing="$missing $VETH_I"
		for p in $TCP_PORTS; do [[ $tcp == *" $p "* ]] || missing="$missing tcp/$p"; done
		binds=" $(in_ns "$INET_NS" ss -Hltn | awk '{ print $4 }' | tr '\n' ' ') "
		for p in $TCP_BINDS; do [[ $binds == *" $p "* ]] || missing="$missing tcp/$p"; done
		[ -e "$DIR/sni-front.ready" ] || missing="$missing sni-front"
		for p in $UDP_PORTS; do [[ $udp == *" $p "* ]] || missing="$missing udp/$p"; done
		[ -e "$DIR/udp.ready" ] || missing="$missing udp-echo"
		[ -z "$missing" ] && return 0
		sleep $STEP
	done
	fail "not ready after $((READY_TRIES / 20)) s:$missing"
}

cmd_up() {
	teardown
	if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
		echo "world: $NAME: $DIR exists and is not a world's: refusing to use it" >&2
		exit 1
	fi
	mkdir -p "$DIR" && chmod 700 "$DIR" || exit 1
	echo "$NAME" >"$MARK"
	: >"$DIR/pids"
	: >"$DIR/access.log"
	: >"$DIR/tcp.log"
	: >"$DIR/udp.log"
	: >"$DIR/dns.log"
	: >"$DIR/cdn.log"
	setup_net
	make_certs
	start_servers
	wait_ready
}

# Signals the recorded processes that are still the ones we started, and everything else in
# our two namespaces (sbxd, test clients, socat children): both are ours, named exactly.
signal_ours() {
	local sig=$1 label pid st ns ino
	if [ -f "$DIR/pids" ] && [ -f "$MARK" ]; then
		while read -r label pid st; do
			[ "$(start_time "$pid")" = "$st" ] && kill "-$sig" "$pid" 2>/dev/null
		done <"$DIR/pids"
	fi
	for ns in "$WORLD_NS" "$INET_NS"; do
		ns_exists "$ns" || continue
		ino=$(stat -Lc %i "$NETNS_DIR/$ns") || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			# Re-check right before the signal: the pid may have been reused meanwhile.
			[ "$(stat -Lc %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ] &&
				kill "-$sig" "$pid" 2>/dev/null
		done
	done
}

# True while any of our processes is alive.
any_ours() {
	local label pid st ns
	if [ -f "$DIR/pids" ] && [ -f "$MARK" ]; then
		while read -r label pid st; do
			[ "$(start_time "$pid")" = "$st" ] && alive "$pid" && return 0
		done <"$DIR/pids"
	fi
	for ns in "$WORLD_NS" "$INET_NS"; do
		ns_exists "$ns" && [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
	done
	return 1
}

wait_gone() {
	local i
	for ((i = 0; i < STOP_TRIES; i++)); do
		any_ours || return 0
		sleep $STEP
	done
	return 1
}

teardown() {
	local ns
	signal_ours TERM
	# a stopped process (dns-stop) acts on TERM only once continued
	signal_ours CONT
	if ! wait_gone; then
		signal_ours KILL
		wait_gone || echo "world: $NAME: some processes survived SIGKILL" >&2
	fi
	for ns in "$WORLD_NS" "$INET_NS"; do
		ns_exists "$ns" && { ip netns del "$ns" || echo "world: cannot delete netns $ns" >&2; }
	done
	# Only a directory this script made (it holds the marker naming this world) is removed.
	if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$NAME" ]; then
		rm -rf -- "$DIR"
	fi
}

cmd_env() {
	printf 'export SBX_WORLD=%s WORLD_NS=%s INET_NS=%s WORLD_DIR=%s SBX_TEST_CA=%s SBX_DNS_UPSTREAM=%s' \
		"$NAME" "$WORLD_NS" "$INET_NS" "$DIR" "$DIR/ca.pem" "$DNS_ADDR:$DNS_PORT"
	printf ' WORLD_CDN_ADDR=%s WORLD_BANNER=%s WORLD_LINK4=%s\n' "$CDN_ADDR" \
		"$BANNER_ADDR:$BANNER_PORT" "$WORLD_LINK4"
}

# Stops (STOP) or continues (CONT) the world's DNS server, found by its recorded pid and start
# time, so only the dnsmasq this world started is signalled.
cmd_dns() {
	local sig=$1 label pid st
	[ -f "$DIR/pids" ] && [ -f "$MARK" ] || { echo "world: $NAME is not up" >&2; exit 1; }
	while read -r label pid st; do
		[ "$label" = dnsmasq ] || continue
		if [ "$(start_time "$pid")" = "$st" ] && kill "-$sig" "$pid"; then
			exit 0
		fi
	done <"$DIR/pids"
	echo "world: $NAME: its dnsmasq is not running" >&2
	exit 1
}

cmd_exec() {
	local ns
	case ${1:-} in
	world) ns=$WORLD_NS ;;
	inet) ns=$INET_NS ;;
	*) usage ;;
	esac
	shift
	[ $# -gt 0 ] || usage
	ns_exists "$ns" || { echo "world: $NAME is not up (no netns $ns)" >&2; exit 1; }
	export SBX_WORLD=$NAME WORLD_NS INET_NS WORLD_DIR=$DIR SBX_TEST_CA=$DIR/ca.pem \
		SBX_DNS_UPSTREAM=$DNS_ADDR:$DNS_PORT WORLD_CDN_ADDR=$CDN_ADDR \
		WORLD_BANNER=$BANNER_ADDR:$BANNER_PORT WORLD_LINK4
	exec nsenter --net="$NETNS_DIR/$ns" -- "$@"
}

[ $# -ge 2 ] || usage
verb=$1
set_names "$2"
shift 2
case $verb in
up) [ $# -eq 0 ] || usage; cmd_up ;;
down) [ $# -eq 0 ] || usage; teardown ;;
env) [ $# -eq 0 ] || usage; cmd_env ;;
exec) cmd_exec "$@" ;;
dns-stop) [ $# -eq 0 ] || usage; cmd_dns STOP ;;
dns-cont) [ $# -eq 0 ] || usage; cmd_dns CONT ;;
*) usage ;;
esac
