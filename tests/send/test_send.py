#!/usr/bin/env python3
"""`mailsec plan` and `mailsec send` end to end on loopback, against the demo
mail world (signed zones, DANE, the MTA-STS policy host, aiosmtpd peers
started by tests/world/peers/start-peers.sh), plus a scripted hostile peer
(tests/send/fake_peer.py) for what the demo peers cannot do: plaintext
injected after STARTTLS, an over-long reply line, a broken TLS handshake.

    test_send.py MAILSEC        (MS_TEST_WORLD, MS_SOURCE_ROOT from meson)

Every case asserts exact results: exit code, JSON keys, and the lines the
peers logged (peers.log: host, tls=, requiretls=, bytes=)."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_peer  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
SRC = os.environ["MS_SOURCE_ROOT"]
WORLD = os.environ["MS_TEST_WORLD"]
SAMPLE = os.path.join(SRC, "tests/send/sample.eml")
# The peers run in a private directory (the world's PKI linked in) so that
# their ready file and log are not shared with other tests running at the
# same time on the same world (tests/check).
PEERS = tempfile.mkdtemp(prefix="mailsec-send-peers-")
os.symlink(os.path.join(WORLD, "pki"), os.path.join(PEERS, "pki"))
LOG = os.path.join(PEERS, "peers.log")
# The sample on the wire: CRLF line ends, lines starting with "." doubled
# (RFC 5321 s4.5.2); the lone "." line in it must not end the DATA early.
with open(SAMPLE, "rb") as _f:
    WIRE = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in _f.read().split(b"\n")[:-1])
check = mstest.Checks()


def log_lines():
    return mstest.read_lines(LOG)


smtp_port, https_port = mstest.free_port("127.0.1.1"), mstest.free_port("127.0.1.10")
GLOBAL = ["--dns-config", os.path.join(WORLD, "auth.conf"), "--timeout", "10"]
FETCH = ["--ca-file", os.path.join(WORLD, "pki/demo/ca.pem"),
         "--connect-to", f"::127.0.1.10:{https_port}"]


def mailsec(*args, timeout=120):
    p = subprocess.run([MAILSEC, *GLOBAL, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def plan(domain, *extra):
    rc, out, err = mailsec("--json", "plan", domain, *FETCH, *extra)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, {}, f"{out}\n{err}"


def send(to, *extra, port=None, metrics=None, msg=SAMPLE):
    """Run send --json; return (rc, json, stderr, new peers.log lines)."""
    before = len(log_lines())
    pre = ["--metrics", metrics] if metrics else []
    rc, out, err = mailsec(*pre, "--json", "send", "--from", "alice@example.test", "--to", to,
                           "--port", str(port or smtp_port), *FETCH, *extra, msg)
    try:
        j = json.loads(out)
    except ValueError:
        j = {"unparsable": out}
    return rc, j, err, log_lines()[before:]


def send_many(tos, *extra, json_out=True):
    """send with one --to per recipient; (rc, json or text, stderr, new log lines)."""
    before = len(log_lines())
    args = ["send", "--from", "alice@example.test"]
    for t in tos:
        args += ["--to", t]
    rc, out, err = mailsec(*(["--json"] if json_out else []), *args, "--port", str(smtp_port),
                           *FETCH, *extra, SAMPLE)
    if json_out:
        try:
            out = json.loads(out)
        except ValueError:
            out = {"unparsable": out}
    return rc, out, err, log_lines()[before:]


def rcpts(j):
    return [(r.get("address"), r.get("domain"), r.get("delivered"), r.get("status"))
            for r in j.get("recipients") or []]


def hosts(j):
    return [(h["host"], h["mode"]) for h in j.get("hosts", [])]


pid = int(subprocess.check_output(["sh", os.path.join(SRC, "tests/world/peers/start-peers.sh"),
                                   PEERS, str(smtp_port), str(https_port)], text=True).strip())
tmp = tempfile.mkdtemp(prefix="mailsec-send-")
try:
    # ---- plan ----------------------------------------------------------
    rc, j, err = plan("good.test")
    check("plan good", rc == 0 and j["domain"] == "good.test" and j["requirement"] == "default"
          and j["mx_security"] == "secure" and j["mta_sts_mode"] == "enforce"
          and hosts(j) == [("mx1.good.test", "dane"), ("mx2.good.test", "dane")], (rc, j, err))
    h = j.get("hosts", [{}])[0]
    check("plan good host", h.get("preference") == 10 and h.get("dane") == "usable"
          and h.get("mta_sts") == {"mode": "enforce", "match": True, "verdict": "pass"}
          and h.get("verify_dane") is True and h.get("verify_pkix") is True
          and h.get("need_requiretls") is False and h.get("mail_params") == ""
          and h.get("addresses") == ["127.0.1.1"] and len(h.get("reasons", [])) >= 4
          and j["mail_params"] == "" and j["undeliverable"] is None, h)

    rc, j, err = plan("good.test", "--requiretls")
    check("plan good requiretls", rc == 0 and j["requirement"] == "required"
          and all(h["need_requiretls"] for h in j["hosts"]) and j["mail_params"] == "REQUIRETLS"
          and any("REQUIRETLS" in r for r in j["hosts"][0]["reasons"]), j)

    rc, j, err = plan("badtlsa.test")
    check("plan badtlsa", rc == 0 and hosts(j) == [("mx.badtlsa.test", "dane")]
          and j["mta_sts_mode"] == "no-policy" and j["hosts"][0]["verify_pkix"] is False, j)
    rc, j, err = plan("badtlsa.test", "--tls-required-no")
    check("plan badtlsa tls-required-no", rc == 0 and j["requirement"] == "not-required"
          and hosts(j) == [("mx.badtlsa.test", "opportunistic-fallback")]
          and j["hosts"][0]["policy_mode"] == "dane", j)

    rc, j, err = plan("stsgap.test")
    check("plan stsgap", rc == 0 and hosts(j) == [("mx1.stsgap.test", "pkix"),
                                                  ("mx2.stsgap.test", "skip")]
          and j["hosts"][1]["status"] == "4.7.5" and j["hosts"][1]["skip_reason"] == "sts_mx_mismatch"
          and j["hosts"][1]["mta_sts"]["match"] is False and j["hosts"][1]["mail_params"] is None, j)
    rc, j, err = plan("stsgap.test", "--requiretls")
    check("plan stsgap requiretls", rc == 0 and hosts(j) == [("mx1.stsgap.test", "pkix"),
                                                             ("mx2.stsgap.test", "skip")]
          and j["hosts"][0]["need_requiretls"] is True and j["mail_params"] == "REQUIRETLS", j)

    rc, j, err = plan("nostarttls.test")
    check("plan nostarttls", rc == 0 and hosts(j) == [("mx.nostarttls.test", "opportunistic")]
          and j["hosts"][0]["dane"] == "insecure", j)
    rc, j, err = plan("nostarttls.test", "--requiretls")
    u = j.get("undeliverable") or {}
    check("plan nostarttls requiretls", rc == 0 and hosts(j) == [("mx.nostarttls.test", "skip")]
          and j["hosts"][0]["status"] == "5.7.30"
          and j["hosts"][0]["skip_reason"] == "no_verified_path" and j["mail_params"] is None
          and u.get("verdict") == "permfail" and u.get("status") == "5.7.30", j)

    rc, j, err = plan("daneta.test", "--requiretls")
    check("plan daneta", rc == 0 and hosts(j) == [("mx.daneta.test", "dane")]
          and j["hosts"][0]["need_requiretls"] is True and j["hosts"][0]["verify_pkix"] is False, j)

    rc, j, err = plan("bogus.test")
    u = j.get("undeliverable") or {}
    check("plan bogus", rc == 0 and j["mx_security"] == "bogus" and j["hosts"] == []
          and u.get("status") == "4.4.3" and u.get("verdict") == "tempfail", j)

    rc, j, err = plan("nosuch.test")
    u = j.get("undeliverable") or {}
    check("plan nxdomain", rc == 0 and j["hosts"] == [] and u.get("status") == "5.1.2", j)
    rc, j, err = plan("nullmx.example.test")
    u = j.get("undeliverable") or {}
    check("plan null mx", rc == 0 and j["null_mx"] is True and j["hosts"] == []
          and u.get("status") == "5.1.10" and u.get("verdict") == "permfail", j)

    rc, out, err = mailsec("plan", "stsgap.test", *FETCH)
    check("plan human", rc == 0 and "MX 20 mx2.stsgap.test: skip" in out
          and "not listed in the MTA-STS policy" in out, out + err)

    # ---- send ----------------------------------------------------------
    mem = os.path.join(tmp, "memory.sqlite")
    rc, j, err, new = send("bob@good.test", "--requiretls", "--memory", mem)
    check("send good requiretls", rc == 0 and j.get("delivered") is True
          and j.get("host") == "mx1.good.test" and j.get("requiretls") is True
          and j.get("mail_params") == "REQUIRETLS" and j.get("status") == "2.0.0"
          and j.get("dsn") is None and j.get("tls", "").startswith("TLSv1."), (j, err))
    a = (j.get("attempts") or [{}])[0]
    check("send good attempt", a.get("dane") == "ok" and a.get("pkix") == "ok"
          and a.get("requiretls_offered") is True and a.get("mode") == "dane", a)
    check("send good log", new == ["host=mx1.good.test from=alice@example.test rcpt=bob@good.test "
                                   "tls=True requiretls=True bytes=298"], new)
    with sqlite3.connect(mem) as db:
        rows = db.execute("SELECT account, domain, starttls, requiretls FROM rtls_capability").fetchall()
    check("send memory", rows == [("alice@example.test", "good.test", 1, 1)], rows)

    met = os.path.join(tmp, "stsgap.prom")
    rc, j, err, new = send("bob@stsgap.test", "--requiretls", "--memory", mem, metrics=met)
    at = j.get("attempts") or [{}, {}]
    check("send stsgap requiretls", rc == 1 and j.get("delivered") is False and new == []
          and j.get("bounce_status") == "5.7.30" and j.get("dsn")
          and len(at) == 2 and at[0].get("host") == "mx1.stsgap.test"
          and at[0].get("status") == "5.7.30" and at[0].get("reason") == "requiretls_missing"
          and at[0].get("requiretls_offered") is False and at[0].get("mail_params") is None
          and at[1].get("mode") == "skip" and at[1].get("connected") is False, (j, err))
    with open(met) as f:
        prom = f.read()
    check("send stsgap metric", 'requiretls_errors_total{reason="requiretls_missing"} 1' in prom, prom)
    with sqlite3.connect(mem) as db:
        rows = db.execute("SELECT domain, starttls, requiretls FROM rtls_capability "
                          "ORDER BY domain").fetchall()
    check("send memory stsgap", rows == [("good.test", 1, 1), ("stsgap.test", 1, 0)], rows)

    rc, j, err, new = send("bob@badtlsa.test")
    a = (j.get("attempts") or [{}])[0]
    check("send badtlsa", rc == 1 and j.get("delivered") is False and new == []
          and j.get("status") == "4.7.5" and j.get("bounce_status") == "5.7.5"
          and j.get("action") == "delayed" and "DANE" in (j.get("dsn") or "")
          and a.get("dane") == "failed" and a.get("reason") == "dane_verify", (j, err))

    met = os.path.join(tmp, "badtlsa.prom")
    rc, j, err, new = send("bob@badtlsa.test", "--tls-required-no", metrics=met)
    check("send badtlsa tls-required-no", rc == 0 and j.get("delivered") is True
          and j.get("requirement") == "not-required" and j.get("requiretls") is False
          and (j.get("attempts") or [{}])[0].get("ignored") == "dane_verify", (j, err))
    check("send badtlsa tls-required-no log",
          new == ["host=mx.badtlsa.test from=alice@example.test rcpt=bob@badtlsa.test "
                  "tls=True requiretls=False bytes=298"], new)
    with open(met) as f:
        prom = f.read()
    check("send badtlsa metric", 'tls_required_no_ignored_total{reason="dane_verify"} 1' in prom, prom)

    # The message's own TLS-Required: No header works like the option.
    hdrmsg = os.path.join(tmp, "tlsreq.eml")
    with open(SAMPLE) as f, open(hdrmsg, "w") as g:
        g.write("TLS-Required: No\n" + f.read())
    rc, j, err, new = send("bob@badtlsa.test", msg=hdrmsg)
    check("send badtlsa header", rc == 0 and j.get("tls_required_header") == "no"
          and j.get("requirement") == "not-required" and len(new) == 1, (j, err, new))
    rc, j, err, new = send("bob@badtlsa.test", "--requiretls", msg=hdrmsg)
    check("send header overridden", rc == 1 and j.get("tls_required_header") == "overridden"
          and j.get("requirement") == "required" and new == [], (j, err, new))

    rc, j, err, new = send("bob@nostarttls.test")
    check("send nostarttls", rc == 0 and j.get("delivered") is True and j.get("tls") is None
          and (j.get("attempts") or [{}])[0].get("starttls") is False, (j, err))
    check("send nostarttls log", new == ["host=mx.nostarttls.test from=alice@example.test "
                                         "rcpt=bob@nostarttls.test tls=False requiretls=False "
                                         "bytes=298"], new)

    rc, j, err, new = send("bob@nostarttls.test", "--requiretls")
    at = j.get("attempts") or [{}]
    check("send nostarttls requiretls", rc == 1 and j.get("delivered") is False and new == []
          and j.get("status") == "5.7.30" and j.get("action") == "failed"
          and at[0].get("mode") == "skip" and at[0].get("connected") is False, (j, err))

    rc, j, err, new = send("bob@daneta.test", "--requiretls")
    a = (j.get("attempts") or [{}])[0]
    check("send daneta", rc == 0 and j.get("delivered") is True and j.get("requiretls") is True
          and a.get("dane") == "ok" and "depth 3" in (a.get("dane_detail") or ""), (j, err))
    check("send daneta log", new == ["host=mx.daneta.test from=alice@example.test "
                                     "rcpt=bob@daneta.test tls=True requiretls=True bytes=298"], new)

    rc, out, err = mailsec("send", "--from", "alice@example.test", "--to", "bob@stsgap.test",
                           "--requiretls", "--port", str(smtp_port), *FETCH, SAMPLE)
    check("send human dsn", rc == 1 and "not delivered; the DSN" in out
          and "Status: 4.7.5" in out and "Status 5.7.30" in out, out + err)

    # ---- hostile peer: the fake answers on the nostarttls MX address ----
    # nostarttls.test is opportunistic: STARTTLS abandoned because of the
    # injection counts as a failed handshake, and RFC 7435 says plaintext
    # then; what was injected is never read as the server's (DANE hosts:
    # hardening-send-faults, where nothing is sent at all)
    fake = fake_peer.start("127.0.1.6", "inject")
    rc, j, err, new = send("bob@nostarttls.test", port=fake.port)
    fake.stop()
    at = j.get("attempts") or [{}, {}]
    check("hostile inject: abandoned, then plaintext (RFC 7435)", rc == 0
          and j.get("delivered") is True and len(at) == 2
          and "plaintext received after the STARTTLS reply" in (at[0].get("error") or "")
          and at[0].get("verdict") == "retry-plaintext" and at[1].get("plaintext_retry") is True
          and fake.commands.count("MAIL") == 1 and fake.commands.count("STARTTLS") == 1,
          (j, err, fake.commands))
    for mode, expect in (("longline", "reply line longer than 1000 bytes"),
                         ("hugereply", "reply longer than 65536 bytes")):
        fake = fake_peer.start("127.0.1.6", mode)
        rc, j, err, new = send("bob@nostarttls.test", port=fake.port)
        fake.stop()
        a = (j.get("attempts") or [{}])[0]
        check("hostile " + mode, rc == 1 and j.get("delivered") is False and fake.mails == []
              and expect in (a.get("error") or "") and fake.commands.count("MAIL") == 0,
              (j, err, fake.commands))
    # ---- PKIX purpose: a leaf for clientAuth only is no TLS server's ----
    # mx1.stsgap.test under MTA-STS enforce (mode pkix), served by a peer
    # whose certificate chains to the demo CA and names the host, but whose
    # EKU allows only TLS client authentication (RFC 5280 s4.2.1.12).
    for eku, delivered in (("clientAuth", False), ("serverAuth", True)):
        leaf = mstest.issue_leaf(tmp, "mx1.stsgap.test", eku,
                                 os.path.join(WORLD, "pki/demo/issuer"))
        fake = fake_peer.start("127.0.1.4", "tls", cert=leaf)
        rc, j, err, new = send("bob@stsgap.test", port=fake.port)
        fake.stop()
        a = (j.get("attempts") or [{}])[0]
        if delivered:
            check("pkix purpose serverAuth", rc == 0 and j.get("delivered") is True
                  and a.get("pkix") == "ok" and len(fake.mails) == 1, (j, err))
        else:
            check("pkix purpose clientAuth", rc == 1 and j.get("delivered") is False
                  and fake.mails == [] and fake.commands.count("MAIL") == 0
                  and a.get("host") == "mx1.stsgap.test" and a.get("pkix") == "failed"
                  and "purpose" in (a.get("pkix_detail") or "")
                  and (j.get("status") or "").startswith("4."), (j, err, fake.commands))

    fake = fake_peer.start("127.0.1.6", "badtls")
    met = os.path.join(tmp, "trn-fallback.prom")
    rc, j, err, new = send("bob@nostarttls.test", "--tls-required-no", port=fake.port,
                           metrics=met)
    fake.stop()
    prom = open(met).read() if os.path.exists(met) else ""
    check("TLS-Required: No counts the failed handshake it let through",
          'tls_required_no_ignored_total{reason="handshake"} 1' in prom, prom)
    at = j.get("attempts") or [{}, {}]
    check("fallback to plaintext", rc == 0 and j.get("delivered") is True and len(at) == 2
          and at[0].get("verdict") == "retry-plaintext" and at[1].get("plaintext_retry") is True
          and fake.mails == [WIRE]
          and fake.commands.count("STARTTLS") == 1, (j, err, fake.commands))
    # RFC 7435: an opportunistic host whose handshake fails gets the
    # message in plaintext, counted (issue 14; it used to be deferred)
    fake = fake_peer.start("127.0.1.6", "badtls")
    met = os.path.join(tmp, "fallback.prom")
    rc, j, err, new = send("bob@nostarttls.test", port=fake.port, metrics=met)
    fake.stop()
    at = j.get("attempts") or [{}, {}]
    prom = open(met).read() if os.path.exists(met) else ""
    check("opportunistic fallback to plaintext", rc == 0 and j.get("delivered") is True
          and len(at) == 2 and at[0].get("handshake") == "failed"
          and at[0].get("verdict") == "retry-plaintext" and at[1].get("plaintext_retry") is True
          and fake.mails == [WIRE] and fake.commands.count("STARTTLS") == 1, (j, err))
    check("opportunistic fallback counted",
          'smtp_plaintext_fallback_total{requirement="default"} 1' in prom, prom)
    # never under DANE: good.test's MX with a broken handshake
    fake = fake_peer.start("127.0.1.1", "badtls")
    rc, j, err, new = send("bob@good.test", port=fake.port)
    fake.stop()
    check("no fallback under DANE", rc == 1 and j.get("delivered") is False and fake.mails == []
          and fake.commands.count("MAIL") == 0 and str(j.get("status", "")).startswith("4."),
          (j, err, fake.commands))

    fake = fake_peer.start("127.0.1.6", "silent")
    t0 = time.monotonic()
    rc, j, err, new = send("bob@nostarttls.test", "--timeout", "2", port=fake.port)
    took = time.monotonic() - t0
    fake.stop()
    a = (j.get("attempts") or [{}])[0]
    check("deadline", rc == 1 and took < 8 and a.get("connected") is False
          and j.get("status") == "4.4.1" and "timed out" in (a.get("error") or ""),
          (took, j, err))

    rc, j, err, new = send("bob@good.test")
    check("send good default", rc == 0 and j.get("requiretls") is False
          and j.get("mail_params") == "" and j.get("requirement") == "default"
          and new == ["host=mx1.good.test from=alice@example.test rcpt=bob@good.test "
                      "tls=True requiretls=False bytes=298"], (j, err, new))

    # ---- several recipients (issue 14) -----------------------------------
    # A second --to used to replace the first silently.  One session per
    # recipient domain (Good.Test and good.test are one), a 550 to one RCPT
    # fails that recipient only, the exit code says "not all delivered".
    rc, j, err, new = send_many(["bob@good.test", "carol@nostarttls.test",
                                 "unknown@good.test", "dave@Good.Test"])
    check("multi rcpt: per-recipient results", rc == 1 and j.get("delivered") is False
          and rcpts(j) == [("bob@good.test", "good.test", True, "2.0.0"),
                           ("carol@nostarttls.test", "nostarttls.test", True, "2.0.0"),
                           ("unknown@good.test", "good.test", False, "5.1.1"),
                           ("dave@Good.Test", "good.test", True, "2.0.0")], (rc, j, err))
    bad = (j.get("recipients") or [{}, {}, {}])[2]
    check("multi rcpt: the refused one", bad.get("action") == "failed"
          and bad.get("bounce_status") == "5.1.1" and "550" in (bad.get("reply") or "")
          and "RCPT TO" in (bad.get("dsn") or ""), bad)
    check("multi rcpt: domains", [d.get("domain") for d in j.get("domains") or []]
          == ["good.test", "nostarttls.test"]
          and [d.get("delivered") for d in j.get("domains") or []] == [False, True]
          and j.get("domain") == "good.test" and j.get("host") == "mx1.good.test", j)
    check("multi rcpt: one session per domain", sorted(new) == sorted([
        "host=mx1.good.test from=alice@example.test rcpt=bob@good.test,dave@Good.Test "
        "tls=True requiretls=False bytes=298",
        "host=mx.nostarttls.test from=alice@example.test rcpt=carol@nostarttls.test "
        "tls=False requiretls=False bytes=298"]), new)
    rc, out, err, new = send_many(["bob@good.test", "unknown@good.test"], json_out=False)
    check("multi rcpt human", rc == 1 and "recipient bob@good.test: delivered, status 2.0.0" in out
          and "recipient unknown@good.test: not delivered (failed), status 5.1.1" in out
          and "Final-Recipient: rfc822;unknown@good.test" in out, out + err)
    rc, j, err, new = send_many(["bob@good.test", "carol@daneta.test"])
    check("multi rcpt all delivered", rc == 0 and j.get("delivered") is True
          and [r.get("delivered") for r in j.get("recipients") or []] == [True, True]
          and len(new) == 2, (rc, j, err))

    # ---- --auto-requiretls (RFC 8689 s4.3 from the recipient-domain memory)
    rc, out, err = mailsec("send", "--from", "a@x.test", "--to", "b@good.test",
                           "--auto-requiretls", SAMPLE)
    check("auto-requiretls needs --memory", rc == 2 and "--memory" in err, (rc, out, err))
    mem2 = os.path.join(tmp, "auto.sqlite")
    auto = ["--auto-requiretls", "--memory", mem2]
    rc, j, err, new = send_many(["bob@good.test", "carol@daneta.test"], *auto)
    check("auto-requiretls: nothing known yet, not raised", rc == 0
          and j.get("requirement") == "default" and j.get("requiretls_raised") is False
          and all("requiretls=False" in l for l in new) and len(new) == 2, (j, err, new))
    rc, j, err, new = send_many(["bob@good.test", "carol@daneta.test"], *auto)
    check("auto-requiretls: every domain known, raised", rc == 0
          and j.get("requirement") == "required" and j.get("requiretls_raised") is True
          and [d.get("requiretls") for d in j.get("domains") or []] == [True, True]
          and len(new) == 2 and all("requiretls=True" in l for l in new), (j, err, new))
    rc, j, err, new = send_many(["bob@good.test", "carol@stsgap.test"], *auto)
    check("auto-requiretls: one domain unknown, not raised", rc == 0
          and j.get("requirement") == "default" and j.get("requiretls_raised") is False
          and all("requiretls=False" in l for l in new) and len(new) == 2, (j, err, new))
    rc, out, err, new = send_many(["bob@good.test", "carol@daneta.test"], *auto, json_out=False)
    check("auto-requiretls human", rc == 0 and "auto-REQUIRETLS: raised to required" in out
          and "(requirement required," in out, out + err)

    # ---- usage ---------------------------------------------------------
    for args in (["send", "--to", "b@good.test", SAMPLE],
                 ["send", "--from", "a@x.test", "--to", "b@good.test", "--requiretls",
                  "--tls-required-no", SAMPLE],
                 ["send", "--from", "a@x.test", "--to", "b@good.test>", SAMPLE],
                 ["send", "--from", "a@x.test", "--to", "b@good.test", "/nonexistent"],
                 ["plan"], ["plan", "good.test", "--requiretls", "--tls-required-no"]):
        rc, out, err = mailsec(*args)
        check("usage " + " ".join(args[:1] + args[-2:]), rc == 2 and err, (rc, out, err))
finally:
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):  # let the peers exit before their directory goes
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(PEERS, ignore_errors=True)

check.finish()
