"""A DNSSEC-signed zone served by NSD behind faultproxy.py, on loopback.

    w = FaultWorld(tmpdir, "fc.test", records, base="127.0.13")
    w.start()                       # NSD on BASE.54:5354, proxy on BASE.53:5353
    w.faults("--drop", "AAAA")      # restart only the proxy, with these faults
    ... mailsec --dns-config w.conf ...
    w.stop()

The zone is signed offline with ldns-signzone (ECDSA P-256, NSEC, valid
2024-2037) and reached through a libunbound stub-zone with the zone's DS
as the only trust anchor, so answers come back secure, or bogus when the
proxy corrupts signatures, through real validation.  Nothing leaves
127.0.0.0/8; the machine's own resolver is never asked.
"""
import os
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def _wait(pred, what, proc, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode})")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _tcp_open(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=0.2):
            return True
    except OSError:
        return False


class FaultWorld:
    def __init__(self, tmp, zone, records, base="127.0.13"):
        self.tmp, self.zone, self.records = tmp, zone, records
        self.nsd_addr, self.nsd_port = base + ".54", 5354
        self.proxy_addr, self.proxy_port = base + ".53", 5353
        self.conf = os.path.join(tmp, "unbound.conf")
        self.proxy_log = os.path.join(tmp, "proxy.log")
        self.nsd = self.proxy = None

    def _sign(self):
        z = os.path.join(self.tmp, self.zone + ".zone")
        with open(z, "w") as f:
            f.write(f"$ORIGIN {self.zone}.\n$TTL 3600\n"
                    f"@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n"
                    f"@ IN NS ns1\nns1 IN A {self.nsd_addr}\n")
            f.write("\n".join(self.records) + "\n")
        keys = []
        for ksk in (True, False):
            args = ["ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else []) + [self.zone]
            keys.append(subprocess.run(args, cwd=self.tmp, check=True, capture_output=True,
                                       text=True).stdout.strip())
        subprocess.run(["ldns-signzone", "-i", "20240101000000", "-e", "20371231000000",
                        "-f", z + ".signed", z] + keys, cwd=self.tmp, check=True)
        ds = subprocess.run(["ldns-key2ds", "-n", "-2", keys[0] + ".key"], cwd=self.tmp,
                            check=True, capture_output=True, text=True).stdout
        return " ".join(ds.split())

    def start(self):
        ds = self._sign()
        nconf = os.path.join(self.tmp, "nsd.conf")
        with open(nconf, "w") as f:
            f.write(f"""server:
    ip-address: {self.nsd_addr}@{self.nsd_port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{self.tmp}"
    database: ""
    zonelistfile: "{self.tmp}/zone.list"
    xfrdfile: "{self.tmp}/xfrd.state"
    xfrdir: "{self.tmp}"
    pidfile: "{self.tmp}/nsd.pid"
    logfile: "{self.tmp}/nsd.log"
remote-control:
    control-enable: no
zone:
    name: "{self.zone}"
    zonefile: "{self.zone}.zone.signed"
""")
        if _tcp_open(self.nsd_addr, self.nsd_port):
            raise RuntimeError(f"something already answers on {self.nsd_addr}:{self.nsd_port}")
        # its own process group: nsd forks (xfrd, main, server) and the
        # whole group is ended in stop(), even if the parent went first
        self.nsd = subprocess.Popen(["nsd", "-d", "-c", nconf], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: _tcp_open(self.nsd_addr, self.nsd_port), "nsd", self.nsd)
        with open(self.conf, "w") as f:
            f.write(f"""server:
    module-config: "validator iterator"
    do-not-query-localhost: no
    use-syslog: no
    local-zone: "{self.zone}." transparent
    local-zone: "test." refuse
    local-zone: "." refuse
    qname-minimisation: no
    trust-anchor-signaling: no
    # RFC 8198: from a cached NSEC the validator proves a name absent
    # without asking; the faults are for queries that are sent
    aggressive-nsec: no
    trust-anchor: "{ds}"
stub-zone:
    name: "{self.zone}"
    stub-addr: {self.proxy_addr}@{self.proxy_port}
""")
        self.faults()

    def faults(self, *flags):
        """(Re)start the proxy with these faultproxy.py flags."""
        self._stop_proxy()
        ready = os.path.join(self.tmp, "proxy.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        with open(self.proxy_log, "a") as log:
            log.write(f"# faults: {' '.join(flags) or '(none)'}\n")
            log.flush()
            self.proxy = subprocess.Popen(
                [PY, os.path.join(HERE, "faultproxy.py"),
                 "--listen", f"{self.proxy_addr}:{self.proxy_port}",
                 "--upstream", f"{self.nsd_addr}:{self.nsd_port}",
                 "--ready-file", ready, *flags], stdout=log, stderr=log)
        _wait(lambda: os.path.exists(ready), "faultproxy", self.proxy)

    def _stop_proxy(self):
        if self.proxy:
            self.proxy.terminate()
            self.proxy.wait()
            self.proxy = None

    def stop(self):
        self._stop_proxy()
        if self.nsd:
            import signal
            try:
                os.killpg(self.nsd.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.nsd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.nsd.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.nsd.wait()
            self.nsd = None


def tlsa_311(cert_pem):
    """The TLSA 3 1 1 data (SHA-256 of the SubjectPublicKeyInfo) of a PEM certificate."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()
