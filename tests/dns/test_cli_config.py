#!/usr/bin/env python3
"""A resolver configuration that cannot be loaded (docs/cli.md): exit 2, one
line on stderr naming the option, the file and libunbound's reason, and
nothing printed by libunbound itself (no "[1234:0] error:" lines, no
unbound.conf parser lines)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
CONF = os.path.join(os.environ["MS_TEST_WORLD"], "auth.conf")
check = mstest.Checks()


def run(*args):
    p = subprocess.run([MAILSEC, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def one_line(err):
    return len(err.splitlines()) == 1


with tempfile.TemporaryDirectory() as tmp:
    bad_ta = os.path.join(tmp, "bad.key")
    with open(bad_ta, "w") as f:
        f.write("example.test. IN DS garbage here\n")
    bad_conf = os.path.join(tmp, "bad.conf")
    with open(bad_conf, "w") as f:
        f.write("server:\n    bogus-option: yes\n")
    ta_conf = os.path.join(tmp, "anchor.conf")
    with open(ta_conf, "w") as f:
        f.write(f'server:\n    trust-anchor-file: "{bad_ta}"\n')

    # --trust-anchor over the world's configuration and in forward mode
    for mode in (["--dns-config", CONF], ["--dns-forward", "127.0.0.1@9"]):
        rc, out, err = run(*mode, "--trust-anchor", bad_ta, "dns", "A", "www.example.test")
        name = "trust-anchor " + mode[0]
        check(name + " exit 2", rc == 2, f"rc={rc} err={err!r}")
        check(name + " names option and file",
              err.startswith(f"mailsec: --trust-anchor {bad_ta}: "), err)
        check(name + " gives libunbound's reason", "parse error" in err, err)
        check(name + " one line, nothing from libunbound", one_line(err)
              and "libunbound[" not in err, err)

    # a malformed --dns-config file
    rc, out, err = run("--dns-config", bad_conf, "dns", "A", "www.example.test")
    check("dns-config exit 2", rc == 2, f"rc={rc} err={err!r}")
    check("dns-config names option and file",
          err.startswith(f"mailsec: --dns-config {bad_conf}: "), err)
    check("dns-config gives the parser's reason", "bogus-option" in err, err)
    check("dns-config one line", one_line(err), err)

    # a --dns-config file whose trust-anchor-file is malformed
    rc, out, err = run("--dns-config", ta_conf, "dns", "A", "www.example.test")
    check("dns-config anchor exit 2", rc == 2, f"rc={rc} err={err!r}")
    check("dns-config anchor names the file", bad_ta in err, err)
    check("dns-config anchor one line", one_line(err) and "libunbound[" not in err, err)

    # another subcommand takes the same path (cli_dns_ctx is shared)
    rc, out, err = run("--dns-config", CONF, "--trust-anchor", bad_ta, "spf", "--ip",
                       "192.0.2.1", "--sender", "a@example.test", "--helo",
                       "mx.example.test")
    check("spf trust-anchor exit 2", rc == 2 and one_line(err)
          and f"--trust-anchor {bad_ta}: " in err, f"rc={rc} err={err!r}")

check.finish()
