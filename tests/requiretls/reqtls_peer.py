#!/usr/bin/env python3
"""Loopback SMTP peer for the librequiretls end-to-end test (aiosmtpd 1.4).

Usage: reqtls_peer.py PORT PKIDIR CERTNAME LOGFILE MODE
MODE: "requiretls"  STARTTLS, REQUIRETLS advertised only after STARTTLS,
                    MAIL FROM ... REQUIRETLS refused with 530 5.7.10 before TLS
      "starttls"    STARTTLS but no REQUIRETLS (like Postfix 3.7)
      "plain"       no STARTTLS at all
Each accepted message appends one line to LOGFILE. Runs until SIGTERM.
Adapted from the shared tls-peers recipe (reqtls_peer.py)."""
import signal, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

port, pkidir, certname, logfile, mode = sys.argv[1:6]


class ReqTLSSMTP(SMTP):
    async def smtp_MAIL(self, arg):
        toks = (arg or "").split()
        if mode == "requiretls" and any(t.upper() == "REQUIRETLS" for t in toks[1:]):
            if not self._tls_protocol:
                return await self.push("530 5.7.10 REQUIRETLS needs a TLS session")
            self.session.requiretls = True
            arg = " ".join(t for t in toks if t.upper() != "REQUIRETLS")
        else:
            self.session.requiretls = False
        return await super().smtp_MAIL(arg)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if mode == "requiretls" and session.ssl is not None:  # only after STARTTLS
            responses.insert(-1, "250-REQUIRETLS")
        return responses

    async def handle_DATA(self, server, session, envelope):
        tlsreq = b"\ntls-required:" in b"\n" + envelope.original_content.lower()
        with open(logfile, "a") as f:
            f.write(f"from={envelope.mail_from} requiretls={getattr(session, 'requiretls', False)} "
                    f"tls={session.ssl is not None} tls_required_header={tlsreq} "
                    f"rcpt={','.join(envelope.rcpt_tos)}\n")
        return "250 2.0.0 queued"


class C(Controller):
    def factory(self):
        return ReqTLSSMTP(self.handler, tls_context=self.tls, require_starttls=False,
                          hostname="mx1.example.test")


tls = None
if mode != "plain":
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(f"{pkidir}/{certname}.pem", f"{pkidir}/{certname}.key")
c = C(Handler(), hostname="127.0.0.1", port=int(port))
c.tls = tls
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
c.start()
try:
    while True:
        time.sleep(3600)
finally:
    c.stop()
