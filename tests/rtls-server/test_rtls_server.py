#!/usr/bin/python3
"""The example receiving server (examples/rtls-server, librequiretls's
session calls) end to end on the demo world, with `mailsec send` as its
client and a raw SMTP client for what `send` rightly never does.

    test_rtls_server.py RTLS_SERVER MAILSEC   (MS_TEST_WORLD, MS_SOURCE_ROOT)

The server listens on the MX address of the domain `send` is pointed at
(good.test: 127.0.1.1, DANE 3 1 1 on the world's mx1.good.test key;
nostarttls.test: 127.0.1.6) on a kernel-picked port (`send --port`).
  (a) `send --requiretls` over DANE-verified TLS: delivered; the stored
      message starts with a Received field "with ESMTPS (requiretls)", its
      requirement file says "required", the server logged MAIL ... REQUIRETLS;
      a default send is stored without the comment, requirement "default".
  (b) plaintext: a server without a certificate gets plain mail (Received
      "with ESMTP"), and MAIL ... REQUIRETLS is refused 530 5.7.10, also
      before STARTTLS on a server that has TLS; `send --requiretls` never
      sends MAIL there.
  (c) REQUIRETLS disabled: not advertised after STARTTLS, MAIL ... REQUIRETLS
      gets 555 5.5.4; `send --requiretls` does not deliver (5.7.30).
  (d) submission (587 style): mail only after STARTTLS (530 5.7.0 before),
      REQUIRETLS after TLS delivered through `send`; submissions (465 style):
      implicit TLS, no STARTTLS, REQUIRETLS offered."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

SERVER, MAILSEC = sys.argv[1], sys.argv[2]
WORLD = os.environ["MS_TEST_WORLD"]
SAMPLE = os.path.join(os.environ["MS_SOURCE_ROOT"], "tests/send/sample.eml")
PKI = os.path.join(WORLD, "pki/demo")
GOOD_MX1, NOSTARTTLS_MX = "127.0.1.1", "127.0.1.6"
TIMEOUT_S = 5
check = mstest.Checks()
tmp = tempfile.mkdtemp(prefix="ms-rtls-server-")
running = []


class Server:
    def __init__(self, name, addr, *args, cert="mx1.good.test", hostname="mx1.good.test"):
        self.spool = os.path.join(tmp, name)
        os.mkdir(self.spool)
        self.logf = os.path.join(tmp, name + ".log")
        tls = ["--cert", os.path.join(PKI, cert + ".chain.pem"),
               "--key", os.path.join(PKI, cert + ".key")] if cert else []
        with open(self.logf, "w") as err:
            self.p = subprocess.Popen([SERVER, "--listen", addr + ":0", "--spool", self.spool,
                                       "--hostname", hostname, "--timeout", str(TIMEOUT_S),
                                       *tls, *args],
                                      stdout=subprocess.PIPE, stderr=err, text=True)
        first = self.p.stdout.readline()
        assert first.startswith("PORT "), (first, self.log())
        self.addr, self.port = addr, int(first.split()[1])
        running.append(self)

    def log(self):
        with open(self.logf) as f:
            return f.read()

    def stored(self, n=1):
        """(Received field, rest of the message, requirement) of message n."""
        with open(os.path.join(self.spool, f"msg{n}.eml"), "rb") as f:
            data = f.read()
        with open(os.path.join(self.spool, f"msg{n}.requirement")) as f:
            req = f.read().strip()
        # the Received field is folded: it ends at the first line not
        # starting with white space after "Received:"
        m = re.match(rb"(Received:.*?\r\n)(?=[^ \t])", data, re.S)
        return (m.group(1).decode() if m else ""), data[m.end():] if m else data, req

    def count(self):
        return len([f for f in os.listdir(self.spool) if f.endswith(".eml")])

    def stop(self):
        self.p.terminate()
        self.p.wait()


def send(to, port, *extra):
    # no MTA-STS host is reachable (port 1): DANE decides for good.test
    p = subprocess.run([MAILSEC, "--dns-config", os.path.join(WORLD, "auth.conf"),
                        "--timeout", str(TIMEOUT_S), "--json", "send",
                        "--from", "alice@example.test", "--to", to, "--port", str(port),
                        "--ca-file", os.path.join(PKI, "ca.pem"),
                        "--connect-to", "::127.0.0.1:1", *extra, SAMPLE],
                       capture_output=True, text=True, timeout=120)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"unparsable": p.stdout, "stderr": p.stderr}


class Client:
    """A raw SMTP client: one command, one whole reply."""

    def __init__(self, srv, implicit_tls=False):
        self.s = socket.create_connection((srv.addr, srv.port), timeout=TIMEOUT_S)
        if implicit_tls:
            self.tls()
        self.f = self.s.makefile("rb")
        self.banner = self.reply()

    def tls(self):
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.pem"))
        self.s = ctx.wrap_socket(self.s, server_hostname="mx1.good.test")
        self.f = self.s.makefile("rb")

    def reply(self):
        lines = []
        while True:
            ln = self.f.readline().decode().rstrip("\r\n")
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                return lines

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self):
        r = self.cmd("STARTTLS")
        if r[-1].startswith("220"):
            self.tls()
        return r

    def close(self):
        try:
            self.cmd("QUIT")
        except OSError:
            pass
        self.s.close()


def keywords(ehlo):
    return [ln[4:].split(" ")[0].upper() for ln in ehlo[1:]]


with open(SAMPLE, "rb") as f:
    SAMPLE_CRLF = f.read().replace(b"\n", b"\r\n")

try:
    # ---- (a) REQUIRETLS over DANE-verified TLS ---------------------------------
    srv = Server("a", GOOD_MX1)
    rc, j = send("bob@good.test", srv.port, "--requiretls")
    att = (j.get("attempts") or [{}])[0]
    check("(a) send --requiretls delivered", rc == 0 and j.get("delivered") is True
          and j.get("requiretls") is True and att.get("dane") == "ok", (rc, j, srv.log()))
    rec, body, req = srv.stored(1) if srv.count() == 1 else ("", b"", "")
    check("(a) Received has the (requiretls) comment",
          re.search(r"\r\n\tby mx1\.good\.test with ESMTPS \(requiretls\)\r\n", rec) is not None
          and re.match(r"Received: from \S+ \(\[127\.0\.0\.1\]\)", rec) is not None
          and "for <bob@good.test>" in rec and "TLSv1." in rec, rec)
    check("(a) stored body is the sample, dot-unstuffed", body == SAMPLE_CRLF, body[:200])
    check("(a) requirement kept for onward relay", req == "required", req)
    check("(a) server logged MAIL FROM ... REQUIRETLS",
          re.search(r"^C: MAIL FROM:<alice@example\.test>.* REQUIRETLS$", srv.log(), re.M)
          and "S: 250 2.1.0" in srv.log(), srv.log())
    rc, j = send("bob@good.test", srv.port)
    rec, body, req = srv.stored(2) if srv.count() == 2 else ("", b"", "")
    check("(a) default send: ESMTPS without the comment", rc == 0 and " with ESMTPS\r\n" in rec
          and "requiretls" not in rec and req == "default", (rc, j, rec, req))
    # before STARTTLS REQUIRETLS is neither offered nor accepted (RFC 8689 s2, s4.1)
    c = Client(srv)
    e = c.cmd("EHLO client.test")
    check("(b) TLS server: STARTTLS, no REQUIRETLS before TLS",
          "STARTTLS" in keywords(e) and "REQUIRETLS" not in keywords(e), e)
    r = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
    check("(b) MAIL REQUIRETLS before STARTTLS -> 530 5.7.10",
          r[-1].startswith("530 5.7.10"), r)
    c.starttls()
    e = c.cmd("EHLO client.test")
    check("(a) after STARTTLS: REQUIRETLS, no STARTTLS",
          "REQUIRETLS" in keywords(e) and "STARTTLS" not in keywords(e), e)
    c.close()
    srv.stop()

    # ---- (b) a plaintext server ------------------------------------------------
    srv = Server("b", NOSTARTTLS_MX, cert=None, hostname="mx.nostarttls.test")
    c = Client(srv)
    e = c.cmd("EHLO client.test")
    check("(b) no certificate: neither STARTTLS nor REQUIRETLS",
          "STARTTLS" not in keywords(e) and "REQUIRETLS" not in keywords(e), e)
    r = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
    check("(b) plaintext MAIL REQUIRETLS -> 530 5.7.10", r[-1].startswith("530 5.7.10"), r)
    r = c.cmd("STARTTLS")
    check("(b) STARTTLS not offered -> 502", r[-1].startswith("502 5.5.1"), r)
    c.close()
    before = len(srv.log())
    rc, j = send("bob@nostarttls.test", srv.port, "--requiretls")
    check("(b) send --requiretls never sends MAIL in plaintext",
          rc == 1 and j.get("delivered") is False and "C: MAIL" not in srv.log()[before:]
          and j.get("status") == "5.7.30" and srv.count() == 0, (rc, j, srv.log()))
    rc, j = send("bob@nostarttls.test", srv.port)
    rec, body, req = srv.stored(1) if srv.count() == 1 else ("", b"", "")
    check("(b) plain delivery: Received with ESMTP, no comment",
          rc == 0 and " with ESMTP\r\n" in rec and "requiretls" not in rec
          and req == "default", (rc, j, rec))
    srv.stop()

    # ---- (c) REQUIRETLS disabled by the operator --------------------------------
    srv = Server("c", GOOD_MX1, "--no-requiretls")
    c = Client(srv)
    c.cmd("EHLO client.test")
    c.starttls()
    e = c.cmd("EHLO client.test")
    check("(c) disabled: REQUIRETLS not advertised over TLS", "REQUIRETLS" not in keywords(e), e)
    r = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
    check("(c) disabled: MAIL REQUIRETLS -> 555 5.5.4", r[-1].startswith("555 5.5.4"), r)
    c.close()
    before = len(srv.log())
    rc, j = send("bob@good.test", srv.port, "--requiretls")
    att = (j.get("attempts") or [{}])[0]
    # mx2 (127.0.1.2) has no server here: the overall verdict is a
    # temporary connect failure, bounced as 5.7.30 when retries run out
    check("(c) send --requiretls not delivered, 5.7.30",
          rc == 1 and j.get("delivered") is False and att.get("requiretls_offered") is False
          and att.get("dane") == "ok" and att.get("status") == "5.7.30"
          and j.get("bounce_status") == "5.7.30" and srv.count() == 0
          and "C: MAIL" not in srv.log()[before:], (rc, j, srv.log()))
    srv.stop()

    # ---- (d) submission (587 style) and submissions (465 style) -----------------
    srv = Server("d", GOOD_MX1, "--kind", "submission")
    c = Client(srv)
    e = c.cmd("EHLO laptop.test")
    r = c.cmd("MAIL FROM:<a@client.test>")
    check("(d) submission: no mail before STARTTLS (530 5.7.0)",
          "STARTTLS" in keywords(e) and r[-1].startswith("530 5.7.0"), (e, r))
    c.starttls()
    r = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
    check("(d) submission: EHLO again after STARTTLS (503)", r[-1].startswith("503 5.5.1"), r)
    e = c.cmd("EHLO laptop.test")
    r = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
    check("(d) submission over TLS: REQUIRETLS offered and accepted",
          "REQUIRETLS" in keywords(e) and r[-1].startswith("250 2.1.0"), (e, r))
    c.close()
    rc, j = send("bob@good.test", srv.port, "--requiretls")
    rec, body, req = srv.stored(1) if srv.count() == 1 else ("", b"", "")
    check("(d) send --requiretls to the submission listener",
          rc == 0 and "with ESMTPS (requiretls)" in rec and req == "required", (rc, j, rec))
    srv.stop()

    srv = Server("d465", GOOD_MX1, "--kind", "submissions")
    c = Client(srv, implicit_tls=True)
    e = c.cmd("EHLO laptop.test")
    check("(d) submissions: implicit TLS, REQUIRETLS, no STARTTLS",
          c.banner[-1].startswith("220") and "REQUIRETLS" in keywords(e)
          and "STARTTLS" not in keywords(e), (c.banner, e))
    ok = c.cmd("MAIL FROM:<a@client.test> REQUIRETLS")[-1].startswith("250")
    ok = ok and c.cmd("RCPT TO:<bob@good.test>")[-1].startswith("250")
    ok = ok and c.cmd("DATA")[-1].startswith("354")
    ok = ok and c.cmd("TLS-Required: No\r\nSubject: x\r\n\r\nhi\r\n.")[-1].startswith("250")
    c.close()
    rec, body, req = srv.stored(1) if srv.count() == 1 else ("", b"", "")
    # RFC 8689 s2: the parameter wins over the header field
    check("(d) submissions: stored with (requiretls), requirement required",
          ok and "with ESMTPS (requiretls)" in rec and req == "required", (rec, req, srv.log()))
    srv.stop()
finally:
    for s in running:
        if s.p.poll() is None:
            s.p.kill()
            s.p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
check.finish()
