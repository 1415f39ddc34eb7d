#!/bin/bash
# SPDX-License-Identifier: MIT
# Fair shares (issue 6, item 8; sbxd(8) "Limits"): one sandbox holding far more idle proxy
# connections than its share leaves every other sandbox's egress and the control socket
# working; its own connections past the share are reset; its share comes back when it lets go;
# relays whose client has gone are freed after half_close_timeout even when the upstream
# stays silent, so sbxd's descriptors come back too.
# Root only; creates the world h<pid>, sandboxes t1 and t2 of the instance h<pid>, the pin dir
# /sys/fs/bpf/sbxtest-h<pid>, and removes exactly those.
# Prints "PASS shares.<check>" or "FAIL shares.<check>: why".
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init shares h ip nsenter curl socat
SHARE=64
HOLD=200
SILENT_PORT=2299
sbxd_fds() { ls "/proc/$(daemon_pid)/fd" 2>/dev/null | wc -l; }

cleanup() { integ_cleanup t1 t2; }
integ_traps
integ_world_up
printf 'sessions_per_sandbox = %s\nhalf_close_timeout = 2\n' "$SHARE" >"$T/sbxd.conf"
# an upstream that never answers and ignores the client's FIN for a minute
in_inet socat -T 60 -t 60 TCP4-LISTEN:$SILENT_PORT,bind=198.51.100.30,fork,reuseaddr \
	SYSTEM:'sleep 60' </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
if ! out=$(S policy set-default balanced 2>&1 && S policy allow network "198.51.100.30:$SILENT_PORT" 2>&1 &&
	S run t1 -- true 2>&1 && S run t2 -- true 2>&1); then
	echo "FAIL shares.setup: $out"
	exit 1
fi

# ---- t1 holds far more idle connections than its share ----------------------------------------
# each connects (through the transparent proxy) to the silent upstream its rule allows, and
# says nothing: the proxy dials for it and holds it; a connection over the share is reset
cat >"$PUB/hold.py" <<'EOF_PY'
import socket, sys, time, select
n, secs, port = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
socks, reset = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("198.51.100.30", port))
        socks.append(s)
    except OSError:
        reset += 1
time.sleep(0.5)
for s in socks:  # the proxy resets what is over the share: readable with an error or EOF
    r, _, _ = select.select([s], [], [], 0)
    if r:
        try:
            if not s.recv(1):
                reset += 1
        except OSError:
            reset += 1
print("held=%d reset=%d" % (n - reset, reset), flush=True)
time.sleep(secs)
EOF_PY
chmod 644 "$PUB/hold.py"
S exec t1 -- python3 "$PUB/hold.py" "$HOLD" 8 "$SILENT_PORT" >"$T/hold.out" 2>&1 &
HOLDER=$!
BG_PIDS+=($HOLDER)
wait_for -n 100 grep -q held= "$T/hold.out"
held=$(sed -n 's/.*held=\([0-9]*\).*/\1/p' "$T/hold.out")
[ -n "$held" ] && [ "$held" -le "$SHARE" ] && [ "$held" -ge $((SHARE / 2)) ] &&
	pass shares.over_share_reset || fail shares.over_share_reset "$(cat "$T/hold.out")"

# sandboxes send HTTP(S) to the forward proxy (HTTPS_PROXY) unless told not to
SB=t2 X curl -s -m 5 --cacert "$CA" https://pypi.org/simple/
[ $RC = 0 ] && pass shares.other_sandbox_served_forward || fail shares.other_sandbox_served_forward "rc=$RC $OUT"
SB=t2 X curl -s -m 5 --noproxy '*' --cacert "$CA" https://pypi.org/simple/
[ $RC = 0 ] && pass shares.other_sandbox_served_transparent ||
	fail shares.other_sandbox_served_transparent "rc=$RC $OUT"
run S policy ls
[ "$RC" = 0 ] && pass shares.control_socket_works || fail shares.control_socket_works "rc=$RC $OUT"
X curl -s -m 3 --cacert "$CA" https://pypi.org/simple/
[ $RC != 0 ] && pass shares.own_share_exhausted || fail shares.own_share_exhausted "t1 got through while holding its share"

wait "$HOLDER" 2>/dev/null
sleep 0.5
X curl -s -m 5 --cacert "$CA" https://pypi.org/simple/
[ $RC = 0 ] && pass shares.share_returns || fail shares.share_returns "rc=$RC $OUT"

# ---- relays whose client has gone are freed, however silent the upstream ----------------------
base=$(sbxd_fds)
cat >"$PUB/leave.py" <<'EOF_PY'
import socket, sys, time
socks = []
for i in range(int(sys.argv[1])):
    s = socket.socket()
    s.connect(("198.51.100.30", int(sys.argv[2])))
    socks.append(s)
time.sleep(1.5)  # silent past the proxy's first-bytes wait: it dials the upstream
for s in socks:
    s.send(b"x")  # raw bytes: now a relay, which the upstream never answers
time.sleep(0.5)
for s in socks:
    s.close()
print("left", flush=True)
EOF_PY
chmod 644 "$PUB/leave.py"
S exec t1 -- python3 "$PUB/leave.py" 20 "$SILENT_PORT" >"$T/leave.out" 2>&1 &
LEAVER=$!
during=0
for ((i = 0; i < 40; i++)); do # the most descriptors sbxd held while the relays were up
	n=$(sbxd_fds)
	[ "$n" -gt "$during" ] && during=$n
	kill -0 "$LEAVER" 2>/dev/null || break
	sleep 0.1
done
wait "$LEAVER"
freed=
for ((i = 0; i < 60; i++)); do
	[ "$(sbxd_fds)" -le $((base + 4)) ] && { freed=1; break; }
	sleep 0.2
done
# the relays were there once the clients left (20 upstream descriptors at least), then freed
grep -q left "$T/leave.out" && [ "$during" -ge $((base + 20)) ] && [ -n "$freed" ] && pass shares.gone_clients_freed ||
	fail shares.gone_clients_freed "fds: before $base, at most $during, now $(sbxd_fds); $(cat "$T/leave.out")"

finish
