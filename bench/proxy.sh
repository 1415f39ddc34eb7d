#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/proxy.sh: the sbx forward proxy against direct access, tinyproxy and
# squid, all in one private network namespace on loopback, against one nginx
# origin, measured the same way on the same machine:
#   rps and p99   wrk -t2 -c64 -d${BENCH_SECONDS}s --latency, 1 KiB file
#                 (absolute-URI requests through the proxies)
#   tunnel MB/s   curl through CONNECT (-p -x), a large sparse file, median of runs
#   RSS kB        of each proxy after the load (a proxy's processes summed)
#
# Needs root (ip netns). Installs nothing: direct and sbx need nginx, wrk and
# curl; tinyproxy and squid are measured when they are installed.
#   BUILD=build           where build/bench/proxy is (make build/bench/proxy)
#   BENCH_SECONDS=8       length of each wrk run
#   BENCH_QUICK=1         2 s wrk runs, one tunnel run of a 256 MiB file
#   BENCH_SBX_WORKERS=0   sbx proxy worker threads (0: one per CPU)
set -u

BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-8}
RUNS=3
BIG=1G
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SECS=2
	RUNS=1
	BIG=256M
fi
case $SECS in '' | *[!0-9]* | 0) echo "BENCH_SECONDS must be a positive integer" >&2; exit 2 ;; esac
SBX_WORKERS=${BENCH_SBX_WORKERS:-0}

ORIGIN=18081 SBX_PORT=13180 SBX_TPORT=13181 TINY_PORT=18888 SQUID_PORT=13128

if [ "$(id -u)" != 0 ]; then
	echo "bench/proxy.sh: needs root (it runs everything in a private network namespace)" >&2
	exit 2
fi
SBX_BIN=$BUILD/bench/proxy
if [ ! -x "$SBX_BIN" ]; then
	echo "bench/proxy.sh: $SBX_BIN is missing; run: make $SBX_BIN" >&2
	exit 2
fi
SBX_BIN=$(readlink -f "$SBX_BIN")

have() { command -v "$1" >/dev/null 2>&1; }
missing=
for t in ip nginx wrk curl fallocate tinyproxy squid; do have $t || missing="$missing $t"; done
if [ -n "$missing" ]; then
	echo "bench/proxy.sh: not installed:$missing"
	echo "  apt-get install -y wrk tinyproxy squid nginx-light  adds them"
fi
for t in ip nginx wrk curl fallocate; do
	if ! have $t; then
		echo "bench/proxy.sh: $t is required (direct and sbx need nginx, wrk and curl); nothing measured" >&2
		exit 2
	fi
done
PEERS=
have tinyproxy && PEERS="$PEERS tinyproxy"
have squid && PEERS="$PEERS squid"

NS=sbxbench$$
if ip netns list | grep -qw "$NS"; then
	echo "bench/proxy.sh: network namespace $NS already exists; not touching it" >&2
	exit 2
fi
D=$(mktemp -d /tmp/sbx-proxy-bench.XXXXXX) || exit 1
chmod 755 "$D" # nginx workers and squid drop privileges and must reach their files
PIDS=()        # every process started in the namespace, in order
NS_MADE=0

cleanup() {
	local p i
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 30); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if [ $NS_MADE = 1 ]; then
		# anything left in our own namespace (squid's or nginx's children) is ours
		for i in 1 2 3; do
			local left
			left=$(ip netns pids "$NS" 2>/dev/null)
			[ -z "$left" ] && break
			for p in $left; do kill -KILL "$p" 2>/dev/null; done
			sleep 0.2
		done
		ip netns del "$NS" 2>/dev/null
	fi
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || exit 1
NS_MADE=1
ip -n "$NS" link set lo up || exit 1
X() { ip netns exec "$NS" "$@"; }

# Run "$@" in the namespace in the background; its pid joins PIDS.
# (ip netns exec execs the command, so $! is the process itself.)
start() {
	local log=$1
	shift
	ip netns exec "$NS" "$@" >"$log" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
	disown $! # cleanup kills it; bash need not report how it ended
}

wait_port() { # port pid
	local i
	for i in $(seq 100); do
		X ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

rss_of() { # pid: its RSS in kB plus its children's
	local sum=0 r c
	for c in "$1" $(pgrep -P "$1" 2>/dev/null); do
		r=$(ps -o rss= -p "$c" 2>/dev/null | tr -d ' ')
		[ -n "$r" ] && sum=$((sum + r))
	done
	echo $sum
}

# ---- the origin --------------------------------------------------------------
mkdir -p "$D/www"
head -c 1024 /dev/urandom >"$D/www/1k"
fallocate -l $BIG "$D/www/big" || truncate -s $BIG "$D/www/big"
chmod 755 "$D/www" && chmod 644 "$D/www/1k" "$D/www/big"
cat >"$D/nginx.conf" <<C
worker_processes 2; pid $D/nginx.pid; error_log $D/nginx.err; daemon off;
events { worker_connections 4096; }
http { access_log off; sendfile on; keepalive_requests 100000;
  server { listen 127.0.0.1:$ORIGIN; root $D/www; } }
C
start "$D/nginx.log" nginx -c "$D/nginx.conf"
NGINX_PID=$LAST_PID
if ! wait_port $ORIGIN $NGINX_PID; then
	echo "bench/proxy.sh: nginx did not start:" >&2
	cat "$D/nginx.log" "$D/nginx.err" >&2 2>/dev/null
	exit 1
fi

# ---- the proxies -------------------------------------------------------------
declare -A PORT PID
start "$D/sbx.log" "$SBX_BIN" --fwd-port $SBX_PORT --tproxy-port $SBX_TPORT \
	--workers "$SBX_WORKERS" --dns 127.0.0.1:53
PID[sbx]=$LAST_PID PORT[sbx]=$SBX_PORT
if ! wait_port $SBX_PORT "${PID[sbx]}"; then
	echo "bench/proxy.sh: the sbx proxy did not start:" >&2
	cat "$D/sbx.log" >&2
	exit 1
fi

if [[ $PEERS == *tinyproxy* ]]; then
	cat >"$D/tiny.conf" <<C
Port $TINY_PORT
Listen 127.0.0.1
Timeout 600
MaxClients 1024
ConnectPort $ORIGIN
DisableViaHeader Yes
LogLevel Error
C
	start "$D/tiny.log" tinyproxy -d -c "$D/tiny.conf"
	PID[tinyproxy]=$LAST_PID PORT[tinyproxy]=$TINY_PORT
fi
if [[ $PEERS == *squid* ]]; then
	mkdir -p "$D/squidlogs"
	chown -R proxy:proxy "$D/squidlogs" 2>/dev/null
	cat >"$D/squid.conf" <<C
http_port 127.0.0.1:$SQUID_PORT
acl all_src src all
acl SSL_ports port $ORIGIN
acl CONNECT method CONNECT
http_access allow all
cache deny all
cache_mem 8 MB
access_log none
cache_log $D/squidlogs/cache.log
pid_filename $D/squidlogs/squid.pid
coredump_dir $D/squidlogs
workers 1
C
	start "$D/squid.log" squid -N -f "$D/squid.conf"
	PID[squid]=$LAST_PID PORT[squid]=$SQUID_PORT
fi
for who in $PEERS; do
	if ! wait_port "${PORT[$who]}" "${PID[$who]}"; then
		echo "bench/proxy.sh: $who did not start; leaving it out" >&2
		tail -5 "$D/$who.log" >&2 2>/dev/null
		PEERS=${PEERS/$who/}
	fi
done
ROWS="direct sbx $PEERS"

# ---- requests per second -----------------------------------------------------
cat >"$D/abs.lua" <<C
wrk.path = "http://127.0.0.1:$ORIGIN/1k"
C
to_ms() { # wrk's "1.23ms" / "850.00us" / "1.02s" -> ms
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
		else print "n/a" }'
}
declare -A RPS P99 ERRS MBS RSS
echo "== rps: wrk -t2 -c64 -d${SECS}s --latency, 1 KiB (proxies: absolute-URI)"
for who in $ROWS; do
	if [ $who = direct ]; then
		out=$(X timeout $((SECS + 30)) wrk -t2 -c64 -d${SECS}s --latency \
			http://127.0.0.1:$ORIGIN/1k 2>&1)
	else
		out=$(X timeout $((SECS + 30)) wrk -t2 -c64 -d${SECS}s --latency -s "$D/abs.lua" \
			http://127.0.0.1:${PORT[$who]} 2>&1)
	fi
	RPS[$who]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
	P99[$who]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	ERRS[$who]=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^ *//' | tr '\n' ';')
	: "${RPS[$who]:=n/a}"
	printf '  %-10s %8s req/s  p99 %8s ms  %s\n' $who "${RPS[$who]}" "${P99[$who]}" "${ERRS[$who]}"
done

# ---- CONNECT tunnel throughput -----------------------------------------------
SIZE=$(stat -c %s "$D/www/big")
# one untimed download first: the file's pages are cached before any run is timed
X curl -s --max-time 60 -o /dev/null http://127.0.0.1:$ORIGIN/big
echo "== tunnel: curl through CONNECT, $BIG file, $RUNS run(s), median MB/s (10^6 B/s)"
for who in $ROWS; do
	speeds=
	for i in $(seq $RUNS); do
		if [ $who = direct ]; then
			r=$(X curl -s --max-time 60 -o /dev/null \
				-w '%{http_code} %{size_download} %{speed_download}' \
				http://127.0.0.1:$ORIGIN/big)
		else
			r=$(X curl -s --max-time 60 -p -x http://127.0.0.1:${PORT[$who]} -o /dev/null \
				-w '%{http_code} %{size_download} %{speed_download}' \
				http://127.0.0.1:$ORIGIN/big)
		fi
		set -- $r
		if [ "${1:-}" = 200 ] && [ "${2:-}" = "$SIZE" ]; then
			speeds="$speeds $(awk -v b="$3" 'BEGIN { printf "%.0f", b / 1e6 }')"
		else
			echo "  $who run $i failed: '$r'" >&2
		fi
	done
	MBS[$who]=$(tr ' ' '\n' <<<"$speeds" | grep . | sort -n |
		awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "n/a" }')
	echo "  $who:$speeds -> ${MBS[$who]}"
done

# ---- memory --------------------------------------------------------------------
RSS[direct]=-
for who in sbx $PEERS; do RSS[$who]=$(rss_of "${PID[$who]}"); done

# stop sbx now so its verdict counts are in its log
kill -TERM "${PID[sbx]}" 2>/dev/null
for i in $(seq 50); do kill -0 "${PID[sbx]}" 2>/dev/null || break; sleep 0.1; done

# ---- summary -------------------------------------------------------------------
echo
echo "== sbx proxy ($SBX_BIN, workers=$SBX_WORKERS), $(nproc) CPUs, wrk ${SECS}s"
sed 's/^/  /' "$D/sbx.log"
echo
printf '%-10s %10s %10s %12s %10s\n' "" "rps" "p99 ms" "tunnel MB/s" "RSS kB"
for who in $ROWS; do
	printf '%-10s %10s %10s %12s %10s\n' $who "${RPS[$who]}" "${P99[$who]:-n/a}" \
		"${MBS[$who]}" "${RSS[$who]}"
done
ratio() { # label a b
	awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%-28s %.2fx\n", l, a / b
		else printf "%-28s n/a\n", l }'
}
echo
ratio "sbx rps / tinyproxy rps" "${RPS[sbx]}" "${RPS[tinyproxy]:-}"
ratio "sbx rps / squid rps" "${RPS[sbx]}" "${RPS[squid]:-}"
ratio "sbx tunnel / direct tunnel" "${MBS[sbx]}" "${MBS[direct]}"
ratio "sbx RSS / tinyproxy RSS" "${RSS[sbx]}" "${RSS[tinyproxy]:-}"
