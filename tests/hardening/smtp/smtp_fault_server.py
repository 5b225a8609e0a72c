#!/usr/bin/python3
"""Hostile SMTP peers for the STARTTLS probe hardening test (libdane).

Usage: smtp_fault_server.py WORKDIR
Makes a self-signed server certificate in WORKDIR (the test pins its key
with a DANE-EE record), starts one listener per behaviour on 127.0.0.1
ports the kernel picks, prints "cert=PATH", one "NAME=PORT" line per
listener and "ready", then serves until killed.  Each session appends
"NAME COMMAND" lines to WORKDIR/log for the commands it received.

Behaviours:
  good           banner, EHLO, STARTTLS, TLS, EHLO with REQUIRETLS, QUIT
  silent         accepts, never sends a byte
  bannerclose    sends the banner, closes
  starttls454    refuses STARTTLS with 454 4.7.0
  starttls554    refuses STARTTLS with 554 5.5.1
  pipelined      "220 go ahead" and a forged "250 REQUIRETLS" reply in one write
  pipelinedlate  "220 go ahead", then the same plaintext 300 ms later
  requiretlspre  REQUIRETLS in the EHLO before STARTTLS only
  handshakefail  220 to STARTTLS, then plaintext garbage instead of TLS
  handshakestall 220 to STARTTLS, then never answers the ClientHello
  ehlo8m         an 8 MiB EHLO reply before TLS
  ehlo8mtls      an 8 MiB EHLO reply after TLS
  trickle        the banner one byte per second, forever
  trickleehlo    the EHLO reply one byte per second
  trickletls     the EHLO reply after TLS one byte per second
"""
import os, socket, ssl, subprocess, sys, threading, time

work = os.path.abspath(sys.argv[1])
os.makedirs(work, exist_ok=True)
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", os.path.join(work, "mx.key"),
                "-out", os.path.join(work, "mx.pem"), "-days", "3650",
                "-subj", "/CN=mx.hard.test", "-addext", "subjectAltName=DNS:mx.hard.test"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CTX.load_cert_chain(os.path.join(work, "mx.pem"), os.path.join(work, "mx.key"))
logf = open(os.path.join(work, "log"), "a", buffering=1)
lock = threading.Lock()
MiB = 1 << 20


def log(name, what):
    with lock:
        logf.write(f"{name} {what}\n")


class Session:
    def __init__(self, name, sock):
        self.name, self.s, self.buf = name, sock, b""

    def send(self, b):
        self.s.sendall(b)

    def trickle(self, b):
        for x in b:
            self.s.sendall(bytes([x]))
            time.sleep(1.0)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        cmd = ln.strip().decode("latin-1")
        log(self.name, cmd.split(" ")[0].upper() or "-")
        return cmd.upper()

    def big_ehlo(self):
        self.send(b"250-mx.hard.test\r\n")
        chunk = b"250-X-PADDING-" + b"x" * 100 + b"\r\n"
        block = chunk * (65536 // len(chunk))
        sent = 0
        while sent < 8 * MiB:
            self.send(block)
            sent += len(block)
        self.send(b"250 OK\r\n")


def session(name, s):
    S = Session(name, s)
    try:
        if name == "silent":
            time.sleep(120)
            return
        if name == "trickle":
            S.trickle(b"220 mx.hard.test ESMTP" + b" slow" * 10000)
            return
        S.send(b"220 mx.hard.test ESMTP\r\n")
        if name == "bannerclose":
            return
        tls = False
        while True:
            cmd = S.line()
            if cmd.startswith("EHLO"):
                if name == "ehlo8m" and not tls or name == "ehlo8mtls" and tls:
                    S.big_ehlo()
                    continue
                caps = [b"mx.hard.test", b"PIPELINING", b"8BITMIME"]
                if not tls:
                    caps.append(b"STARTTLS")
                if (name == "requiretlspre") != tls:
                    caps.append(b"REQUIRETLS")
                reply = b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n"
                if name == "trickleehlo" and not tls or name == "trickletls" and tls:
                    S.trickle(reply)
                else:
                    S.send(reply)
            elif cmd == "STARTTLS" and not tls:
                if name == "starttls454":
                    S.send(b"454 4.7.0 TLS not available due to temporary reason\r\n")
                    continue
                if name == "starttls554":
                    S.send(b"554 5.5.1 TLS not supported\r\n")
                    continue
                forged = b"250-mx.hard.test\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n"
                if name == "pipelined":
                    S.send(b"220 2.0.0 go ahead\r\n" + forged)
                elif name == "pipelinedlate":
                    S.send(b"220 2.0.0 go ahead\r\n")
                    time.sleep(0.3)
                    S.send(forged)
                else:
                    S.send(b"220 2.0.0 go ahead\r\n")
                if name == "handshakefail":
                    S.s.recv(4096)
                    S.send(b"500 5.5.1 this is not TLS at all\r\n" * 4)
                    return
                if name == "handshakestall":
                    time.sleep(120)
                    return
                if name in ("pipelined", "pipelinedlate"):
                    # whatever the client does now, answer nothing more
                    time.sleep(5)
                    return
                S.s = CTX.wrap_socket(S.s, server_side=True)
                S.buf = b""
                tls = True
                log(name, "TLS-UP")
            elif cmd == "QUIT":
                S.send(b"221 2.0.0 bye\r\n")
                return
            else:
                S.send(b"502 5.5.2 not here\r\n")
    except (OSError, EOFError, ssl.SSLError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def serve(name, l):
    while True:
        c, _ = l.accept()
        threading.Thread(target=session, args=(name, c), daemon=True).start()


NAMES = ["good", "silent", "bannerclose", "starttls454", "starttls554", "pipelined",
         "pipelinedlate", "requiretlspre", "handshakefail", "handshakestall", "ehlo8m",
         "ehlo8mtls", "trickle", "trickleehlo", "trickletls"]
ports = {}
for n in NAMES:
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 0))
    l.listen(16)
    ports[n] = l.getsockname()[1]
    threading.Thread(target=serve, args=(n, l), daemon=True).start()
print("cert=" + os.path.join(work, "mx.pem"))
for k, v in ports.items():
    print(f"{k}={v}")
print("ready", flush=True)
while True:
    time.sleep(3600)
