#!/usr/bin/env python3
"""The libevent example (examples/libevent-auth) on the offline test world:
three messages authenticated at once on one DNS context from one libevent
loop; every verdict completes once, with its own Authentication-Results."""
import os
import re
import subprocess
import sys
import tempfile

exe = sys.argv[1]
world = os.environ["MS_TEST_WORLD"]
conf = os.path.join(world, "auth.conf")

GOOD = "From: Joe <joe@good.test>\r\nTo: suzie@example.net\r\nSubject: hi\r\n\r\nHello.\r\n"
SPOOF = 'From: "Good CEO" <ceo@good.test>\r\nSubject: pay\r\n\r\nnow\r\n'

with tempfile.TemporaryDirectory() as tmp:
    paths = []
    for i, m in enumerate([GOOD, SPOOF, GOOD]):
        p = os.path.join(tmp, f"m{i}.eml")
        with open(p, "w", newline="") as f:
            f.write(m)
        paths.append(p)
    # The verdicts' one deadline (ms): generous, because what is under test
    # is the event loop, and a loaded CI machine answered the offline world
    # slower than 5 s once.
    args = [exe, conf, "mx.example.net", "30000",
            "127.0.1.1", "mx1.good.test", "joe@good.test", paths[0],
            "192.0.2.5", "mail.evil.test", "ceo@good.test", paths[1],
            "127.0.1.1", "mx1.good.test", "joe@good.test", paths[2]]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)

blocks = {}
for m in re.finditer(r"^# (\d+) (\w+)\n(Authentication-Results: [^\n]*(?:\n\t[^\n]*)*)",
                     r.stdout, re.M):
    i = int(m.group(1))
    assert i not in blocks, f"verdict {i} completed twice:\n{r.stdout}"
    blocks[i] = (m.group(2), m.group(3))
assert sorted(blocks) == [0, 1, 2], r.stdout

for i in (0, 2):
    disp, h = blocks[i]
    assert disp == "accept", (i, disp, h)
    for want in ("Authentication-Results: mx.example.net;", "spf=pass", "dkim=none",
                 "dmarc=pass", "iprev=pass", "smtp.mailfrom=joe@good.test"):
        assert want in h, (i, want, h)
disp, h = blocks[1]
assert disp == "reject", (disp, h)
for want in ("spf=fail", "dkim=none", "dmarc=fail", "header.from=good.test"):
    assert want in h, (want, h)
print(r.stdout)
