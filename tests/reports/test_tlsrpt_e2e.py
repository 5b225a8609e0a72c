#!/usr/bin/env python3
"""TLSRPT (RFC 8460) end to end over loopback: real deliveries through
`mailsec tlsrpt record` (librequiretls's delivery with libreports' recorder
as the attempt observer) to the demo world's peers and to a scripted peer
whose TLS handshake breaks, the day's report built from the SQLite store,
checked by an independent reading (Python json plus RFC 8460 s4's field
rules), then sent to the destinations good.test publishes in its signed
_smtp._tls record: POSTed to the demo HTTPS host and mailed (DKIM-signed,
TLS-Required: No) to the demo SMTP peer, whose log shows both arrived;
both received copies parsed back with `mailsec tlsrpt parse`.  Fail closed:
a domain whose lookup times out gets nothing sent and exit 3, a domain
without a record exit 1 and nothing sent.

    test_tlsrpt_e2e.py MAILSEC   (MS_TEST_WORLD, MS_SOURCE_ROOT from meson)
"""
import base64
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
SRC = os.environ["MS_SOURCE_ROOT"]
WORLD = os.environ["MS_TEST_WORLD"]
PEERS = tempfile.mkdtemp(prefix="mailsec-tlsrpt-")
os.symlink(os.path.join(WORLD, "pki"), os.path.join(PEERS, "pki"))
LOG = os.path.join(PEERS, "peers.log")
CA = os.path.join(WORLD, "pki/demo/ca.pem")
DB = os.path.join(PEERS, "tlsrpt.db")
check = mstest.Checks()

smtp_port, https_port = mstest.free_port("127.0.1.1"), mstest.free_port("127.0.1.10")
GLOBAL = ["--dns-config", os.path.join(WORLD, "auth.conf"), "--timeout", "10"]
REPORT = ["--db", DB, "--org", "mailsec test sender", "--contact", "mailto:postmaster@example.test",
          "--submitter", "mail.example.test"]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RESULT_TYPES = {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
                "dane-required", "sts-policy-fetch-error", "sts-policy-invalid",
                "sts-webpki-invalid"}


def mailsec(*args, timeout=120):
    p = subprocess.run([MAILSEC, *GLOBAL, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def record(to, port, msg):
    return mailsec("tlsrpt", "record", "--db", DB, "--from", "alice@example.test", "--to", to,
                   "--port", str(port), "--ca-file", CA,
                   "--connect-to", f"::127.0.1.10:{https_port}", msg)


def rfc8460_shape(doc):
    """RFC 8460 s4.4's required fields and types, read independently of the
    library; returns a list of problems."""
    bad = []
    for k in ("organization-name", "contact-info", "report-id"):
        if not isinstance(doc.get(k), str) or not doc[k]:
            bad.append(f"{k} missing")
    dr = doc.get("date-range") or {}
    for k in ("start-datetime", "end-datetime"):
        if not RFC3339.match(str(dr.get(k))):
            bad.append(f"date-range.{k} not RFC 3339: {dr.get(k)}")
    if not isinstance(doc.get("policies"), list):
        return bad + ["policies not a list"]
    for p in doc["policies"]:
        pol, s = p.get("policy", {}), p.get("summary", {})
        if pol.get("policy-type") not in ("tlsa", "sts", "no-policy-found"):
            bad.append(f"policy-type {pol.get('policy-type')}")
        if not isinstance(pol.get("policy-domain"), str):
            bad.append("policy-domain")
        if pol.get("policy-type") != "no-policy-found" and not pol.get("policy-string"):
            bad.append("policy-string missing for a tlsa/sts policy")
        for k in ("total-successful-session-count", "total-failure-session-count"):
            if not isinstance(s.get(k), int) or s[k] < 0:
                bad.append(f"summary.{k}")
        details = p.get("failure-details", [])
        for d in details:
            if d.get("result-type") not in RESULT_TYPES:
                bad.append(f"result-type {d.get('result-type')}")
            if not isinstance(d.get("failed-session-count"), int):
                bad.append("failed-session-count")
        if sum(d.get("failed-session-count", 0) for d in details) != s.get(
                "total-failure-session-count"):
            bad.append("failure-details do not add up to total-failure-session-count")
    return bad


peers_pid = None
bad_peer = None
try:
    peers_pid = int(subprocess.run(
        ["sh", os.path.join(SRC, "tests/world/peers/start-peers.sh"), PEERS, str(smtp_port),
         str(https_port)], capture_output=True, text=True, check=True).stdout.split()[0])
    # the scripted peer whose STARTTLS handshake breaks, on good.test's MX addresses
    bad_peer = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(SRC, "tests/hardening/send/send_peer.py"),
         os.path.join(PEERS, "badtls.log"), "badtls",
         os.path.join(WORLD, "pki/demo/mx1.good.test.chain.pem"),
         os.path.join(WORLD, "pki/demo/mx1.good.test.key"), "127.0.1.1", "127.0.1.2"],
        stdout=subprocess.PIPE, text=True)
    bad_port = int(bad_peer.stdout.readline())
    msg = os.path.join(PEERS, "m.eml")
    with open(msg, "w") as f:
        f.write("From: alice@example.test\nTo: bob@good.test\nSubject: t\n\nhello\n")
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")

    # ---- a day of deliveries: 3 good, 2 broken (each tries both MX hosts),
    # one to a host without STARTTLS ----
    for i in range(3):
        rc, out, err = record("bob@good.test", smtp_port, msg)
        check(f"record good {i}", rc == 0, f"rc={rc} {out}{err}")
    for i in range(2):
        rc, out, err = record("bob@good.test", bad_port, msg)
        check(f"record broken TLS {i} (not delivered)", rc == 1, f"rc={rc} {out}{err}")
    rc, out, err = record("eve@nostarttls.test", smtp_port, msg)
    check("record nostarttls (plaintext delivery)", rc == 0, f"rc={rc} {out}{err}")
    # stsgap.test publishes MTA-STS; its policy host is unreachable here (a
    # closed port): delivered without a policy, reported under "sts"
    rc, out, err = mailsec("tlsrpt", "record", "--db", DB, "--from", "alice@example.test",
                           "--to", "dan@stsgap.test", "--port", str(smtp_port), "--ca-file", CA,
                           "--connect-to", f"::127.0.1.10:{mstest.free_port('127.0.1.10')}", msg)
    check("record stsgap without its policy (delivered)", rc == 0, f"rc={rc} {out}{err}")

    # ---- the report: shape, counts, file name, gzip ----
    rc, out, err = mailsec("tlsrpt", "report", *REPORT, "--domain", "good.test", "--out", PEERS)
    check("report rc", rc == 0, f"rc={rc} {err}")
    doc = json.loads(out)
    check("report RFC 8460 s4 shape", not rfc8460_shape(doc), rfc8460_shape(doc))
    check("report period is the UTC day",
          doc["date-range"] == {"start-datetime": f"{day}T00:00:00Z",
                                "end-datetime": f"{day}T23:59:59Z"}, doc["date-range"])
    pols = {tuple(p["policy"]["mx-host"]): p for p in doc["policies"]}
    check("two TLSA policies (mx1: 3 1 1 x2, mx2: 2 1 1)",
          set(pols) == {("mx1.good.test",), ("mx2.good.test",)}, list(pols))
    p1, p2 = pols.get(("mx1.good.test",)), pols.get(("mx2.good.test",))
    if p1 and p2:
        check("mx1 policy strings are its TLSA records",
              [s[:6] for s in p1["policy"]["policy-string"]] == ["3 1 1 ", "3 1 1 "],
              p1["policy"])
        check("mx2 policy string", [s[:6] for s in p2["policy"]["policy-string"]] == ["2 1 1 "],
              p2["policy"])
        check("mx1 summary 3 ok 2 failed",
              p1["summary"] == {"total-successful-session-count": 3,
                                "total-failure-session-count": 2}, p1["summary"])
        check("mx2 summary 0 ok 2 failed",
              p2["summary"] == {"total-successful-session-count": 0,
                                "total-failure-session-count": 2}, p2["summary"])
        # details are per (result, host, IP, reason): the two broken sessions
        # may carry different OpenSSL texts, the counts add up either way
        ds = p1.get("failure-details", [])
        check("mx1 failure details", ds and all(
            d.get("result-type") == "validation-failure" and
            d.get("receiving-mx-hostname") == "mx1.good.test" and
            d.get("receiving-ip") == "127.0.1.1" and d.get("failure-reason-code")
            for d in ds) and sum(d["failed-session-count"] for d in ds) == 2, ds)
    names = [n for n in os.listdir(PEERS) if n.endswith(".json.gz")]
    check("s5.1 file name", len(names) == 1 and re.match(
        r"^mail\.example\.test!good\.test!(\d+)!(\d+)\.json\.gz$", names[0]), names)
    if names:
        b, e = map(int, names[0][:-len(".json.gz")].split("!")[2:4])
        start = int(datetime.datetime.strptime(day, "%Y-%m-%d").replace(
            tzinfo=datetime.timezone.utc).timestamp())
        check("file name timestamps are the day", (b, e) == (start, start + 86399), (b, e))
        with open(os.path.join(PEERS, names[0]), "rb") as f:
            check("the file is the gzip of the JSON", json.loads(gzip.decompress(f.read())) == doc)
    # no-policy-found for the host without STARTTLS
    rc, out, err = mailsec("tlsrpt", "report", *REPORT, "--domain", "nostarttls.test")
    nd = json.loads(out) if rc == 0 else {}
    np = nd.get("policies", [{}])[0]
    check("no-policy-found with starttls-not-supported",
          np.get("policy", {}).get("policy-type") == "no-policy-found" and
          np.get("failure-details", [{}])[0].get("result-type") == "starttls-not-supported",
          out + err)

    rc, out, err = mailsec("tlsrpt", "report", *REPORT, "--domain", "stsgap.test")
    sd = json.loads(out) if rc == 0 else {}
    sp = (sd.get("policies") or [{}])[0]
    check("policy fetch failure reported under sts",
          sp.get("policy", {}).get("policy-type") == "sts" and
          sp.get("summary", {}).get("total-failure-session-count") == 1 and
          sp.get("failure-details", [{}])[0].get("result-type") == "sts-policy-fetch-error",
          out + err)

    # ---- sending: only to what good.test publishes ----
    before = len(mstest.read_lines(LOG))
    rc, out, err = mailsec("--json", "tlsrpt", "send", *REPORT, "--domain", "good.test",
                           "--from", "tlsrpt@example.test", "--port", str(smtp_port),
                           "--ca-file", CA, "--connect-to", f"::127.0.1.10:{https_port}",
                           "--https-connect-to", f"mta-sts.good.test:443::{https_port}",
                           "--dkim-key", os.path.join(WORLD, "pki/dkim/ed.pem"),
                           "--dkim-selector", "ed", "--dkim-domain", "good.test")
    check("send rc", rc == 0, f"rc={rc} {out} {err}")
    res = json.loads(out) if out.strip() else {}
    dests = {d["uri"]: d for d in res.get("destinations", [])}
    check("sent to exactly the published destinations",
          set(dests) == {"mailto:tlsrpt@good.test", "https://mta-sts.good.test/tlsrpt"}, dests)
    check("both accepted", all(d["ok"] for d in dests.values()), dests)
    new = mstest.read_lines(LOG)[before:]
    check("demo HTTPS host logged the POST", any(
        l.startswith("https-post host=mta-sts.good.test path=/tlsrpt "
                     "content-type=application/tlsrpt+gzip") and "status=200" in l and
        f"report-id={doc['report-id']}" in l for l in new), new)
    check("demo SMTP peer logged the mail over TLS", any(
        l.startswith("host=mx1.good.test from=tlsrpt@example.test rcpt=tlsrpt@good.test tls=True")
        for l in new), new)
    kept = sorted(n for n in os.listdir(PEERS) if n.startswith("tlsrpt-"))
    mails = [n for n in kept if n.endswith(".eml")]
    posts = [n for n in kept if n.endswith(".json.gz")]
    check("one mail and one POST kept", len(mails) == 1 and len(posts) == 1, kept)
    if mails:
        with open(os.path.join(PEERS, mails[0]), "rb") as f:
            raw = f.read()
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        check("TLS-Required: No", "\r\nTLS-Required: No\r\n" in head, head)
        check("multipart/report; report-type=tlsrpt",
              'Content-Type: multipart/report; report-type="tlsrpt";' in head, head)
        check("DKIM-signed", head.startswith("DKIM-Signature:") and " d=good.test;" in head and
              "tls-required" in head.lower().split("h=", 1)[-1].split(";", 1)[0], head)
        # an independent DKIM verifier (Debian's python3-dkim) with the
        # world's published key for ed._domainkey.good.test
        with open(os.path.join(WORLD, "vars")) as f:
            edp = [l.split("=", 1)[1].strip() for l in f if l.startswith("DKIM_ED_P=")][0]
        v = subprocess.run(
            ["/usr/bin/python3", "-c",
             "import dkim, sys\n"
             "raw = open(sys.argv[1], 'rb').read()\n"
             "rec = sys.argv[2].encode()\n"
             "print(dkim.verify(raw, dnsfunc=lambda name, timeout=5: rec))",
             os.path.join(PEERS, mails[0]), f"v=DKIM1; k=ed25519; p={edp}"],
            capture_output=True, text=True)
        check("python3-dkim verifies the report mail", v.stdout.strip() == "True",
              v.stdout + v.stderr)
        check("Subject per s5.3", f"Subject: Report Domain: good.test Submitter: "
              f"mail.example.test Report-ID: <{doc['report-id']}>" in head, head)
        # the gzip part, read with the standard library's email parser
        import email
        m = email.message_from_bytes(raw)
        parts = [p for p in m.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
        check("one application/tlsrpt+gzip part", len(parts) == 1)
        if parts:
            check("the mailed report is the report",
                  json.loads(gzip.decompress(parts[0].get_payload(decode=True))) == doc)
            check("attachment file name", parts[0].get_filename() == names[0] if names else False,
                  parts[0].get_filename())
        rc, out, err = mailsec("--json", "tlsrpt", "parse", os.path.join(PEERS, mails[0]))
        pv = json.loads(out) if rc == 0 else {}
        check("parse the received mail", rc == 0 and pv.get("report-id") == doc["report-id"] and
              sorted((p["successful"], p["failed"]) for p in pv["policies"]) == [(0, 2), (3, 2)],
              out + err)
    if posts:
        rc, out, err = mailsec("tlsrpt", "parse", os.path.join(PEERS, posts[0]))
        check("parse the POSTed gzip (table)", rc == 0 and "validation-failure" in out and
              doc["report-id"] in out, out + err)

    # ---- the probe reports a refused STARTTLS as RFC 8460 does ----
    rc, out, err = mailsec("--json", "dane", "probe", "mx.nostarttls.test", "--connect",
                           f"127.0.1.6:{smtp_port}")
    pj = json.loads(out) if out.strip() else {}
    check("dane probe: 454 to STARTTLS is starttls-not-supported",
          pj.get("tlsrpt_result") == "starttls-not-supported", out + err)

    # ---- fail closed and nowhere else ----
    before = len(mstest.read_lines(LOG))
    rc, out, err = mailsec("tlsrpt", "send", *REPORT, "--domain", "slow.example.test",
                           "--from", "tlsrpt@example.test", "--port", str(smtp_port),
                           "--ca-file", CA, "--timeout", "2")
    check("lookup timeout: exit 3, an error, not 'no destination'",
          rc == 3 and "publishes no" not in err, f"rc={rc} {out} {err}")
    rc, out, err = mailsec("tlsrpt", "send", *REPORT, "--domain", "nostarttls.test",
                           "--from", "tlsrpt@example.test", "--port", str(smtp_port),
                           "--ca-file", CA)
    check("no record: exit 1, nothing sent", rc == 1 and "publishes no report destination" in out,
          f"rc={rc} {out} {err}")
    check("nothing reached a peer", mstest.read_lines(LOG)[before:] == [],
          mstest.read_lines(LOG)[before:])
    rc, out, err = mailsec("tlsrpt", "send", *REPORT, "--domain", "good.test", "--to",
                           "x@evil.test", "--from", "a@example.test")
    check("there is no option to name a destination", rc == 2, f"rc={rc} {err}")
    rc, out, err = mailsec("tlsrpt", "parse", msg)
    check("parse of a plain mail: exit 1", rc == 1 and "not a TLS report" in err, err)
finally:
    if bad_peer:
        bad_peer.kill()
        bad_peer.wait()
    if peers_pid:
        os.kill(peers_pid, 15)
    subprocess.run(["rm", "-rf", PEERS])
check.finish()
