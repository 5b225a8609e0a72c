#!/usr/bin/python3
"""`mailsec send` (librequiretls' decision, libdane, libmtasts, the example
SMTP client) against hostile SMTP peers on the world's MX addresses.

    test_send_faults.py MAILSEC     (MS_TEST_WORLD from meson)

good.test (DNSSEC, DANE on both MX): a peer that drops STARTTLS, refuses it
(454, 554) or pipelines plaintext after it must never get a MAIL command or a
message; with --requiretls, REQUIRETLS offered only before STARTTLS must not
count (the control, REQUIRETLS after TLS with the world's DANE-matching
certificate, delivers).  nostarttls.test (opportunistic): a peer that never
answers DATA, never answers the final dot, trickles its EHLO reply one byte
a second, or sends an 8 MiB EHLO reply ends as "not delivered" with a
temporary status within the deadline; one that drains an 8 MiB message at
10 KiB/s is cut off by the write progress rule, while one reading a 5 MiB
message at 1 MiB/s (longer than the timeout, but moving) gets it."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.environ["MS_TEST_WORLD"]
SAMPLE = os.path.join(os.environ["MS_SOURCE_ROOT"], "tests/send/sample.eml")
PY = "/usr/bin/python3"
TIMEOUT_S = 3
BOUND_S = 30  # hang check only; every step has TIMEOUT_S
check = mstest.Checks()
tmp = tempfile.mkdtemp(prefix="ms-hard-send-")


def peer(mode, addrs, host):
    logf = os.path.join(tmp, f"{mode}-{host}.log")
    open(logf, "w").close()
    pki = os.path.join(WORLD, "pki/demo")
    p = subprocess.Popen([PY, os.path.join(HERE, "send_peer.py"), logf, mode,
                          os.path.join(pki, f"{host}.chain.pem"), os.path.join(pki, f"{host}.key"),
                          *addrs], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    return p, port, logf


def send(to, port, *extra, message=SAMPLE):
    t0 = time.monotonic()
    # no MTA-STS host is reachable (port 1): the policy fetch fails, which
    # never loosens anything; DANE decides for good.test
    p = subprocess.run([MAILSEC, "--dns-config", os.path.join(WORLD, "auth.conf"),
                        "--timeout", str(TIMEOUT_S), "--json", "send",
                        "--from", "alice@example.test", "--to", to, "--port", str(port),
                        "--ca-file", os.path.join(WORLD, "pki/demo/ca.pem"),
                        "--connect-to", "::127.0.0.1:1", *extra, message],
                       capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {"unparsable": p.stdout, "stderr": p.stderr}
    return p.returncode, j, took


def lines(logf):
    with open(logf) as f:
        return f.read().split("\n")


GOOD = ["127.0.1.1", "127.0.1.2"]  # mx1.good.test, mx2.good.test
NOSTARTTLS = ["127.0.1.6"]

# ---- TLS required by DANE: nothing may be sent in plaintext -----------------
for mode in ("nostarttls", "starttls454", "starttls554", "inject"):
    p, port, logf = peer(mode, GOOD, "mx1.good.test")
    try:
        rc, j, took = send("bob@good.test", port)
    finally:
        p.kill()
        p.wait()
    log = lines(logf)
    sent_mail = [l for l in log if l.startswith(("CMD MAIL", "CMD RCPT", "CMD DATA",
                                                  "MAIL-RECEIVED"))]
    check("good.test " + mode, rc == 1 and j.get("delivered") is False and sent_mail == []
          and "CMD EHLO" in log and took < BOUND_S, (rc, j, log, took))
    check("good.test " + mode + " temporary", str(j.get("status", "")).startswith("4."), j)

# ---- REQUIRETLS: only what was offered over verified TLS counts -------------
p, port, logf = peer("rtlsgood", ["127.0.1.1"], "mx1.good.test")
try:
    rc, j, took = send("bob@good.test", port, "--requiretls")
finally:
    p.kill()
    p.wait()
log = lines(logf)
check("control: REQUIRETLS after TLS delivers", rc == 0 and j.get("delivered") is True
      and j.get("requiretls") is True and "CMD MAIL-TLS" in log
      and any(l.startswith("MAIL-RECEIVED") for l in log), (rc, j, log))

p, port, logf = peer("rtlspre", ["127.0.1.1"], "mx1.good.test")
try:
    rc, j, took = send("bob@good.test", port, "--requiretls")
finally:
    p.kill()
    p.wait()
log = lines(logf)
att = (j.get("attempts") or [{}])[0]
check("REQUIRETLS before STARTTLS only", rc == 1 and j.get("delivered") is False
      and att.get("requiretls_offered") is False and att.get("dane") == "ok"
      and not any(l.startswith(("CMD MAIL", "MAIL-RECEIVED")) for l in log), (rc, j, log))

# ---- opportunistic host: deadlines and bounds --------------------------------
for mode, what in (("datasilent", "no reply to DATA"), ("dotsilent", "no reply to the dot"),
                   ("trickle", "EHLO one byte a second"), ("ehlo8m", "8 MiB EHLO reply")):
    p, port, logf = peer(mode, NOSTARTTLS, "mx.nostarttls.test")
    try:
        rc, j, took = send("bob@nostarttls.test", port)
    finally:
        p.kill()
        p.wait()
    check(f"{mode} ({what})", rc == 1 and j.get("delivered") is False
          and str(j.get("status", "")).startswith("4.") and took < BOUND_S,
          (rc, j, f"{took:.1f} s"))

# ---- writes: a peer draining a byte at a time cannot stretch DATA ----------


def big_message(mib):
    path = os.path.join(tmp, f"big{mib}.eml")
    line = b"x" * 78 + b"\r\n"
    with open(path, "wb") as f:
        f.write(b"From: alice@example.test\r\nTo: bob@nostarttls.test\r\n"
                b"Subject: big\r\n\r\n")
        f.write(line * (mib * 1024 * 1024 // len(line)))
    return path


for mode, mib, delivered in (("drain", 8, False), ("drainok", 5, True)):
    p, port, logf = peer(mode, NOSTARTTLS, "mx.nostarttls.test")
    try:
        rc, j, took = send("bob@nostarttls.test", port, message=big_message(mib))
    finally:
        p.kill()
        p.wait()
    log = lines(logf)
    got = any(l.startswith("MAIL-RECEIVED") for l in log)
    if delivered:
        check(f"{mode} ({mib} MiB at 1 MiB/s) delivers", rc == 0 and j.get("delivered") is True
              and got and took > TIMEOUT_S, (rc, j, f"{took:.1f} s", log[-3:]))
    else:
        check(f"{mode} ({mib} MiB at 10 KiB/s) is cut off", rc == 1
              and j.get("delivered") is False and str(j.get("status", "")).startswith("4.")
              and not got and took < BOUND_S, (rc, j, f"{took:.1f} s", log[-3:]))

shutil.rmtree(tmp, ignore_errors=True)
check.finish()
