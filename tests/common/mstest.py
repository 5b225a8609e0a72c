"""mstest.py - the shared bits of the Python test scripts: named checks that
count passes and failures and the closing "N passed, N failed" line that CI
reads."""
import sys


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, cond, detail=""):
        """Record one named check; print the detail when it fails."""
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")
        return bool(cond)

    def finish(self):
        """Print the closing line and exit non-zero if anything failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def issue_leaf(outdir, host, eku, issuer):
    """Issue a leaf for `host` with extendedKeyUsage `eku` ("serverAuth",
    "clientAuth", ...), signed by ISSUER.pem/ISSUER.key; write the chain
    (leaf then issuer) and key to OUTDIR and return (chainfile, keyfile)."""
    import os
    import subprocess
    base = os.path.join(outdir, f"{host}.{eku}")
    ext = base + ".ext"
    with open(ext, "w") as f:
        f.write(f"basicConstraints=CA:FALSE\nextendedKeyUsage={eku}\n"
                f"subjectAltName=DNS:{host}\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", base + ".key")
    run("openssl", "req", "-new", "-key", base + ".key", "-subj", f"/CN={host}",
        "-out", base + ".csr")
    run("openssl", "x509", "-req", "-in", base + ".csr", "-CA", issuer + ".pem",
        "-CAkey", issuer + ".key", "-set_serial", "0x" + os.urandom(8).hex(),
        "-days", "30", "-extfile", ext, "-out", base + ".pem")
    with open(base + ".chain.pem", "w") as out:
        for p in (base + ".pem", issuer + ".pem"):
            with open(p) as f:
                out.write(f.read())
    return base + ".chain.pem", base + ".key"


def free_port(addr):
    """A TCP port free on `addr` now (the kernel's pick)."""
    import socket
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def read_lines(path):
    """The lines of a log file that may not exist yet ([] then)."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
