#!/usr/bin/env python3
"""The `mailsec dmarc-report` CLI contract on the signed test world:
record (ms_auth verdicts into SQLite), report (XML or gzip), parse (text
and --json), usage errors.  The XML is checked by independent tools:
xmllint against the RFC 7489 Appendix C schema, Python's ElementTree and
gzip for the content, Python's json for `parse --json`."""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
WORLD = os.environ["MS_TEST_WORLD"]
CONF = os.path.join(WORLD, "auth.conf")
XSD = os.path.join(os.environ["MS_SOURCE_ROOT"], "tests", "reports", "rfc7489-appendix-c.xsd")
T = 1764640000            # 2025-12-02 01:46:40 UTC
check = mstest.Checks()


def run(*args, now=T, inp=None):
    p = subprocess.run([MAILSEC, "--dns-config", CONF, "--now", str(now), *args],
                       capture_output=True, timeout=120, input=inp)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


with tempfile.TemporaryDirectory() as d:
    db = os.path.join(d, "dmarc.db")
    msg = os.path.join(d, "m.eml")
    with open(msg, "wb") as f:
        f.write(b"From: Joe <joe@good.test>\r\nTo: x@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    rc, signed, err = run("dkim", "sign", "--domain", "good.test", "--selector", "rsa", "--key",
                          os.path.join(WORLD, "pki", "dkim", "rsa.pem"), msg)
    check("dkim sign", rc == 0 and signed.startswith("DKIM-Signature:"), err)
    smsg = os.path.join(d, "s.eml")
    with open(smsg, "w") as f:
        f.write(signed)
    rc, out, err = run("dmarc-report", "record", "--db", db, "--ip", "127.0.1.1", "--helo",
                       "mx1.good.test", "--sender", "joe@good.test", smsg)
    check("record pass", rc == 0 and out.startswith("recorded: yes (dmarc=pass"), out + err)
    for _ in range(2):
        rc, out, err = run("--json", "dmarc-report", "record", "--db", db, "--ip", "192.0.2.9",
                           "--helo", "evil.example", "--sender", "joe@good.test", msg)
        j = json.loads(out) if rc == 0 else {}
        check("record fail --json", j == {"recorded": True, "dmarc": "fail",
                                          "disposition": "reject"}, out + err)
    rc, out, err = run("dmarc-report", "record", "--db", db, "--ip", "127.0.1.1", "--helo",
                       "mx1.good.test", "--sender", "r@route.test", msg.replace("m.eml", "x"))
    check("record unreadable file is a usage error", rc == 2, f"rc={rc} {err}")
    # a message from a domain without DMARC is not recorded
    nop = os.path.join(d, "n.eml")
    with open(nop, "wb") as f:
        f.write(b"From: r@route.test\r\nSubject: x\r\n\r\nx\r\n")
    rc, out, err = run("dmarc-report", "record", "--db", db, "--ip", "127.0.1.1", "--helo",
                       "mx1.good.test", "--sender", "r@route.test", nop)
    check("no policy: not recorded", rc == 0 and out.startswith("recorded: no"), out + err)

    # the report of the previous UTC day (the default period) as gzip
    gz = os.path.join(d, "r.xml.gz")
    rc, out, err = run("dmarc-report", "report", "--db", db, "--domain", "good.test",
                       "--org-name", "Example Receiver", "--email", "dmarc@example.net",
                       "--out", gz, now=T + 86400)
    check("report --out", rc == 0 and "2 row(s), 3 message(s)" in out, out + err)
    xml = gzip.decompress(open(gz, "rb").read())
    p = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", XSD, "-"], input=xml,
                       capture_output=True)
    check("xmllint validates against RFC 7489 Appendix C", p.returncode == 0, p.stderr)
    root = ET.fromstring(xml)
    check("root feedback", root.tag == "feedback", root.tag)
    check("date_range is the previous day",
          root.findtext("report_metadata/date_range/begin") == str(T // 86400 * 86400) and
          root.findtext("report_metadata/date_range/end") == str(T // 86400 * 86400 + 86400),
          ET.tostring(root.find("report_metadata")))
    check("policy_published p=reject", root.findtext("policy_published/p") == "reject")
    rows = {r.findtext("row/source_ip"): r for r in root.findall("record")}
    check("two rows", set(rows) == {"127.0.1.1", "192.0.2.9"}, list(rows))
    check("fail row count 2", rows.get("192.0.2.9") is not None and
          rows["192.0.2.9"].findtext("row/count") == "2")
    check("pass row has the DKIM selector", rows.get("127.0.1.1") is not None and
          rows["127.0.1.1"].findtext("auth_results/dkim/selector") == "rsa")
    # another day: no rows
    rc, out, err = run("dmarc-report", "report", "--db", db, "--domain", "good.test",
                       "--org-name", "R", "--email", "d@example.net", "--out",
                       os.path.join(d, "empty.xml"), now=T + 3 * 86400)
    check("empty period", rc == 0 and "0 row(s), 0 message(s)" in out, out + err)

    # parse: text and JSON
    rc, out, err = run("dmarc-report", "parse", gz)
    check("parse text", rc == 0 and "org:      Example Receiver" in out and
          "messages: 3" in out, out + err)
    rc, out, err = run("--json", "dmarc-report", "parse", gz)
    j = json.loads(out) if rc == 0 else {}
    check("parse --json org/period", j.get("org_name") == "Example Receiver" and
          j.get("begin") == T // 86400 * 86400 and j.get("messages") == 3, out + err)
    counts = {r["source_ip"]: r["count"] for r in j.get("records", [])}
    check("parse --json per source IP counts", counts == {"127.0.1.1": 1, "192.0.2.9": 2},
          counts)
    bad = os.path.join(d, "bad.xml")
    with open(bad, "w") as f:
        f.write('<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY a "x">]><feedback/>')
    rc, out, err = run("dmarc-report", "parse", bad)
    check("parse refuses a DTD with exit 1", rc == 1 and "document type" in err, err)
    rc, out, err = run("dmarc-report", "frobnicate")
    check("unknown verb is a usage error", rc == 2, f"rc={rc}")
    rc, out, err = run("dmarc-report", "report", "--domain", "good.test")
    check("report without --db is a usage error", rc == 2 and "--db" in err, err)

check.finish()
