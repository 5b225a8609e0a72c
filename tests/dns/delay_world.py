#!/usr/bin/env python3
"""A signed zone behind the DNS fault proxy with a delayed A answer, for
test_dns_coalesce.c (two coalesced lookups with different deadlines).

    delay_world.py DELAY_MS     prints the resolver configuration's path on
                                stdout once NSD and the proxy answer, then
                                runs until stdin closes, and stops both.

"www.co.test A" is held DELAY_MS by the proxy; everything else is
forwarded at once.  libunbound's retransmit timer starts at
infra-cache-min-rtt, so the held answer is the one it waits for (a
retransmit would be held again and the first reply dropped).  Loopback
only; the zone is signed offline (tests/hardening/dnsfault/faultworld.py).
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hardening", "dnsfault"))
from faultworld import FaultWorld  # noqa: E402

delay = int(sys.argv[1])
tmp = tempfile.mkdtemp(prefix="ms-coalesce-")
w = FaultWorld(tmp, "co.test", ["www IN A 192.0.2.80"], base="127.0.21")
try:
    w.start()
    w.faults("--delay-ms", "%d:A:www.co.test" % delay)
    with open(w.conf, "a") as f:
        f.write("server:\n    infra-cache-min-rtt: %d\n" % (delay * 4))
    print(w.conf, flush=True)
    sys.stdin.read()
finally:
    w.stop()
    shutil.rmtree(tmp, ignore_errors=True)
