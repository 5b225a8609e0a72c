#!/usr/bin/env python3
"""test_milter_protocol.py MILTER - mailsec-milter driven over the milter
protocol directly (this script is the MTA side, version 6 as Postfix speaks
it), for what Postfix 3.7 cannot show: an MTA that accepted the REQUIRETLS
MAIL FROM parameter (RFC 8689) passes it to the milter, which must add the
Received field with the "(requiretls)" comment, the TLS data of the
session and the DNSSEC status of its lookups; without the parameter no
such field is added.  Also: a message from an SMTP AUTH client ({auth_authen})
is outgoing (signed, not verified) although its address is external."""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import mstest  # noqa: E402

MILTER = sys.argv[1]
WORLD = os.environ["MS_TEST_WORLD"]
check = mstest.Checks()

NR = {"conn": 0x1000, "helo": 0x2000, "mail": 0x4000, "rcpt": 0x8000, "data": 0x10000,
      "eoh": 0x40000, "body": 0x80000, "hdr": 0x80}
NO = {"conn": 0x1, "helo": 0x2, "mail": 0x4, "rcpt": 0x8, "body": 0x10, "hdr": 0x20,
      "eoh": 0x40, "data": 0x200}


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def recv_pkt(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            raise EOFError("milter closed")
        hdr += c
    n = struct.unpack(">I", hdr)[0]
    d = b""
    while len(d) < n:
        c = s.recv(n - len(d))
        if not c:
            raise EOFError("milter closed")
        d += c
    return d[:1], d[1:]


def z(*parts):
    return b"".join(p.encode() + b"\0" for p in parts)


def run(sock, client_ip, mail_args, macros_helo, macros_mail, message):
    """One message; returns (final reply, [(name, value) inserted])."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    s.sendall(pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x1FF3FF)))
    _, d = recv_pkt(s)
    proto = struct.unpack(">III", d[:12])[2]
    leadspc = bool(proto & 0x100000)

    def step(stage, cmd, data):
        if proto & NO[stage]:
            return
        s.sendall(pkt(cmd, data))
        if not proto & NR[stage]:
            c, _ = recv_pkt(s)
            assert c == b"c", (stage, c)

    s.sendall(pkt(b"D", b"C" + z("j", "mx1.example.test")))
    step("conn", b"C", z("client.example.test") + b"4" + struct.pack(">H", 25) + z(client_ip))
    s.sendall(pkt(b"D", b"H" + z(*sum(macros_helo.items(), ()))))
    step("helo", b"H", z("client.example.test"))
    s.sendall(pkt(b"D", b"M" + z(*sum(macros_mail.items(), ()))))
    step("mail", b"M", z(*mail_args))
    step("rcpt", b"R", z("<bob@example.org>"))
    step("data", b"T", b"")
    head, body = message.split("\r\n\r\n", 1)
    for line in head.split("\r\n"):
        name, value = line.split(":", 1)
        step("hdr", b"L", z(name, value if leadspc else value.lstrip()))
    step("eoh", b"N", b"")
    step("body", b"B", body.encode())
    s.sendall(pkt(b"D", b"E" + z("i", "QID1")))
    s.sendall(pkt(b"E"))
    inserted = []
    while True:
        c, d = recv_pkt(s)
        if c in (b"h", b"i"):
            if c == b"i":
                d = d[4:]
            name, value = d.split(b"\0")[:2]
            inserted.append((name.decode(), value.decode()))
        elif c in (b"m", b"p", b"q"):
            continue
        else:
            s.sendall(pkt(b"Q"))
            s.close()
            return c.decode(), inserted


tmp = tempfile.mkdtemp(prefix="ms-milter-proto-")
sock = os.path.join(tmp, "m.sock")
conf = os.path.join(tmp, "m.conf")
with open(conf, "w") as f:
    f.write(f"""AuthservID mx1.example.test
Socket unix:{sock}
DNSConfig {WORLD}/auth.conf
InternalHosts 10.0.0.0/8
KeyTable ed example.test:ed:{WORLD}/pki/dkim/ed.pem
SigningTable example.test ed
""")
log = open(os.path.join(tmp, "milter.log"), "w")
proc = subprocess.Popen([MILTER, "-c", conf], stderr=log)
try:
    for _ in range(400):
        if os.path.exists(sock) or proc.poll() is not None:
            break
        time.sleep(0.05)
    check("milter listening", os.path.exists(sock), open(os.path.join(tmp, "milter.log")).read())
    msg = ("From: Alice <alice@example.test>\r\nTo: bob@example.org\r\n"
           "Subject: requiretls\r\n\r\nbody\r\n")
    tls = {"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_256_GCM_SHA384"}

    # REQUIRETLS accepted by the MTA: the field is added
    reply, ins = run(sock, "192.0.2.1", ["<alice@example.test>", "REQUIRETLS"], tls, {}, msg)
    check("requiretls: continue", reply == "c", reply)
    rec = [v for n, v in ins if n == "Received"]
    check("requiretls: one Received field", len(rec) == 1, ins)
    r = rec[0] if rec else ""
    check("requiretls: (requiretls) comment", "(requiretls)" in r, r)
    check("requiretls: with ESMTPS", "with ESMTPS" in r, r)
    check("requiretls: TLS data", "TLSv1.3" in r and "TLS_AES_256_GCM_SHA384" in r, r)
    check("requiretls: dnssec statuses", "dnssec" in r and "iprev=" in r, r)
    check("requiretls: client and by", "[192.0.2.1]" in r and "by mx1.example.test" in r, r)
    check("requiretls: id and for", "id QID1" in r and "<bob@example.org>" in r, r)
    check("requiretls: A-R too", any(n == "Authentication-Results" for n, _ in ins), ins)

    # without the parameter: no Received field of ours
    reply, ins = run(sock, "192.0.2.1", ["<alice@example.test>"], tls, {}, msg)
    check("plain: continue", reply == "c", reply)
    check("plain: no Received field", not any(n == "Received" for n, _ in ins), ins)
    ar = [v for n, v in ins if n == "Authentication-Results"]
    check("plain: A-R with dnssec=", len(ar) == 1 and "dnssec=" in ar[0], ins)

    # an SMTP AUTH client from outside: outgoing, signed, no A-R
    reply, ins = run(sock, "198.51.100.7", ["<alice@example.test>"], {},
                     {"{auth_authen}": "alice"}, msg)
    check("auth: continue", reply == "c", reply)
    sigs = [v for n, v in ins if n == "DKIM-Signature"]
    check("auth: signed with ed25519", len(sigs) == 1 and "a=ed25519-sha256" in sigs[0], ins)
    check("auth: no A-R", not any(n == "Authentication-Results" for n, _ in ins), ins)

    # the same address without AUTH: inbound, verified, not signed
    reply, ins = run(sock, "198.51.100.7", ["<alice@example.test>"], {}, {}, msg)
    check("noauth: not signed", not any(n == "DKIM-Signature" for n, _ in ins), ins)
    check("noauth: A-R", any(n == "Authentication-Results" for n, _ in ins), ins)
finally:
    proc.terminate()
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "hung"
    log.close()
    # SIGTERM is a clean stop (exit 0); under ASan a leak or error found
    # at exit makes it non-zero
    check("clean stop on SIGTERM", rc == 0,
          f"exit {rc}: " + open(os.path.join(tmp, "milter.log")).read()[-3000:])
    subprocess.run(["rm", "-rf", tmp])
check.finish()
