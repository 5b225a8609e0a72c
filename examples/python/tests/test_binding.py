#!/usr/bin/env python3
"""The Python package against an installed prefix and the signed test world
(tests/binding/run-installed.sh sets it up: PYTHONPATH is the installed
site directory, MS_INSTALL_ROOT the DESTDIR, no MAILSEC_LIBDIR)."""
import os
import sys

import mailsec
sys.path.insert(0, os.environ["MSTEST_DIR"])
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

# The package and every library come from the installed prefix, found
# without environment variables; the versioned .so.0 is what is loaded.
ROOT = os.environ["MS_INSTALL_ROOT"]
check("package from the installed prefix", mailsec.__file__.startswith(ROOT), mailsec.__file__)
check("no MAILSEC_LIBDIR", "MAILSEC_LIBDIR" not in os.environ)
check("all libraries loaded", sorted(mailsec.LIBRARIES) == [
    "mailsec-dane", "mailsec-dns", "mailsec-mtasts", "mailsec-requiretls", "mailsec-spfdkim"],
    mailsec.LIBRARIES)
check("libraries from the prefix, versioned", all(
    p.startswith(ROOT) and p.endswith(".so." + mailsec.SOVERSION)
    for p in mailsec.LIBRARIES.values()), mailsec.LIBRARIES)

# DKIM: sign with the world's RSA and Ed25519 keys, verify through DNSSEC
msg = b"From: a@good.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nbody\r\n"
rsa_pem = open(os.path.join(WORLD, "pki/dkim/rsa.pem"), "rb").read()
ed_pem = open(os.path.join(WORLD, "pki/dkim/ed.pem"), "rb").read()
sig_rsa = mailsec.dkim_sign(msg, "good.test", "rsa", rsa_pem)
sig_ed = mailsec.dkim_sign(msg, "good.test", "ed", ed_pem, canon="relaxed/simple")
check("dkim sign field", sig_rsa.startswith("DKIM-Signature: ") and "d=good.test" in sig_rsa
      and "s=rsa" in sig_rsa and "a=rsa-sha256" in sig_rsa and sig_rsa.endswith("\r\n"), sig_rsa)
check("dkim sign ed25519", "a=ed25519-sha256" in sig_ed and "c=relaxed/simple" in sig_ed, sig_ed)
signed = sig_rsa.encode() + sig_ed.encode() + msg
try:
    mailsec.dkim_sign(msg, "good.test", "rsa", b"not a key")
    check("dkim sign bad key raises", False)
except mailsec.MailsecError as e:
    check("dkim sign bad key raises", e.status != 0, e)
with mailsec.Resolver(config_file=os.path.join(WORLD, "auth.conf")) as r:
    sigs = mailsec.dkim_verify(r, signed, chunk=7)
    check("dkim two passes", sorted((x.result, x.selector, x.dnssec) for x in sigs)
          == [("pass", "ed", "secure"), ("pass", "rsa", "secure")], sigs)
    bad = mailsec.dkim_verify(r, signed.replace(b"body", b"BODY"))
    check("dkim tampered", [x.result for x in bad] == ["fail", "fail"], bad)
    check("dkim unsigned", mailsec.dkim_verify(r, b"From: a@b.test\r\n\r\nhi\r\n") == [])

    # inbound authentication in one call (ms_auth): mx1.good.test sends
    # for good.test (SPF "mx", PTR 127.0.1.1), signed: everything passes
    a = mailsec.auth(r, signed, "127.0.1.1", "mx1.good.test", "a@good.test", "mx.example.net",
                     flags=mailsec.AUTH_APPLY_POLICY)
    check("auth spf pass", a.spf == "pass" and a.spf_dnssec == "secure", a)
    check("auth dkim pass", a.dkim == ["pass", "pass"], a)
    check("auth dmarc pass", a.dmarc == "pass" and a.dmarc_from_domain == "good.test"
          and a.dmarc_dnssec == "secure", a)
    check("auth iprev pass", a.iprev == "pass", a)
    check("auth accept", a.disposition == "accept", a)
    check("auth header", a.header.startswith("Authentication-Results: mx.example.net;")
          and "dkim=pass" in a.header and "header.d=good.test" in a.header
          and "spf=pass" in a.header and "dmarc=pass" in a.header, a.header)
    check("auth received-spf", a.received_spf.startswith("Received-SPF: pass"), a.received_spf)
    # a spoofed From of the p=reject domain from elsewhere, unsigned
    f = mailsec.auth(r, msg, "192.0.2.99", "evil.example", "x@good.test", "mx.example.net",
                     flags=mailsec.AUTH_APPLY_POLICY)
    check("auth spoof rejected", f.spf == "fail" and f.dkim == [] and f.dmarc == "fail"
          and f.disposition == "reject", f)

    # MTA-STS: the policy over real HTTPS from the demo policy host, cached
    # in SQLite, then from the cache
    port = os.environ["MS_HTTPS_PORT"]
    cache = os.path.join(os.environ["MS_TEST_TMP"], "sts.sqlite")
    kw = dict(cache=cache, ca_file=os.path.join(WORLD, "pki/demo/ca.pem"),
              connect_to=f"::127.0.1.10:{port}", timeout_ms=20000)
    p = mailsec.sts_policy_get(r, "good.test", **kw)
    check("sts fetched", p.applies and p.source == "fetched" and p.mode == "enforce"
          and p.policy_id == "20261128T1" and p.failure == "", p)
    check("sts mx match", p.check_mx("mx1.good.test") and not p.check_mx("mx.evil.example"), p)
    p2 = mailsec.sts_policy_get(r, "good.test", **kw)
    check("sts cached", p2.applies and p2.source == "cache" and p2.mx == p.mx, p2)
    n = mailsec.sts_policy_get(r, "nostarttls.test", **kw)
    check("sts none", not n.applies and n.mode is None and n.mx == [], n)

# REQUIRETLS: the plan of one MX host (ms_rtls_plan, the caller's version)
pl = mailsec.rtls_plan("example.org", "mx1.example.org", requirement="required",
                       mx_security="insecure", addr_security="insecure")
check("rtls required without a verified path", pl.mode == "skip" and pl.enhanced == "5.7.30"
      and pl.skip_verdict == "try-next", pl)
pl = mailsec.rtls_plan("good.test", "mx1.good.test", requirement="required", dane="usable")
check("rtls required over dane", pl.mode == "dane" and pl.verify_dane and pl.need_requiretls, pl)
pl = mailsec.rtls_plan("good.test", "mx1.good.test", mx_security="insecure",
                       addr_security="insecure", sts_mode="enforce", sts_match=True)
check("rtls sts enforce", pl.mode == "pkix" and pl.verify_pkix and not pl.need_requiretls, pl)
pl = mailsec.rtls_plan("good.test", "mx1.good.test", dane="failed")
check("rtls tlsa lookup failed skips", pl.mode == "skip" and pl.skip_verdict != "deliver"
      and pl.enhanced.startswith("4."), pl)

check.finish()
