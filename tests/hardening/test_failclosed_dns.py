#!/usr/bin/env python3
"""Fail closed over a real DNS path (issue 13, points 1 and 2).

    test_failclosed_dns.py MAILSEC SOCKETMAP     (MS_TEST_WORLD from meson)

A signed zone fc.test served by NSD behind faultproxy.py (which drops,
SERVFAILs or corrupts chosen query types), reached by libunbound through a
stub-zone with the zone's DS as trust anchor:

  dual.fc.test   MX 10 mx.fc.test    A NET.25, AAAA ::1, TLSA 3 1 1
  v4.fc.test     MX 10 mx4.fc.test   A NET.26 only,     TLSA 3 1 1
  plain.fc.test  MX 10 mx5.fc.test   A NET.27, no TLSA
(NET a 127.x.y of this run's own).

The MX hosts run a loopback SMTP peer that does not offer STARTTLS (what a
stripping attacker looks like).  An on-path attacker that drops, SERVFAILs
or corrupts one query type must never get the message sent in plaintext,
never turn a temporary failure into a permanent one, and never make the
Postfix socketmap answer NOTFOUND (which lets main.cf's default apply).
Before the fix, dropping AAAA made the DANE host "opportunistic" and
`mailsec send` delivered in plaintext; with --requiretls it bounced 5.7.30.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "dnsfault"))
import mstest  # noqa: E402
from faultworld import FaultWorld, tlsa_311  # noqa: E402

MAILSEC, SOCKETMAP = sys.argv[1], sys.argv[2]
WORLD = os.environ["MS_TEST_WORLD"]
SAMPLE = os.path.join(os.environ["MS_SOURCE_ROOT"], "tests/send/sample.eml")
PKI = os.path.join(WORLD, "pki/demo")
CERT, KEY = os.path.join(PKI, "mx1.good.test.chain.pem"), os.path.join(PKI, "mx1.good.test.key")
TIMEOUT_S = 2
check = mstest.Checks()
tmp = tempfile.mkdtemp(prefix="ms-failclosed-")

tlsa = tlsa_311(CERT)
# a /24 of our own per run: test runs in parallel (several build trees on
# one machine) must not meet each other's NSD or peers
NET = f"127.{13 + os.getpid() % 200}.{os.getpid() // 200 % 250 + 1}"
MX, MX4, MX5 = NET + ".25", NET + ".26", NET + ".27"
world = FaultWorld(tmp, "fc.test", [
    "dual IN MX 10 mx", "v4 IN MX 10 mx4", "plain IN MX 10 mx5",
    f"mx IN A {MX}", "mx IN AAAA ::1", f"mx4 IN A {MX4}", f"mx5 IN A {MX5}",
    f"_25._tcp.mx IN TLSA 3 1 1 {tlsa}", f"_25._tcp.mx4 IN TLSA 3 1 1 {tlsa}",
], base=NET)


def peer(mode, addr):
    logf = os.path.join(tmp, f"peer-{mode}-{addr}.log")
    open(logf, "w").close()
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "send", "send_peer.py"), logf,
                          mode, CERT, KEY, addr], stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline()), logf


def mailsec(*args):
    p = subprocess.run([MAILSEC, "--dns-config", world.conf, "--timeout", str(TIMEOUT_S),
                        "--json", *args], capture_output=True, text=True, timeout=120)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"unparsable": p.stdout, "stderr": p.stderr}


def plan_host(domain, *extra):
    rc, j = mailsec("plan", domain, "--connect-to", "::127.0.0.1:1", *extra)
    hosts = j.get("hosts") or [{}]
    return rc, j, hosts[0]


def send(domain, mode, addr, *extra):
    p, port, logf = peer(mode, addr)
    try:
        rc, j = mailsec("send", "--from", "alice@example.test", "--to", f"bob@{domain}",
                        "--port", str(port), "--ca-file", os.path.join(PKI, "ca.pem"),
                        "--connect-to", "::127.0.0.1:1", *extra, SAMPLE)
    finally:
        p.kill()
        p.wait()
    with open(logf) as f:
        log = f.read().split("\n")
    mail = [x for x in log if x.startswith(("CMD MAIL", "CMD RCPT", "CMD DATA", "MAIL-RECEIVED"))]
    return rc, j, log, mail


def socketmap(domain):
    """One query to a fresh mailsec-policyd over this world: its reply."""
    d = subprocess.Popen([SOCKETMAP, "-c", "/dev/null", "--print-port",
                          "-o", "listen_tcp=127.0.0.1:0", "-o", "map_name=mtasts",
                          "-o", "dns_config=" + world.conf,
                          "-o", "connect_to=::127.0.0.1:1"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(d.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            q = f"mtasts {domain}".encode()
            s.sendall(b"%d:%s," % (len(q), q))
            buf = b""
            while not buf.endswith(b","):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return buf.split(b":", 1)[1][:-1].decode() if b":" in buf else buf.decode()
    finally:
        d.kill()
        d.wait()


def status(j):
    return str(j.get("status", ""))


try:
    world.start()

    # ---- control: no fault ---------------------------------------------
    rc, j, h = plan_host("dual.fc.test")
    check("no fault: dual.fc.test host is DANE", h.get("mode") == "dane", j)
    rc, j, log, mail = send("dual.fc.test", "nostarttls", MX)
    check("no fault: STARTTLS stripped -> not sent, temporary",
          j.get("delivered") is False and mail == [] and status(j).startswith("4."), (j, log))
    check("socketmap, no fault: dane", socketmap("dual.fc.test") == "OK dane-only")
    check("socketmap, no fault, no TLSA: NOTFOUND", socketmap("plain.fc.test").startswith("NOTFOUND"))

    # ---- 13.6: a recipient domain is a host name, checked in the library
    for cmd in (["plan", "x@127.0.2.77:8444#.rt.test"], ["check", "a:b.fc.test"]):
        p = subprocess.run([MAILSEC, "--dns-config", world.conf, *cmd], capture_output=True,
                           text=True, timeout=60)
        check(f"{cmd[0]} refuses a crafted domain (exit 2, says why)",
              p.returncode == 2 and "not a host name" in p.stderr, (p.returncode, p.stderr))
    check("socketmap: a crafted domain is NOTFOUND, no lookup",
          socketmap("x@127.0.2.77:8444#.rt.test").startswith("NOTFOUND"))

    # ---- 13.1: AAAA dropped ---------------------------------------------
    world.faults("--drop", "AAAA")
    for dom, addr in (("dual.fc.test", MX), ("v4.fc.test", MX4)):
        rc, j, h = plan_host(dom)
        check(f"AAAA dropped: {dom} host stays DANE (over its secure A records)",
              h.get("mode") == "dane", j)
        rc, j, log, mail = send(dom, "nostarttls", addr)
        check(f"AAAA dropped: {dom} never in plaintext",
              rc == 1 and j.get("delivered") is False and mail == [], (rc, j, log))
        check(f"AAAA dropped: {dom} temporary failure", status(j).startswith("4."), j)
        rc, j, log, mail = send(dom, "nostarttls", addr, "--requiretls")
        check(f"AAAA dropped, REQUIRETLS: {dom} deferred, not bounced",
              j.get("delivered") is False and mail == [] and status(j).startswith("4."), j)
    # the secure family still carries mail, DANE-verified
    rc, j, log, mail = send("dual.fc.test", "rtlsgood", MX, "--requiretls")
    att = (j.get("attempts") or [{}])[0]
    check("AAAA dropped: delivered over DANE to the A address", rc == 0
          and j.get("delivered") is True and att.get("dane") == "ok"
          and any(x.startswith("MAIL-RECEIVED") for x in log), (rc, j, log))
    check("socketmap, AAAA dropped: still dane", socketmap("dual.fc.test") == "OK dane-only")

    # ---- both address families fail: host unusable now ----------------
    world.faults("--drop", "AAAA", "--servfail", "A")
    rc, j, h = plan_host("dual.fc.test")
    check("A and AAAA failed: host skipped (addr_lookup)", h.get("mode") == "skip"
          and h.get("skip_reason") == "addr_lookup" and str(h.get("status", "")).startswith("4."), j)
    rc, j, log, mail = send("dual.fc.test", "nostarttls", MX)
    check("A and AAAA failed: no connection, temporary",
          j.get("delivered") is False and log == [""] and status(j).startswith("4."), (j, log))
    check("socketmap, A and AAAA failed: TEMP", socketmap("dual.fc.test").startswith("TEMP "))

    # ---- TLSA lookup fails or is bogus ---------------------------------
    for flag in ("--servfail", "--bogus"):
        world.faults(flag, "TLSA")
        rc, j, h = plan_host("dual.fc.test")
        check(f"TLSA {flag}: host skipped (tlsa_lookup)", h.get("mode") == "skip"
              and h.get("skip_reason") == "tlsa_lookup", j)
        rc, j, log, mail = send("dual.fc.test", "nostarttls", MX, "--requiretls")
        check(f"TLSA {flag}: no connection, temporary even with REQUIRETLS",
              j.get("delivered") is False and log == [""] and status(j).startswith("4."),
              (j, log))
        # 13.2: before the fix the socketmap said NOTFOUND here
        ans = socketmap("dual.fc.test")
        check(f"socketmap, TLSA {flag}: TEMP with a reason", ans.startswith("TEMP ")
              and "TLSA" in ans, ans)
        ans = socketmap("plain.fc.test")
        check(f"socketmap, TLSA {flag} on a host without TLSA: TEMP, not NOTFOUND",
              ans.startswith("TEMP "), ans)

    # ---- the _mta-sts TXT lookup fails or is bogus --------------------
    # A failed lookup is not "no MTA-STS record": with nothing cached,
    # whether an enforce policy applies is unknown, so the answer is TEMP
    # (before the fix: NOTFOUND, and main.cf's default applied).  A host
    # with usable DANE is not held (RFC 8461 s2: DANE wins).
    for flag in ("--servfail", "--bogus"):
        world.faults(flag, "TXT")
        ans = socketmap("plain.fc.test")
        check(f"socketmap, _mta-sts TXT {flag}: TEMP, not NOTFOUND",
              ans.startswith("TEMP ") and "MTA-STS" in ans, ans)
        check(f"socketmap, _mta-sts TXT {flag} on a DANE domain: still dane-only",
              socketmap("dual.fc.test") == "OK dane-only")

    # ---- MX lookup fails or is bogus -----------------------------------
    for flag in ("--servfail", "--bogus"):
        world.faults(flag, "MX")
        rc, j = mailsec("send", "--from", "alice@example.test", "--to", "bob@dual.fc.test",
                        "--connect-to", "::127.0.0.1:1", SAMPLE)
        check(f"MX {flag}: deferred 4.4.3", j.get("delivered") is False
              and status(j) == "4.4.3", j)
        ans = socketmap("dual.fc.test")
        check(f"socketmap, MX {flag}: TEMP", ans.startswith("TEMP ") and "MX" in ans, ans)
finally:
    world.stop()

check.finish()
