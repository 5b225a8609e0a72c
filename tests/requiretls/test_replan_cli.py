#!/usr/bin/env python3
"""`mailsec replan` end to end on the demo mail world (issue 14): the
operator's re-plan of a queued message with a changed requirement, its
--json keys (docs/cli.md), and the --write output delivered by `mailsec
send` to the world's loopback peers (tests/world/peers/start-peers.sh).

    test_replan_cli.py MAILSEC        (MS_TEST_WORLD, MS_SOURCE_ROOT from meson)

Every case asserts exact results: exit code, JSON keys, and the lines the
peers logged (peers.log: host, tls=, requiretls=, bytes=)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
SRC = os.environ["MS_SOURCE_ROOT"]
WORLD = os.environ["MS_TEST_WORLD"]
SAMPLE = os.path.join(SRC, "tests/send/sample.eml")
# private peers directory: the ready file and log are not shared with the
# other tests that run on the same world at the same time
PEERS = tempfile.mkdtemp(prefix="mailsec-replan-peers-")
os.symlink(os.path.join(WORLD, "pki"), os.path.join(PEERS, "pki"))
LOG = os.path.join(PEERS, "peers.log")
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


def replan(*args):
    rc, out, err = mailsec("--json", "replan", *FETCH, *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, {}, f"{out}\n{err}"


def send(to, msg, *extra):
    before = len(log_lines())
    rc, out, err = mailsec("--json", "send", "--from", "alice@example.test", "--to", to,
                           "--port", str(smtp_port), *FETCH, *extra, msg)
    try:
        j = json.loads(out)
    except ValueError:
        j = {"unparsable": out}
    return rc, j, err, log_lines()[before:]


def modes(d):
    return [(h["host"], h["before"]["mode"], h["after"]["mode"]) for h in d["hosts"]]


pid = int(subprocess.check_output(["sh", os.path.join(SRC, "tests/world/peers/start-peers.sh"),
                                   PEERS, str(smtp_port), str(https_port)], text=True).strip())
tmp = tempfile.mkdtemp(prefix="mailsec-replan-")
try:
    with open(SAMPLE, "rb") as f:
        sample = f.read()

    # ---- a REQUIRETLS message that DANE keeps refusing, lowered -------
    # badtlsa.test publishes TLSA records its host does not match: the
    # queued REQUIRETLS message cannot go ...
    rc, j, err, new = send("bob@badtlsa.test", SAMPLE, "--requiretls")
    check("queued message fails", rc == 1 and j.get("delivered") is False and new == [], (j, err))
    # ... the operator re-plans it as not required and writes it out
    out = os.path.join(tmp, "lowered.eml")
    rc, j, err = replan("--message", SAMPLE, "--mail-params", "REQUIRETLS", "--to",
                        "bob@badtlsa.test", "--to", "carol@good.test", "--to", "dave@BADTLSA.test",
                        "--requirement", "not-required", "--write", out)
    check("lowered json", rc == 0 and j.get("requirement_before") == "required"
          and j.get("requirement_after") == "not-required"
          and j.get("tls_required_header") == "absent"
          and j.get("mail_params_before") == "REQUIRETLS" and j.get("mail_params_after") == ""
          and j.get("header_fields_removed") == 0 and j.get("header_field_added") is True
          and j.get("written") == out, (rc, j, err))
    doms = j.get("domains", [])
    check("lowered domains", [d["domain"] for d in doms] == ["badtlsa.test", "good.test"], doms)
    if len(doms) == 2:
        d = doms[0]
        check("lowered badtlsa", d["changed"] is True
              and modes(d) == [("mx.badtlsa.test", "dane", "opportunistic-fallback")]
              and d["hosts"][0]["before"] == {"mode": "dane", "verify_dane": True,
                                              "verify_pkix": False, "need_requiretls": True,
                                              "plaintext": False, "skip_status": None,
                                              "skip_reason": None}
              and d["hosts"][0]["after"]["plaintext"] is True
              and d["hosts"][0]["summary"] == "mx.badtlsa.test: dane -> opportunistic-fallback: "
              "DANE failures ignored, REQUIRETLS no longer needed, plaintext allowed"
              and d["undeliverable_before"] is None and d["undeliverable_after"] is None, d)
        g = doms[1]
        # good.test has DANE and an MTA-STS enforce policy: both are let go
        check("lowered good", modes(g) == [("mx1.good.test", "dane", "opportunistic-fallback"),
                                           ("mx2.good.test", "dane", "opportunistic-fallback")]
              and g["hosts"][0]["summary"] == "mx1.good.test: dane -> opportunistic-fallback: "
              "DANE and MTA-STS failures ignored, REQUIRETLS no longer needed, plaintext allowed",
              g)
    with open(out, "rb") as f:
        lowered = f.read()
    hdr, body = sample.split(b"\n\n", 1)
    check("lowered message", lowered == hdr + b"\nTLS-Required: No\n\n" + body, lowered[:400])
    # the rewritten message delivers through the failing DANE peer: its
    # header says not required, the DANE failure is ignored and counted
    rc, j, err, new = send("bob@badtlsa.test", out)
    check("lowered delivers", rc == 0 and j.get("delivered") is True
          and j.get("tls_required_header") == "no" and j.get("requirement") == "not-required"
          and (j.get("attempts") or [{}])[0].get("ignored") == "dane_verify", (j, err))
    check("lowered peer log", new == ["host=mx.badtlsa.test from=alice@example.test "
                                      "rcpt=bob@badtlsa.test tls=True requiretls=False bytes=316"],
          new)

    # ---- default raised to required on an opportunistic domain ---------
    raised = os.path.join(tmp, "raised.eml")
    rc, j, err = replan("--message", out, "--to", "bob@nostarttls.test", "--requirement",
                        "required", "--write", raised)
    d = (j.get("domains") or [{}])[0]
    check("raised json", rc == 0 and j.get("requirement_before") == "not-required"
          and j.get("tls_required_header") == "no" and j.get("mail_params_after") == "REQUIRETLS"
          and j.get("header_fields_removed") == 1 and j.get("header_field_added") is False
          and modes(d) == [("mx.nostarttls.test", "opportunistic-fallback", "skip")]
          and d["hosts"][0]["after"]["skip_status"] == "5.7.30"
          and d["hosts"][0]["after"]["skip_reason"] == "no_verified_path"
          and d["undeliverable_before"] is None
          and d["undeliverable_after"]["status"] == "5.7.30"
          and d["undeliverable_after"]["verdict"] == "permfail", (rc, j, err))
    with open(raised, "rb") as f:
        check("raised message is the original", f.read() == sample)
    # what the plan said is what send does with the printed parameters
    rc, j, err, new = send("bob@nostarttls.test", raised, "--requiretls")
    check("raised send refused", rc == 1 and j.get("status") == "5.7.30" and new == [], (j, err))

    # the lowered message to the opportunistic peer goes in plaintext
    rc, j, err, new = send("bob@nostarttls.test", out)
    check("lowered nostarttls", rc == 0 and j.get("delivered") is True
          and new == ["host=mx.nostarttls.test from=alice@example.test rcpt=bob@nostarttls.test "
                      "tls=False requiretls=False bytes=316"], (j, err, new))

    # ---- human output and the log event ---------------------------------
    rc, text, err = mailsec("--verbose", "replan", *FETCH, "--message", SAMPLE, "--mail-params",
                            "SIZE=298 REQUIRETLS", "--to", "bob@badtlsa.test", "--requirement",
                            "default")
    check("human", rc == 0 and "message requirement: required -> default" in text
          and "MAIL FROM parameters: SIZE=298 REQUIRETLS -> SIZE=298" in text
          and "MX 10 mx.badtlsa.test: dane -> dane: REQUIRETLS no longer needed" in text
          and "wrote" not in text, (text, err))
    check("log event", "requirement_old=required requirement_new=default" in err
          and "domain=badtlsa.test" in err, err)

    # ---- usage and malformed input: exit 2 with the reason --------------
    bad = os.path.join(tmp, "bad.eml")
    with open(bad, "w") as f:
        f.write("this is not a header\n\nbody\n")
    for args, reason in (
            (["--to", "b@good.test", "--requirement", "default"], "usage"),
            (["--message", SAMPLE, "--requirement", "default"], "usage"),
            (["--message", SAMPLE, "--to", "b@good.test"], "usage"),
            (["--message", SAMPLE, "--to", "b@good.test", "--requirement", "maybe"],
             "--requirement maybe: not one of required, default, not-required"),
            (["--message", SAMPLE, "--to", "nodomain", "--requirement", "default"],
             "--to nodomain: no domain after '@'"),
            (["--message", SAMPLE, "--to", "b@good.test", "--requirement", "default",
              "--requiretls"], "replan takes --requirement"),
            (["--message", SAMPLE, "--to", "b@good.test", "--requirement", "default",
              "--mail-params", "REQUIRETLS=yes"],
             "--mail-params: bad MAIL FROM parameters: REQUIRETLS takes no value"),
            (["--message", bad, "--to", "b@good.test", "--requirement", "default"],
             "header line 1 is not a field"),
            (["--message", "/nonexistent", "--to", "b@good.test", "--requirement", "default"],
             "cannot read /nonexistent"),
            (["--message", SAMPLE, "--to", "b@good.test", "--requirement", "default",
              "--write", "/nonexistent/dir/out.eml"], "--write /nonexistent/dir/out.eml")):
        rc, o, err = mailsec("replan", *args)
        check("usage " + reason, rc == 2 and reason in err and o == "", (rc, o, err))
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
