#!/usr/bin/env python3
"""`mailsec check` on every domain of the demo mail world, with the loopback
peers running: the healthy domain passes everything, each broken domain
shows the right finding for the right reason."""
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'send'))
import fake_peer  # noqa: E402

MAILSEC = sys.argv[1]
SRC = os.environ["MS_SOURCE_ROOT"]
WORLD = os.environ["MS_TEST_WORLD"]
check = mstest.Checks()


def free_port(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def free_port_both():
    # the SMTP peers listen on 127.0.1.x and on [::1] at one port
    for _ in range(50):
        with socket.socket(socket.AF_INET6) as s6:
            s6.bind(("::1", 0))
            port = s6.getsockname()[1]
            try:
                with socket.socket() as s4:
                    s4.bind(("127.0.1.1", port))
                    return port
            except OSError:
                continue
    raise RuntimeError("no port free on both 127.0.1.1 and ::1")


smtp_port, https_port = free_port_both(), free_port("127.0.1.10")
# The peers run in a private directory (the world's PKI linked in), so a
# test running beside this one cannot race on their ready file or log.
PEERS = tempfile.mkdtemp(prefix="mailsec-check-peers-")
os.symlink(os.path.join(WORLD, "pki"), os.path.join(PEERS, "pki"))
pid = int(subprocess.check_output(["sh", os.path.join(SRC, "tests/world/peers/start-peers.sh"),
                                   PEERS, str(smtp_port), str(https_port)], text=True).strip())


def run_check(domain, *extra, port=None):
    # global options (--json) may stand anywhere: everything extra goes last
    p = subprocess.run([MAILSEC, "--dns-config", os.path.join(WORLD, "auth.conf"), "--timeout", "10",
                        "check", domain, "--port", str(port or smtp_port),
                        "--ca-file", os.path.join(WORLD, "pki/demo/ca.pem"),
                        "--connect-to", f"::127.0.1.10:{https_port}", *extra],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


# internet.nl's mail subtests that an offline check can decide (docs/check.md:
# the 24 full and 4 partial ones; dnssec_exists / dnssec_mx_exists appear
# only for an unsigned zone, dnssec_valid / dnssec_mx_valid when signed)
IN_REACH = {"ns_aaaa", "mx_aaaa", "mx_reach", "dnssec_valid", "dnssec_mx_valid", "dmarc",
            "dmarc_policy", "dkim", "spf", "spf_policy", "starttls_exists", "fs_params",
            "tls_ciphers", "tls_cipher_order", "tls_version", "renegotiation_secure",
            "renegotiation_client", "cert_trust", "cert_pubkey", "cert_signature",
            "cert_hostmatch", "dane_exists", "dane_valid", "dane_rollover", "zero_rtt",
            "kex_hash_func"}
# the findings docs/check.md documents as info whatever the domain does:
# out of reach offline
OUT_OF_REACH = {"ns_reach", "tls_compression", "mail_rpki_exists"}


def not_passing(j, allowed_info=OUT_OF_REACH):
    return [f for f in j["findings"] if f["status"] != "pass"
            and not (f["status"] == "info" and f["key"] in allowed_info)]


def keyed(j, key, status=None, item=None):
    return [f for f in j["findings"] if f["key"] == key and (status is None or f["status"] == status)
            and (item is None or f["item"] == item)]


def sj_id(sj):
    """The id of the _mta-sts record `mailsec setup` printed."""
    for r in sj["records"]:
        if r["owner"].startswith("_mta-sts.") and r["type"] == "TXT":
            return r["data"].split("id=")[1].split(";")[0]
    return None


def findings(j, area=None, status=None, item=None):
    return [f for f in j.get("findings", []) if (area is None or f["area"] == area)
            and (status is None or f["status"] == status) and (item is None or f["item"] == item)]


try:
    rc, out, err = run_check("good.test", "--json", "--dkim-selector", "rsa",
                             "--dkim-selector", "ed", "--dkim-selector", "gone")
    j = json.loads(out)
    # the two published keys pass; a selector without a key is the only failure
    sel = [f for f in findings(j, "dkim") if f["item"].startswith("selector ")]
    check("good dkim", [f["status"] for f in sel] == ["pass", "pass", "fail"]
          and "RSA" in sel[0]["message"] and "Ed25519" in sel[1]["message"], sel)
    check("good dkim _domainkey", [f["status"] for f in findings(j, "dkim", item="_domainkey")]
          == ["pass"], findings(j, "dkim"))
    rc, out, err = run_check("good.test", "--json")
    j = json.loads(out)
    check("good exit", rc == 0, err)
    # good.test has IPv4 only (the send, plan and route tests assert its one
    # address per host): the IPv6 findings (mx_aaaa, ns_aaaa) are the only
    # ones it fails; v6good.test below is the 100% domain.
    bad = [f for f in j["findings"] if f["status"] in ("fail", "warn")]
    check("good verdict", {f["key"] for f in bad} == {"mx_aaaa", "ns_aaaa"}, bad)
    check("good tls quality", all(findings(j, "tls", "pass", m) and not findings(j, "tls", "fail", m)
                                  for m in ("mx1.good.test", "mx2.good.test"))
          and {"tls_version", "tls_ciphers", "fs_params", "renegotiation_secure",
               "renegotiation_client", "cert_trust", "cert_pubkey", "cert_signature",
               "cert_hostmatch", "x_extended_master_secret"}
          <= {f["key"] for f in findings(j, "tls", "pass")}, findings(j, "tls"))
    check("good mx", [m["host"] for m in j["mx"]] == ["mx1.good.test", "mx2.good.test"], j["mx"])
    for m in j["mx"]:
        check("good dane " + m["host"], m["dane"]["verdict"] == "verified", m["dane"])
        check("good tls " + m["host"], m["starttls"] is True and m["requiretls"] is True
              and m["pkix_valid"] is True and m["tls"].startswith("TLSv1."), m)
    check("good dane depths", [m["dane"]["depth"] for m in j["mx"]] == [0, 1], j["mx"])
    # every finding names its internet.nl subtest (or an x_ key of ours)
    check("good keys", all(isinstance(f.get("key"), str) and f["key"] for f in j["findings"])
          and {"dane_valid", "dane_rollover", "starttls_exists", "spf", "dmarc_policy", "x_mta_sts"}
          <= {f["key"] for f in j["findings"]}, j["findings"])
    check("good rollover", findings(j, "dane", "pass", "mx1.good.test rollover") != [], j["findings"])
    check("good sts", j["mta_sts"] == {"policy": True, "mode": "enforce", "id": "20261128T1"}, j["mta_sts"])
    check("good scores", all(v == 100 for k, v in j["scores"].items() if k != "ipv6")
          and {"mx", "dnssec", "dane", "mta-sts", "tls", "tlsrpt", "spf", "dmarc"} <= set(j["scores"]),
          j["scores"])

    # v6good.test: set up like good.test and reachable over IPv6 (every MX
    # host and two name servers have AAAA ::1; the peers' [::1] listener
    # serves each MX host's certificate by SNI).  Every internet.nl subtest
    # in reach passes; the only others are the documented out-of-reach infos.
    rc, out, err = run_check("v6good.test", "--json", "--dkim-selector", "rsa", "--dkim-selector", "ed")
    j = json.loads(out)
    check("v6good exit", rc == 0 and j["verdict"] == "pass", (rc, err))
    check("v6good all pass", not_passing(j) == [], not_passing(j))
    check("v6good every subtest", {f["key"] for f in j["findings"] if f["status"] == "pass"} >= IN_REACH,
          IN_REACH - {f["key"] for f in j["findings"] if f["status"] == "pass"})
    check("v6good scores", len(j["scores"]) == 13 and all(v == 100 for v in j["scores"].values()),
          j["scores"])
    check("v6good ipv6", keyed(j, "ns_aaaa", "pass") and "2 of 3" in keyed(j, "ns_aaaa")[0]["message"]
          and [f["item"] for f in keyed(j, "mx_aaaa", "pass")] == ["mx1.v6good.test", "mx2.v6good.test"],
          keyed(j, "ns_aaaa") + keyed(j, "mx_aaaa"))
    # every address of every MX host answers (internet.nl mx_reach), and
    # each one is its own TLS and certificate finding
    for h, a in (("mx1.v6good.test", "127.0.1.21"), ("mx2.v6good.test", "127.0.1.22")):
        check("v6good mx_reach " + h, keyed(j, "mx_reach", "pass", h + " ::1") != [], keyed(j, "mx_reach"))
        for addr in (a, "::1"):
            check(f"v6good tls {h} {addr}", all(keyed(j, k, "pass", f"{h} {addr}") for k in
                  ("starttls_exists", "tls_version", "cert_hostmatch", "cert_pubkey", "tls_ciphers")),
                  [f for f in j["findings"] if f["item"] == f"{h} {addr}"])
    check("v6good mx", [(m["host"], m["addresses"], m["dane"]["verdict"]) for m in j["mx"]]
          == [("mx1.v6good.test", ["127.0.1.21", "::1"], "verified"),
              ("mx2.v6good.test", ["127.0.1.22", "::1"], "verified")], j["mx"])

    rc, out, err = run_check("bogus.test", "--json")
    j = json.loads(out)
    bog = findings(j, "dnssec", "fail", "MX records")
    check("bogus", j["verdict"] == "fail" and bog and "bogus" in bog[0]["message"]
          and bog[0]["fix"], j["findings"])
    check("bogus no mx used", j["mx"] == [] and j["mx_security"] == "bogus", j["mx"])

    rc, out, err = run_check("badtlsa.test", "--json")
    j = json.loads(out)
    f = findings(j, "dane", "fail", "mx.badtlsa.test")
    check("badtlsa", j["verdict"] == "fail" and j["mx"][0]["dane"]["verdict"] == "no-match"
          and f and "certificate-not-trusted" in f[0]["message"], j["findings"])

    # no MTA-STS and DANE verification failed: not "DANE protects"
    f = findings(j, "mta-sts", item="policy")
    check("badtlsa sts line", f and "DANE protects" not in f[0]["message"] and f[0]["status"] == "warn", f)

    rc, out, err = run_check("stsgap.test", "--json")
    j = json.loads(out)
    check("stsgap mx2", findings(j, "mta-sts", "fail", "mx2.stsgap.test") != []
          and "not in the policy" in findings(j, "mta-sts", "fail", "mx2.stsgap.test")[0]["message"],
          j["findings"])
    check("stsgap mx1 ok", findings(j, "mta-sts", "fail", "mx1.stsgap.test") == []
          and len(findings(j, "mta-sts", "pass", "mx1.stsgap.test")) == 2, j["findings"])

    # A certificate for TLS clients only is no MTA-STS server certificate
    # (RFC 8461 s4.2 needs a TLS server's; EKU clientAuth alone excludes it).
    leaf = mstest.issue_leaf(PEERS, "mx1.stsgap.test", "clientAuth",
                             os.path.join(WORLD, "pki/demo/issuer"))
    fake = fake_peer.start("127.0.1.4", "tls", cert=leaf)
    rc, out, err = run_check("stsgap.test", "--json", port=fake.port)
    fake.stop()
    j = json.loads(out)
    m1 = [m for m in j["mx"] if m["host"] == "mx1.stsgap.test"]
    f = findings(j, "mta-sts", "fail", "mx1.stsgap.test")
    check("stsgap mx1 clientAuth", m1 and m1[0]["starttls"] is True and m1[0]["pkix_valid"] is False
          and f and "purpose" in f[0]["message"], (m1, j["findings"]))

    rc, out, err = run_check("nostarttls.test", "--json")
    j = json.loads(out)
    f = findings(j, "tls", "fail", "mx.nostarttls.test")
    check("nostarttls", j["mx"][0]["starttls"] is False and f and "STARTTLS" in f[0]["message"]
          and "enable STARTTLS" in f[0]["fix"], j["mx"])

    rc, out, err = run_check("daneta.test", "--json")
    j = json.loads(out)
    d = j["mx"][0]["dane"]
    check("daneta", d["verdict"] == "verified" and d["depth"] == 3 and d["matched"].startswith("2 1 1 "), d)
    f = findings(j, "mta-sts", item="policy")
    check("daneta sts line", f and "DANE protects" in f[0]["message"] and f[0]["status"] == "info", f)

    # sender-authentication failure classes (tests/world/zones/weakauth.test)
    rc, out, err = run_check("weakauth.test", "--json", "--no-probe")
    j = json.loads(out)
    check("weakauth +all", keyed(j, "spf_policy", "fail") and "any host passes"
          in keyed(j, "spf_policy")[0]["message"], j["findings"])
    rua = keyed(j, "dmarc", item="reports")
    check("weakauth rua", [(f["status"], "daneta.test" in f["message"]) for f in rua]
          == [("pass", False), ("fail", True)], rua)
    check("weakauth sp=none", keyed(j, "dmarc_policy", "warn", "sp") != [], j["findings"])
    check("weakauth no dkim", keyed(j, "dkim", "fail", "_domainkey") and "NXDOMAIN"
          in keyed(j, "dkim", "fail", "_domainkey")[0]["message"], j["findings"])
    check("weakauth no aaaa", keyed(j, "mx_aaaa", "fail", "mx.weakauth.test") != [], j["findings"])
    check("weakauth tlsrpt", keyed(j, "x_tlsrpt", "fail") and "ftp:" in keyed(j, "x_tlsrpt")[0]["message"],
          j["findings"])
    check("weakauth rpki stated", keyed(j, "mail_rpki_exists", "info") != [], j["findings"])

    rc, out, err = run_check("neutral.test", "--json", "--no-probe", "--dkim-selector", "sel",
                             "--dkim-selector", "bad")
    j = json.loads(out)
    check("neutral ?all", keyed(j, "spf_policy", "fail") and "neutral" in keyed(j, "spf_policy")[0]["message"],
          j["findings"])
    check("neutral p=none", keyed(j, "dmarc_policy", "warn", "policy") != [], j["findings"])
    dk = keyed(j, "dkim", item="selector sel")
    check("neutral dkim t=y short", dk and dk[0]["status"] == "warn" and "t=y" in dk[0]["message"]
          and "1024 bits" in dk[0]["message"], dk)
    dk = keyed(j, "dkim", item="selector bad")
    check("neutral dkim not a key", dk and dk[0]["status"] == "fail" and "SubjectPublicKeyInfo"
          in dk[0]["message"], dk)
    check("neutral aaaa", keyed(j, "mx_aaaa", "pass", "mx.neutral.test") != [], j["findings"])
    # probing: nothing answers on either address of mx.neutral.test (the
    # peers' [::1] listener is at smtp_port: probe a port nobody holds)
    rc, out, err = run_check("neutral.test", "--json", port=free_port_both())
    jp = json.loads(out)
    check("neutral mx_reach", keyed(jp, "mx_reach", "fail", "mx.neutral.test ::1") != []
          and keyed(jp, "starttls_exists", "fail", "mx.neutral.test 127.0.1.12") != [], jp["findings"])
    check("neutral caa", keyed(j, "x_caa", "pass", "mx.neutral.test") and "ca.good.test"
          in keyed(j, "x_caa", "pass")[0]["message"], j["findings"])

    # weak TLS and certificate classes: a peer for mx1.stsgap.test that
    # accepts TLS 1.0 with an RSA-1024 key, a SHA-1 signature and a
    # certificate naming another host
    import ssl
    weak = os.path.join(PEERS, "weak")
    issuer = os.path.join(WORLD, "pki/demo/issuer")
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", weak + ".key")
    sh("openssl", "req", "-new", "-key", weak + ".key", "-subj", "/CN=elsewhere.test", "-out", weak + ".csr")
    with open(weak + ".ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:elsewhere.test\n")
    sh("openssl", "x509", "-req", "-sha1", "-in", weak + ".csr", "-CA", issuer + ".pem", "-CAkey",
       issuer + ".key", "-set_serial", "0x77", "-days", "30", "-extfile", weak + ".ext", "-out", weak + ".pem")
    fake = fake_peer.start("127.0.1.4", "tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.load_cert_chain(weak + ".pem", weak + ".key")
    # the client's order wins, client renegotiation allowed (OpenSSL 3's
    # SSL_OP_ALLOW_CLIENT_RENEGOTIATION, 0x100), no extended master secret
    # (SSL_OP_NO_EXTENDED_MASTER_SECRET, 0x1)
    ctx.options &= ~(ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION)
    ctx.options |= 0x100 | 0x1
    fake.tls = ctx
    rc, out, err = run_check("stsgap.test", "--json", port=fake.port)
    fake.stop()
    j = json.loads(out)
    m1 = "mx1.stsgap.test"
    check("weak tls version", keyed(j, "tls_version", "fail", m1) and "TLSv1.0" in
          keyed(j, "tls_version", "fail", m1)[0]["message"], keyed(j, "tls_version"))
    check("weak rsa-1024", keyed(j, "cert_pubkey", "fail", m1) and "1024" in
          keyed(j, "cert_pubkey", "fail", m1)[0]["message"], keyed(j, "cert_pubkey"))
    check("weak sha1", keyed(j, "cert_signature", "fail", m1) != [], keyed(j, "cert_signature"))
    check("weak name", keyed(j, "cert_hostmatch", "fail", m1) != [], keyed(j, "cert_hostmatch"))
    check("weak cipher order", keyed(j, "tls_cipher_order", "fail", m1) != [], keyed(j, "tls_cipher_order"))
    check("weak ciphers", [f for f in keyed(j, "tls_ciphers", "fail", m1) if "insufficient" in f["message"]]
          != [], keyed(j, "tls_ciphers"))
    check("weak ems", keyed(j, "x_extended_master_secret", "warn", m1) != [], keyed(j, "x_extended_master_secret"))
    check("weak client renegotiation", keyed(j, "renegotiation_client", "fail", m1) != [],
          keyed(j, "renegotiation_client"))
    check("weak trust", keyed(j, "cert_trust", "warn", m1) and "pkix_valid false" in
          keyed(j, "cert_trust", "warn", m1)[0]["message"], keyed(j, "cert_trust"))

    # `mailsec setup`: the records it prints for good.test from the world's
    # keys are the ones the signed good.test zone publishes (and `check`
    # passes spf, spf_policy, dmarc_policy, dkim, dane_valid and
    # dane_rollover on that zone, asserted above)
    demo = os.path.join(WORLD, "pki/demo")
    p = subprocess.run([MAILSEC, "--json", "setup", "good.test", "--mx", "mx1.good.test",
                        "--key", os.path.join(demo, "mx1.good.test.key"),
                        "--next-key", os.path.join(demo, "next.key"), "--mx", "mx2.good.test",
                        "--rua", "dmarc@good.test", "--dkim-selector", "rsa",
                        "--dkim-key", os.path.join(WORLD, "pki/dkim/rsa.pem")],
                       capture_output=True, text=True)
    sj = json.loads(p.stdout)
    recs = {}
    for r in sj["records"]:
        recs.setdefault((r["owner"], r["type"]), []).append(r["data"])

    def published(owner, rtype):
        q = subprocess.run([MAILSEC, "--dns-config", os.path.join(WORLD, "auth.conf"), "--json",
                            "dns", rtype, owner], capture_output=True, text=True)
        d = json.loads(q.stdout)
        return sorted(d["records"]) if d["security"] == "secure" else None
    for key in [("_25._tcp.mx1.good.test", "TLSA"), ("good.test", "TXT"), ("_dmarc.good.test", "TXT"),
                ("rsa._domainkey.good.test", "TXT"), ("good.test", "MX")]:
        # character-string boundaries do not matter (RFC 7208 s3.3, RFC 6376 s3.6.2.2)
        join = lambda v: sorted(x.replace('" "', "") for x in v) if v is not None else None  # noqa: E731
        check("setup " + " ".join(key), join(recs.get(key, [])) == join(published(*key)),
              (recs.get(key), published(*key)))
    pol = sj["files"]["https://mta-sts.good.test/.well-known/mta-sts.txt"]
    check("setup policy", pol == "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\n"
          "mx: mx2.good.test\r\nmax_age: 604800\r\n" and sj["warnings"] == [], sj)
    check("setup tlsrpt", recs.get(("_smtp._tls.good.test", "TXT")) == ['"v=TLSRPTv1; rua=mailto:dmarc@good.test"'],
          recs)
    sts = recs.get(("_mta-sts.good.test", "TXT"), [""])[0]
    check("setup sts id", sts.startswith('"v=STSv1; id=') and sts.endswith(';"'), sts)
    p = subprocess.run([MAILSEC, "setup", "good.test", "--mx", "mx1.good.test", "--key", "/nonexistent.pem",
                        "--rua", "a@good.test"], capture_output=True, text=True)
    check("setup bad key", p.returncode == 2 and "nonexistent" in p.stderr, p.stderr)
    p = subprocess.run([MAILSEC, "setup", "good.test", "--rua", "a@good.test"], capture_output=True, text=True)
    check("setup usage", p.returncode == 2 and p.stderr, p.stderr)

    # Round trip: a zone built from exactly what `mailsec setup` prints for
    # setup.example, signed under its own trust anchor, plus what setup
    # leaves to the operator (the hosts' addresses, two name servers with
    # AAAA, a CAA record naming its CA), and the policy file setup printed
    # served at https://mta-sts.setup.example/.well-known/mta-sts.txt:
    # `check` passes every finding; the only infos are the documented ones
    # (out of reach offline).  The MX hosts are the
    # loopback peers 127.0.1.23/.24 and [::1], whose certificates
    # (tests/world/pki.d/60-check.sh) name mx1/mx2.setup.example and hold
    # the keys given to setup.
    rt = tempfile.mkdtemp(prefix="mailsec-check-setup-")
    p = subprocess.run([MAILSEC, "--json", "setup", "setup.example",
                        "--mx", "mx1.setup.example", "--key", os.path.join(demo, "mx1.setup.example.key"),
                        "--next-key", os.path.join(demo, "next.key"),
                        "--mx", "mx2.setup.example", "--key", os.path.join(demo, "mx2.setup.example.key"),
                        "--next-key", os.path.join(demo, "other.key"),
                        "--rua", "reports@setup.example", "--dkim-selector", "rsa",
                        "--dkim-key", os.path.join(WORLD, "pki/dkim/rsa.pem")],
                       capture_output=True, text=True)
    sj = json.loads(p.stdout)
    os.makedirs(os.path.join(PEERS, "policies"), exist_ok=True)
    with open(os.path.join(PEERS, "policies", "mta-sts.setup.example"), "w", newline="") as f:
        f.write(sj["files"]["https://mta-sts.setup.example/.well-known/mta-sts.txt"])
    with open(os.path.join(rt, "setup.example.zone"), "w") as z:
        z.write("$ORIGIN setup.example.\n$TTL 3600\n"
                "@ IN SOA ns1.test. hostmaster.test. 1 3600 900 604800 300\n@ IN NS ns1.test.\n"
                "@ IN NS ns1.setup.example.\n@ IN NS ns2.setup.example.\n"
                "ns1 IN A 127.0.0.1\nns1 IN AAAA ::1\nns2 IN A 127.0.0.1\nns2 IN AAAA ::1\n"
                "mx1 IN A 127.0.1.23\nmx1 IN AAAA ::1\nmx2 IN A 127.0.1.24\nmx2 IN AAAA ::1\n"
                "mta-sts IN A 127.0.1.10\n@ IN CAA 0 issue \"demo-ca.test\"\n")
        for r in sj["records"]:
            z.write(f'{r["owner"]}. IN {r["type"]} {r["data"]}\n')
    sh("sh", "-c", "cd \"$0\" && ksk=$(dnssec-keygen -q -a ECDSAP256SHA256 -f KSK -n ZONE setup.example) && "
       "dnssec-keygen -q -a ECDSAP256SHA256 -n ZONE setup.example >/dev/null && "
       "dnssec-signzone -q -O full -P -S -K . -s 20240101000000 -e 20371231000000 -o setup.example "
       "-f setup.example.signed setup.example.zone >/dev/null && "
       "dnssec-dsfromkey -2 $ksk.key > setup.ds", rt)
    with open(os.path.join(WORLD, "auth.conf")) as f:
        conf = f.read()
    with open(os.path.join(rt, "auth.conf"), "w") as f:
        f.write(conf + f'\nserver:\n    local-zone: "setup.example." transparent\n'
                f'    trust-anchor-file: "{rt}/setup.ds"\n'
                f'auth-zone:\n    name: "setup.example"\n    zonefile: "{rt}/setup.example.signed"\n'
                "    for-upstream: yes\n    for-downstream: no\n    fallback-enabled: no\n")
    p = subprocess.run([MAILSEC, "--dns-config", os.path.join(rt, "auth.conf"), "--timeout", "10", "--json",
                        "check", "setup.example", "--port", str(smtp_port), "--dkim-selector", "rsa",
                        "--ca-file", os.path.join(WORLD, "pki/demo/ca.pem"),
                        "--connect-to", f"::127.0.1.10:{https_port}"],
                       capture_output=True, text=True, timeout=120)
    shutil.rmtree(rt, ignore_errors=True)
    j = json.loads(p.stdout)
    bad = not_passing(j)
    check("setup round trip", p.returncode == 0 and bad == [], bad or p.stderr)
    got = {f["key"] for f in j["findings"] if f["status"] == "pass"}
    check("setup round trip subtests", got >= IN_REACH | {"x_mta_sts", "x_tlsrpt", "x_requiretls", "x_caa"},
          IN_REACH - got)
    check("setup round trip mx", [(m["host"], m["dane"]["verdict"], m["pkix_valid"]) for m in j["mx"]]
          == [("mx1.setup.example", "verified", True), ("mx2.setup.example", "verified", True)], j["mx"])
    check("setup round trip sts", j["mta_sts"]["policy"] is True and j["mta_sts"]["mode"] == "enforce"
          and j["mta_sts"]["id"] == sj_id(sj) and keyed(j, "x_mta_sts", "pass", "policy") != []
          and all(keyed(j, "x_mta_sts", "pass", h) for h in ("mx1.setup.example", "mx2.setup.example")),
          (j["mta_sts"], keyed(j, "x_mta_sts")))
    check("setup round trip hostmatch", all(keyed(j, "cert_hostmatch", "pass", f"{h} {a}")
                                            for h, a4 in (("mx1.setup.example", "127.0.1.23"),
                                                          ("mx2.setup.example", "127.0.1.24"))
                                            for a in (a4, "::1")), keyed(j, "cert_hostmatch"))

    # human report: sections, summary and fixes
    rc, out, err = run_check("stsgap.test")
    check("human", rc == 0 and "\nmta-sts\n" in out and "overall: fail" in out
          and "pkix_valid true" in out and " tls_version " in out
          and "\nfixes\n" in out and "add an mx: line" in out, out)

    # usage errors
    p = subprocess.run([MAILSEC, "check"], capture_output=True, text=True)
    check("usage", p.returncode == 2 and p.stderr, p.stderr)
finally:
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):  # let the peers exit before their directory goes
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    shutil.rmtree(PEERS, ignore_errors=True)

check.finish()
