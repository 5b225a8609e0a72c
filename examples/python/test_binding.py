#!/usr/bin/env python3
"""The Python binding against the real libraries and the signed test world."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailsec  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'common'))
import mstest  # noqa: E402

WORLD = os.environ["MS_TEST_WORLD"]
check = mstest.Checks()


def var(name):
    for line in open(os.path.join(WORLD, "vars")):
        k, _, v = line.strip().partition("=")
        if k == name:
            return v
    raise KeyError(name)


with mailsec.Resolver(config_file=os.path.join(WORLD, "auth.conf"), timeout_ms=5000) as r:
    a = r.lookup("www.example.test", "A")
    check("secure A", a.outcome == "answer" and a.security == "secure" and a.records == ["192.0.2.1"]
          and a.rdata == [(1, bytes([192, 0, 2, 1]))], a)
    b = r.lookup("tampered.example.test", "A")
    check("bogus", b.security == "bogus" and b.outcome == "servfail" and b.records == []
          and b.ede == 6, b)
    i = r.lookup("insalias.example.test", "A")
    check("insecure via secure cname", i.security == "insecure" and i.cname_secure is True
          and i.canonical == "www.insecure.example.test", i)
    t = r.lookup("_25._tcp.mx1.good.test", "TLSA")
    check("tlsa", t.security == "secure" and len(t.records) == 2
          and all(x.startswith("3 1 1 ") for x in t.records), t)
    m = r.lookup("mixed.example.test", "ADDR")
    check("addr", m.security == "insecure" and len(m.records) == 2, m)
    try:
        r.lookup("a..b", "A")
        check("bad name raises", False)
    except mailsec.MailsecError as e:
        check("bad name raises", e.status == -1 and "empty label" in e.why, e)

    spf = mailsec.spf_check(r, "192.0.2.7", "user@spf-ip.example.test", "mail.example.test")
    check("spf pass", spf.result == "pass" and spf.dnssec == "secure"
          and spf.mechanism and "ip4" in spf.mechanism, spf)
    spf = mailsec.spf_check(r, "198.51.100.7", "user@spf-incins.example.test", "mail.example.test")
    check("spf insecure include", spf.result == "pass" and spf.dnssec == "insecure"
      and spf.mechanism == "include:spf.insecure.example.test", spf)

try:
    mailsec.Resolver(config_file="/nonexistent.conf")
    check("config error raises", False)
except mailsec.MailsecError as e:
    check("config error raises", "nonexistent" in e.why, e)

# DANE: the demo world's mx1.good.test chain against its published records
pem = open(os.path.join(WORLD, "pki/demo/mx1.good.test.chain.pem")).read()
cur = bytes.fromhex(var("DEMO_GOOD_MX1_311"))
nxt = bytes.fromhex(var("DEMO_GOOD_MX1_NEXT_311"))
res = mailsec.dane_verify(pem, [(3, 1, 1, nxt), (3, 1, 1, cur)], ["mx1.good.test"])
check("dane verified", res.verified and res.matched == 1 and res.depth == 0, res)
res = mailsec.dane_verify(pem, [(3, 1, 1, nxt)], ["mx1.good.test"])
check("dane no match", not res.verified and res.verdict == "no-match"
      and res.tlsrpt == "certificate-not-trusted", res)
res = mailsec.dane_verify(pem, [(3, 1, 1, cur)], ["mx1.good.test"], authentic=False)
check("dane insecure", res.verdict == "insecure", res)
issuer = bytes.fromhex(var("DEMO_ISSUER_211"))
res = mailsec.dane_verify(pem, [(2, 1, 1, issuer)], ["mx1.good.test"])
check("dane-ta", res.verified and res.depth == 1, res)
res = mailsec.dane_verify(pem, [(2, 1, 1, issuer)], ["other.good.test"])
check("dane-ta wrong name", res.verdict == "name-mismatch", res)
res = mailsec.dane_verify([b"\x30\x03garbage"], [(3, 1, 1, cur)], ["mx1.good.test"])
check("garbage der", not res.verified, res)

# DKIM: a message signed by the CLI with the world's RSA and Ed25519 keys
import subprocess  # noqa: E402
mailsec_exe = os.environ.get("MAILSEC_EXE")
if mailsec_exe:
    signed = subprocess.run(
        [mailsec_exe, "--dns-config", os.path.join(WORLD, "auth.conf"), "dkim", "sign",
         "--domain", "good.test", "--selector", "rsa", "--key", os.path.join(WORLD, "pki/dkim/rsa.pem"),
         "--selector", "ed", "--key", os.path.join(WORLD, "pki/dkim/ed.pem")],
        input=b"From: a@good.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nbody\r\n",
        capture_output=True, timeout=60).stdout
    with mailsec.Resolver(config_file=os.path.join(WORLD, "auth.conf")) as r:
        sigs = mailsec.dkim_verify(r, signed, chunk=7)
        check("dkim two passes", [(x.result, x.selector, x.dnssec) for x in sigs]
              == [("pass", "rsa", "secure"), ("pass", "ed", "secure")], sigs)
        check("dkim algorithms", [x.algorithm for x in sigs] == ["rsa-sha256", "ed25519-sha256"], sigs)
        bad = mailsec.dkim_verify(r, signed.replace(b"body", b"BODY"))
        check("dkim tampered", [x.result for x in bad] == ["fail", "fail"], bad)
        check("dkim unsigned", mailsec.dkim_verify(r, b"From: a@b.test\r\n\r\nhi\r\n") == [])
else:
    check("MAILSEC_EXE set for the DKIM part", False)

check.finish()
