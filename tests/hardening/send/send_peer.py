#!/usr/bin/python3
"""A hostile SMTP peer for the `mailsec send` hardening test.

Usage: send_peer.py LOGFILE MODE CERT KEY ADDR [ADDR...]
Listens on one port the kernel picks, the same on every ADDR (all
127.0.0.0/8), prints it, then serves until killed.  Every command verb goes
to LOGFILE as "CMD VERB", a received message as "MAIL-RECEIVED BYTES".

Modes:
  nostarttls     no STARTTLS in the EHLO reply
  starttls454    STARTTLS refused with 454
  starttls554    STARTTLS refused with 554
  inject         plaintext "250 REQUIRETLS" pipelined with the STARTTLS 220
  rtlspre        REQUIRETLS offered before STARTTLS only (TLS with CERT)
  rtlsgood       REQUIRETLS offered after STARTTLS (the control)
  datasilent     no reply at all to DATA
  dotsilent      354 to DATA, takes the message, never answers the final dot
  trickle        the EHLO reply one byte per second
  ehlo8m         an 8 MiB EHLO reply
  drain          354 to DATA, then reads the message at 10 KiB/s
  badtls         220 to STARTTLS, then garbage instead of a ServerHello and
                 close; a plaintext session is served normally (RFC 7435
                 fallback tests, tests/requiretls/test_deliver.c)
  drainok        354 to DATA, then reads the message at 1 MiB/s (the
                 control: slow, but moving)
  ehlosilent     the greeting, then no reply to EHLO (tests/requiretls/
                 test_deliver.c: a stalled peer never blocks a step)
  tlssilent      220 to STARTTLS, reads the ClientHello, never answers it
  mail451        over TLS, 451 to every MAIL FROM (the sender tries the next
                 MX host); the certificate is picked by the client's SNI:
                 NAME.chain.pem and NAME.key beside CERT when they exist
                 (tests/requiretls/test_deliver.c: two verified sessions
                 in one delivery)
In the drain modes the receive buffer is 16 KiB, so the client's writes
block as soon as its own send buffer is full.
"""
import os, socket, ssl, sys, threading, time

logpath, mode, cert, key = sys.argv[1:5]
addrs = sys.argv[5:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if mode == "mail451":
    certdir = os.path.dirname(cert)

    def by_sni(sock, name, _ctx):
        c = os.path.join(certdir, f"{name}.chain.pem") if name else ""
        if c and os.path.exists(c):
            sub = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sub.load_cert_chain(c, os.path.join(certdir, f"{name}.key"))
            sock.context = sub

    ctx.sni_callback = by_sni
lock = threading.Lock()


def log(s):
    with lock, open(logpath, "a") as f:
        f.write(s + "\n")


def session(conn):
    s, buf, tls = conn, b"", False

    def line():
        nonlocal buf
        while b"\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise EOFError
            buf += d
        ln, buf = buf.split(b"\n", 1)
        return ln.rstrip(b"\r")

    try:
        s.sendall(b"220 peer.test ESMTP\r\n")
        while True:
            ln = line()
            verb = ln.split(b" ")[0].upper().decode("latin-1")
            log(f"CMD {verb}{'-TLS' if tls else ''}")
            if verb in ("EHLO", "HELO") and mode == "ehlosilent":
                time.sleep(60)
                return
            if verb in ("EHLO", "HELO"):
                caps = [b"peer.test", b"PIPELINING", b"8BITMIME"]
                if not tls and mode != "nostarttls":
                    caps.append(b"STARTTLS")
                if (mode == "rtlspre" and not tls) or (mode not in ("rtlspre",) and tls):
                    caps.append(b"REQUIRETLS")
                reply = b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n"
                if mode == "trickle":
                    for x in reply:
                        s.sendall(bytes([x]))
                        time.sleep(1.0)
                elif mode == "ehlo8m":
                    block = (b"250-X-PAD-" + b"x" * 100 + b"\r\n") * 512
                    for _ in range(8 * 1024 * 1024 // len(block)):
                        s.sendall(block)
                    s.sendall(reply)
                else:
                    s.sendall(reply)
            elif verb == "STARTTLS" and not tls:
                if mode == "starttls454":
                    s.sendall(b"454 4.7.0 TLS not available\r\n")
                elif mode == "starttls554":
                    s.sendall(b"554 5.5.1 no TLS here\r\n")
                elif mode == "badtls":
                    s.sendall(b"220 go ahead\r\n")
                    s.sendall(b"\x15\x03\x03\x00\x02\x02\x28not tls")
                    return
                elif mode == "tlssilent":
                    s.sendall(b"220 go ahead\r\n")
                    log("CLIENTHELLO %d" % len(s.recv(65536)))
                    time.sleep(60)
                    return
                elif mode == "inject":
                    s.sendall(b"220 go ahead\r\n250-peer.test\r\n250 REQUIRETLS\r\n")
                    time.sleep(5)
                    return
                else:
                    s.sendall(b"220 go ahead\r\n")
                    s = ctx.wrap_socket(s, server_side=True)
                    buf, tls = b"", True
            elif verb == "MAIL" and mode == "mail451" and tls:
                s.sendall(b"451 4.3.0 try again later\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                s.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "DATA":
                if mode == "datasilent":
                    time.sleep(60)
                    return
                s.sendall(b"354 go on\r\n")
                if mode in ("drain", "drainok"):
                    # per 0.1 s tick (a TLS recv returns one record at most)
                    step = 1024 if mode == "drain" else 104858
                    data = buf
                    while not data.endswith(b"\r\n.\r\n"):
                        got = 0
                        while got < step and not data.endswith(b"\r\n.\r\n"):
                            d = s.recv(min(16384, step - got))
                            if not d:
                                log("DRAIN-CLOSED")
                                return
                            data += d
                            got += len(d)
                        time.sleep(0.1)
                    log(f"MAIL-RECEIVED {len(data)}")
                    buf = b""
                    s.sendall(b"250 2.0.0 taken\r\n")
                    continue
                n = 0
                while True:
                    d = line()
                    if d == b".":
                        break
                    n += len(d) + 2
                log(f"MAIL-RECEIVED {n}")
                if mode == "dotsilent":
                    time.sleep(60)
                    return
                s.sendall(b"250 2.0.0 taken\r\n")
            elif verb == "QUIT":
                s.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                s.sendall(b"502 5.5.2 no\r\n")
    except (OSError, EOFError, ssl.SSLError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def serve(l):
    while True:
        c, _ = l.accept()
        threading.Thread(target=session, args=(c,), daemon=True).start()


# one port free on every address
for _ in range(50):
    socks = []
    try:
        first = socket.socket()
        first.bind((addrs[0], 0))
        port = first.getsockname()[1]
        socks.append(first)
        for a in addrs[1:]:
            o = socket.socket()
            o.bind((a, port))
            socks.append(o)
        break
    except OSError:
        for o in socks:
            o.close()
else:
    sys.exit("no common port")
for o in socks:
    if mode.startswith("drain"):
        o.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    o.listen(16)
    threading.Thread(target=serve, args=(o,), daemon=True).start()
print(port, flush=True)
while True:
    time.sleep(3600)
