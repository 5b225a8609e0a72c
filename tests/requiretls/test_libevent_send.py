#!/usr/bin/env python3
"""The libevent example (examples/libevent-send) on the offline test world:
one message to good.test and daneta.test (DANE, the demo peers), both
deliveries from one libevent loop on one DNS context, one trust store and
one DANE context; each completes once, over TLS with DANE verified and PKIX
judged through the shared store, and the peers log both messages.  (Stalled
peers and the step bound: tests/requiretls/test_deliver.c.)"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

exe = sys.argv[1]
world = os.environ["MS_TEST_WORLD"]
src = os.environ["MS_SOURCE_ROOT"]
conf = os.path.join(world, "auth.conf")
ca = os.path.join(world, "pki", "demo", "ca.pem")


def free_port(addr):
    s = socket.socket()
    s.bind((addr, 0))
    p = s.getsockname()[1]
    s.close()
    return p


with tempfile.TemporaryDirectory() as tmp:
    peers = os.path.join(tmp, "peers")
    os.mkdir(peers)
    os.symlink(os.path.join(world, "pki"), os.path.join(peers, "pki"))
    port = free_port("127.0.1.1")
    out = subprocess.run(["sh", os.path.join(src, "tests/world/peers/start-peers.sh"), peers,
                          str(port), str(free_port("127.0.1.10"))],
                         capture_output=True, text=True, timeout=60, check=True)
    demo = int(out.stdout.split()[0])
    try:
        msg = os.path.join(tmp, "m.eml")
        with open(msg, "w", newline="") as f:
            f.write("From: alice@example.test\r\nSubject: hi\r\n\r\nHello.\r\n")
        r = subprocess.run([exe, conf, ca, str(port), "alice@example.test", msg,
                            "bob@good.test", "carol@daneta.test"],
                           capture_output=True, text=True, timeout=120)
    finally:
        os.kill(demo, signal.SIGTERM)
        for _ in range(50):
            try:
                os.kill(demo, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    lines = {}
    for m in re.finditer(r"^# (\d+) (\S+) (\w+) (.*)$", r.stdout, re.M):
        i = int(m.group(1))
        assert i not in lines, f"delivery {i} completed twice:\n{r.stdout}"
        lines[i] = (m.group(2), m.group(3), m.group(4))
    assert sorted(lines) == [0, 1], r.stdout
    # PKIX through the one trust store the example lends to every handle:
    # valid for mx1.good.test (the demo root), not for daneta.test's chain
    for i, (host, rcpt, pkix) in enumerate([("mx1.good.test", "bob@good.test", "ok"),
                                            ("mx.daneta.test", "carol@daneta.test",
                                             "failed")]):
        got_rcpt, what, rest = lines[i]
        assert got_rcpt == rcpt and what == "delivered", (i, lines[i])
        for want in (f"host={host}", "tls=yes", "dane=ok", f"pkix={pkix}"):
            assert want in rest, (i, want, rest)
    with open(os.path.join(peers, "peers.log")) as f:
        log = f.read()
    assert "rcpt=bob@good.test tls=True" in log, log
    assert "rcpt=carol@daneta.test tls=True" in log, log
print(r.stdout)
