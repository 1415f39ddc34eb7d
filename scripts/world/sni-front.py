#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The TLS front of the test world's shared-address origin (a CDN: one address, several names),
# started by world.sh inside the inet namespace.
#
# usage: sni-front.py LISTEN-IP:PORT BACKEND-IP:PORT LOG READY-FILE
#
# For each connection it reads the client's first flight, logs what the origin was shown, then
# relays the connection, first flight included, to nginx's TLS virtual hosts (BACKEND), which
# pick a certificate and a server block by SNI the way OpenSSL servers do: by the FIRST
# host_name entry. The log line is written before anything is relayed:
#   tls peer=IP:PORT sni=NAME[,NAME...] seen=WORD[,WORD...]
# "sni" is every host_name entry of every server_name extension, in order ("-" when none, "?"
# when the ClientHello did not parse: not TLS, truncated, malformed); "seen" is every run of
# host-name characters with a dot in it in the first flight's bytes, TLS framing or not, so a name
# that reached the origin shows in the log however the client framed or split it. A test that
# asserts "the origin never saw NAME" greps the log for NAME.
# Bounds: the first flight is at most FIRST_MAX bytes or what arrives in FIRST_WAIT seconds; at
# most CONN_MAX connections at once (more are closed at accept); idle relays end after IDLE.
import re
import socket
import sys
import threading

FIRST_MAX = 65536
FIRST_WAIT = 15.0
CONN_MAX = 256
IDLE = 60.0
HOSTISH = re.compile(rb"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

log_lock = threading.Lock()
slots = threading.BoundedSemaphore(CONN_MAX)


def log(f, line):
    with log_lock:
        f.write(line + "\n")
        f.flush()


def hello_complete(buf):
    """Bytes of the handshake layer once one whole ClientHello is there, else None."""
    hs = b""
    i = 0
    while i + 5 <= len(buf):
        if buf[i] != 22:
            return None
        n = int.from_bytes(buf[i + 3:i + 5], "big")
        if i + 5 + n > len(buf):
            return None
        hs += buf[i + 5:i + 5 + n]
        i += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return hs
    return None


def sni_names(hs):
    """Every host_name of every server_name extension of a ClientHello, or None if malformed."""
    try:
        if hs[0] != 1:
            return None
        body = hs[4:4 + int.from_bytes(hs[1:4], "big")]
        p = 2 + 32  # version, random
        p += 1 + body[p]  # session id
        p += 2 + int.from_bytes(body[p:p + 2], "big")  # cipher suites
        p += 1 + body[p]  # compression methods
        end = p + 2 + int.from_bytes(body[p:p + 2], "big")
        p += 2
        names = []
        while p + 4 <= end:
            typ = int.from_bytes(body[p:p + 2], "big")
            n = int.from_bytes(body[p + 2:p + 4], "big")
            ext = body[p + 4:p + 4 + n]
            p += 4 + n
            if typ != 0:
                continue
            q = 2
            while q + 3 <= len(ext):
                ln = int.from_bytes(ext[q + 1:q + 3], "big")
                names.append(ext[q + 3:q + 3 + ln].decode("ascii", "replace"))
                q += 3 + ln
        return names
    except (IndexError, ValueError):
        return None


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(c, peer, backend, f):
    b = None
    try:
        c.settimeout(FIRST_WAIT)
        buf = b""
        hs = None
        try:
            while len(buf) < FIRST_MAX:
                d = c.recv(FIRST_MAX - len(buf))
                if not d:
                    break
                buf += d
                hs = hello_complete(buf)
                if hs is not None or (buf and buf[0] != 22):
                    break
        except OSError:
            pass
        if not buf:
            return
        names = sni_names(hs) if hs is not None else None
        sni = "?" if names is None else (",".join(names) if names else "-")
        seen = ",".join(m.decode() for m in HOSTISH.findall(buf)) or "-"
        log(f, "tls peer=%s:%d sni=%s seen=%s" % (peer[0], peer[1], sni, seen))
        b = socket.create_connection(backend, timeout=5)
        b.settimeout(IDLE)
        c.settimeout(IDLE)
        b.sendall(buf)
        t = threading.Thread(target=pipe, args=(b, c), daemon=True)
        t.start()
        pipe(c, b)
        t.join(IDLE)
    except OSError:
        pass
    finally:
        for s in (c, b):
            if s is not None:
                s.close()
        slots.release()


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: sni-front.py LISTEN-IP:PORT BACKEND-IP:PORT LOG READY-FILE")
    listen, backend = addr(sys.argv[1]), addr(sys.argv[2])
    f = open(sys.argv[3], "a")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(listen)
    ls.listen(128)
    open(sys.argv[4], "w").close()
    while True:
        c, peer = ls.accept()
        if not slots.acquire(blocking=False):
            c.close()
            continue
        threading.Thread(target=serve, args=(c, peer, backend, f), daemon=True).start()


if __name__ == "__main__":
    main()
