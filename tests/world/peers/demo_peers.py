#!/usr/bin/env python3
"""Loopback peers of the demo mail world: SMTP servers for every demo MX
host and the HTTPS MTA-STS policy host (tests and the README demo only).

    demo_peers.py WORLD SMTP_PORT HTTPS_PORT READYFILE

WORLD is a make-world.sh output (certificates in WORLD/pki/demo).  Each MX
host listens on its own 127.0.1.x address at SMTP_PORT; the hosts with an
AAAA record (v6good.test's, setup.example's: all ::1, the only IPv6 loopback
address) share one listener on [::1]:SMTP_PORT that picks the certificate
by the client's SNI.  The policy host on 127.0.1.10:HTTPS_PORT routes on the
Host header; besides its built-in policies it serves WORLD/policies/HOST
when a test wrote one (the policy `mailsec setup` printed).  SMTP servers offer
STARTTLS (except mx.nostarttls.test) and advertise REQUIRETLS only after
STARTTLS (RFC 8689); MAIL FROM ... REQUIRETLS on plaintext gets 530 5.7.10.
RCPT TO:<unknown@...> gets 550 5.1.1 (one refused recipient among others).
Received messages are appended to WORLD/peers.log; a message to tlsrpt@...
is also kept whole as WORLD/tlsrpt-mail-N.eml.  The policy host also takes
TLS reports (RFC 8460 s5.2): POST /tlsrpt with application/tlsrpt+gzip is
checked (gzip, JSON with a report-id), kept as WORLD/tlsrpt-post-N.json.gz
and logged to peers.log ("https-post ...").  READYFILE is written
once everything listens; SIGTERM stops all.
"""
import asyncio
import gzip
import errno
import http.server
import json
import os
import re
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

WORLD, SMTP_PORT, HTTPS_PORT, READY = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PKI = os.path.join(WORLD, "pki", "demo")

# host, address, certificate chain (None: no STARTTLS), REQUIRETLS after TLS
MX = [
    ("mx1.good.test", "127.0.1.1", "mx1.good.test", True),
    ("mx2.good.test", "127.0.1.2", "mx2.good.test", True),
    ("mx.badtlsa.test", "127.0.1.3", "mx.badtlsa.test", False),
    ("mx1.stsgap.test", "127.0.1.4", "mx1.stsgap.test", False),
    ("mx2.stsgap.test", "127.0.1.5", "mx2.stsgap.test", False),
    ("mx.nostarttls.test", "127.0.1.6", None, False),
    ("mx.daneta.test", "127.0.1.7", "daneta/mx.daneta.test", True),
    ("mx.bogus.test", "127.0.1.8", "mx.bogus.test", False),
    ("mx1.v6good.test", "127.0.1.21", "mx1.v6good.test", True),
    ("mx2.v6good.test", "127.0.1.22", "mx2.v6good.test", True),
    ("mx1.setup.example", "127.0.1.23", "mx1.setup.example", True),
    ("mx2.setup.example", "127.0.1.24", "mx2.setup.example", True),
]
# the MX hosts whose AAAA is ::1 (tests/world/zones/v6good.test, the setup
# round trip of tests/check): served on [::1]:SMTP_PORT, told apart by SNI
V6 = ["mx1.v6good.test", "mx2.v6good.test", "mx1.setup.example", "mx2.setup.example"]

POLICIES = {
    "mta-sts.good.test": "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\n"
                         "mx: mx2.good.test\r\nmax_age: 604800\r\n",
    "mta-sts.stsgap.test": "version: STSv1\r\nmode: enforce\r\nmx: mx1.stsgap.test\r\n"
                           "max_age: 86400\r\n",
    "mta-sts.v6good.test": "version: STSv1\r\nmode: enforce\r\nmx: mx1.v6good.test\r\n"
                           "mx: mx2.v6good.test\r\nmax_age: 604800\r\n",
}


class PeerSMTP(SMTP):
    """REQUIRETLS handling on top of aiosmtpd (RFC 8689 s4)."""

    async def smtp_MAIL(self, arg):
        toks = (arg or "").split()
        if any(t.upper() == "REQUIRETLS" for t in toks[1:]):
            if not self._tls_protocol or not self.event_handler.requiretls:
                return await self.push("530 5.7.10 REQUIRETLS needs a TLS session")
            self.session.requiretls = True
            arg = " ".join(t for t in toks if t.upper() != "REQUIRETLS")
        else:
            self.session.requiretls = False
        return await super().smtp_MAIL(arg)


class Handler:
    def __init__(self, host, requiretls):
        self.host = host
        self.requiretls = requiretls

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if session.ssl is not None and self.requiretls:
            responses.insert(-1, "250-REQUIRETLS")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # "unknown@..." does not exist anywhere: a per-recipient 550 for the
        # multi-recipient tests (the other recipients are still accepted)
        if address.lower().startswith("unknown@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with open(os.path.join(WORLD, "peers.log"), "a") as f:
            f.write(f"host={self.host} from={envelope.mail_from} rcpt={','.join(envelope.rcpt_tos)} "
                    f"tls={session.ssl is not None} requiretls={getattr(session, 'requiretls', False)} "
                    f"bytes={len(envelope.content or b'')}\n")
        if any(r.lower().startswith("tlsrpt@") for r in envelope.rcpt_tos):
            keep("tlsrpt-mail", ".eml", envelope.original_content or envelope.content or b"")
        return "250 2.0.0 queued"


_kept = {"n": 0}
_kept_lock = threading.Lock()


def keep(prefix, suffix, data):
    """Keep a received report whole for the tests (numbered, never overwritten)."""
    with _kept_lock:
        _kept["n"] += 1
        path = os.path.join(WORLD, f"{prefix}-{_kept['n']}{suffix}")
    with open(path, "wb") as f:
        f.write(data)


class PeerController(Controller):
    def __init__(self, handler, addr, port, tls, hostname):
        super().__init__(handler, hostname=addr, port=port)
        self.tls = tls
        self.server_name = hostname

    def factory(self):
        return PeerSMTP(self.handler, tls_context=self.tls, require_starttls=False,
                        hostname=self.server_name)

    def _trigger_server(self):
        # aiosmtpd's readiness probe speaks plaintext; nothing to add here
        return super()._trigger_server()


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        """TLSRPT by HTTPS (RFC 8460 s5.2): only the gzip media type, a
        bounded body that is gzip of a JSON report; 200 when taken."""
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        ctype = self.headers.get("Content-Type") or ""
        try:
            n = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            n = -1
        code, note = 200, "ok"
        body = b""
        if self.path != "/tlsrpt" or host not in POLICIES:
            code, note = 404, "no such endpoint"
        elif ctype != "application/tlsrpt+gzip":
            code, note = 415, "wrong media type"
        elif n < 0 or n > 1 << 20:
            code, note = 413, "no or too large body"
        else:
            body = self.rfile.read(n)
            try:
                report = json.loads(gzip.decompress(body))
                note = "report-id=" + str(report["report-id"])
            except (OSError, ValueError, KeyError, TypeError):
                code, note = 400, "not a gzip JSON report"
        if code == 200:
            keep("tlsrpt-post", ".json.gz", body)
        with open(os.path.join(WORLD, "peers.log"), "a") as f:
            f.write(f"https-post host={host} path={self.path} content-type={ctype} "
                    f"bytes={len(body)} status={code} {note}\n")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        body = POLICIES.get(host)
        if body is None and re.fullmatch(r"[a-z0-9.-]+", host) and not host.startswith("."):
            try:
                with open(os.path.join(WORLD, "policies", host), encoding="utf-8", newline="") as f:
                    body = f.read()
            except OSError:
                body = None
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            data, code = b"not found\n", 404
        else:
            data, code = body.encode(), 200
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def server_tls(chain):
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(PKI, chain + ".chain.pem"), os.path.join(PKI, chain + ".key"))
    return tls


def v6_controller():
    """One listener on [::1] for every host in V6: the certificate of the
    host the client names in SNI (the first one without SNI)."""
    by_name = {h: server_tls(h) for h in V6}

    def pick(sslobj, name, ctx):
        if name and name.lower() in by_name:
            sslobj.context = by_name[name.lower()]
        return None
    tls = server_tls(V6[0])
    tls.sni_callback = pick
    return PeerController(Handler("[::1]", True), "::1", SMTP_PORT, tls, V6[0])


def main():
    controllers = []
    for host, addr, chain, reqtls in MX:
        tls = server_tls(chain) if chain else None
        c = PeerController(Handler(host, reqtls), addr, SMTP_PORT, tls, host)
        c.start()
        controllers.append(c)
    try:
        c = v6_controller()
        c.start()
        controllers.append(c)
    except OSError as e:
        # a machine without IPv6 loopback (or a caller whose port is taken
        # on ::1) still gets the IPv4 world; the check test, which needs
        # [::1], then fails on mx_reach, as it should
        if e.errno not in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EADDRINUSE):
            raise
        print(f"demo peers: no [::1] listener: {e}", file=sys.stderr)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(PKI, "mta-sts.chain.pem"), os.path.join(PKI, "mta-sts.key"))
    httpd = http.server.ThreadingHTTPServer(("127.0.1.10", HTTPS_PORT), PolicyHandler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    with open(READY + ".tmp", "w") as f:
        f.write(f"{SMTP_PORT} {HTTPS_PORT}\n")
    os.rename(READY + ".tmp", READY)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    httpd.shutdown()
    for c in controllers:
        c.stop()


if __name__ == "__main__":
    main()
