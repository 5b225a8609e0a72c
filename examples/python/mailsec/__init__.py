"""mailsec - a Python binding over the mailsec C libraries (ctypes).

It covers what a Python mail tool needs: DNS lookups with their DNSSEC
status (Resolver), DANE verification of a certificate chain (dane_verify),
the MTA-STS policy of a domain with its cache (sts_policy_get), the
REQUIRETLS/DANE/MTA-STS delivery plan of one MX host (rtls_plan), the
inbound authentication of a message in one call (auth: SPF, DKIM, DMARC,
iprev and the Authentication-Results field), DKIM signing (dkim_sign) and
verification (dkim_verify), and SPF alone (spf_check).

The C API is binding-friendly: opaque handles with explicit free, plain
structs with a version field (output structs carry the caller's version),
no varargs, no global state.

The shared libraries (the versioned libmailsec-*.so.0) are found, in order:
in MAILSEC_LIBDIR (a folder, or several separated by ':'), then in the
prefix this package is installed in (PREFIX/lib/<multiarch>, PREFIX/lib64,
PREFIX/lib for a package in PREFIX/lib/pythonX.Y/site-packages), then by
the system loader (ld.so.conf, LD_LIBRARY_PATH).  LIBRARIES maps each
library name to the file loaded.
"""
import ctypes
import glob
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

__version__ = "0.1.0"
SOVERSION = "0"

_c_uint8_p = ctypes.POINTER(ctypes.c_uint8)

#: library name ("mailsec-dns") -> path of the loaded file
LIBRARIES: Dict[str, str] = {}


def _prefix_dirs() -> List[str]:
    """Library folders of the prefix this package is installed in: walk up
    from the package (PREFIX/lib/pythonX.Y/site-packages/mailsec) at most
    four levels and take the first folder that holds libmailsec-dns."""
    here = os.path.dirname(os.path.abspath(__file__))
    up = here
    for _ in range(4):
        up = os.path.dirname(up)
        cands = ([os.path.join(up, "lib64"), os.path.join(up, "lib")] +
                 sorted(glob.glob(os.path.join(up, "lib", "*-linux-*"))))
        found = [d for d in cands
                 if os.path.exists(os.path.join(d, f"libmailsec-dns.so.{SOVERSION}"))]
        if found:
            return found
    return []


def _load(name: str) -> ctypes.CDLL:
    soname = f"lib{name}.so.{SOVERSION}"
    dirs = [d for d in (os.environ.get("MAILSEC_LIBDIR") or "").split(":") if d]
    for d in dirs + _prefix_dirs():
        path = os.path.join(d, soname)
        if os.path.exists(path):
            lib = ctypes.CDLL(path)
            LIBRARIES[name] = path
            return lib
    try:
        # the system loader, by the versioned soname (never the
        # unversioned -dev symlink: the ABI is the soname's)
        lib = ctypes.CDLL(soname)
    except OSError as e:
        raise OSError(f"{soname} not found (install mailsec in this package's prefix, "
                      f"or set MAILSEC_LIBDIR): {e}") from None
    LIBRARIES[name] = soname
    return lib


class MailsecError(Exception):
    """A call failed (not a verdict): status code and the library's reason."""

    def __init__(self, status: int, why: str):
        super().__init__(f"{why} (status {status})")
        self.status = status
        self.why = why


def _why() -> ctypes.Array:
    return ctypes.create_string_buffer(512)


# ---- libdnssec-stub ------------------------------------------------------
_dns = _load("mailsec-dns")

MODE_SYSTEM, MODE_RECURSIVE, MODE_FORWARD, MODE_CONFIG_FILE = range(4)
OUTCOMES = ["answer", "nxdomain", "nodata", "servfail", "timeout", "refused"]
SECURITY = ["secure", "insecure", "bogus", "indeterminate"]


class _DnsConfig(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint),
        ("mode", ctypes.c_int),
        ("forwarders", ctypes.POINTER(ctypes.c_char_p)),
        ("nforwarders", ctypes.c_size_t),
        ("config_file", ctypes.c_char_p),
        ("root_anchor_file", ctypes.c_char_p),
        ("trust_anchor_file", ctypes.c_char_p),
        ("trust_anchors", ctypes.POINTER(ctypes.c_char_p)),
        ("ntrust_anchors", ctypes.c_size_t),
        ("validation_time", ctypes.c_int64),
        ("timeout_ms", ctypes.c_uint),
    ]


def _proto(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_vp = ctypes.c_void_p
_dns_ctx_new = _proto(_dns, "ms_dns_ctx_new", ctypes.c_int, _vp, ctypes.POINTER(_DnsConfig),
                      ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
_dns_ctx_free = _proto(_dns, "ms_dns_ctx_free", None, _vp)
_dns_lookup = _proto(_dns, "ms_dns_lookup", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_uint16,
                     ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
_dns_lookup_addr = _proto(_dns, "ms_dns_lookup_addr", ctypes.c_int, _vp, ctypes.c_char_p,
                          ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
_res_free = _proto(_dns, "ms_dns_result_free", None, _vp)
_res_outcome = _proto(_dns, "ms_dns_result_outcome", ctypes.c_int, _vp)
_res_security = _proto(_dns, "ms_dns_result_security", ctypes.c_int, _vp)
_res_ede = _proto(_dns, "ms_dns_result_ede", ctypes.c_int, _vp)
_res_ede_text = _proto(_dns, "ms_dns_result_ede_text", ctypes.c_char_p, _vp)
_res_ttl = _proto(_dns, "ms_dns_result_ttl", ctypes.c_uint32, _vp)
_res_canonical = _proto(_dns, "ms_dns_result_canonical", ctypes.c_char_p, _vp)
_res_cname_secure = _proto(_dns, "ms_dns_result_cname_secure", ctypes.c_int, _vp)
_res_count = _proto(_dns, "ms_dns_result_count", ctypes.c_size_t, _vp)
_res_rdata = _proto(_dns, "ms_dns_result_rdata", _c_uint8_p, _vp, ctypes.c_size_t,
                    ctypes.POINTER(ctypes.c_size_t))
_res_rtype = _proto(_dns, "ms_dns_result_rtype", ctypes.c_uint16, _vp, ctypes.c_size_t)
_res_text = _proto(_dns, "ms_dns_result_rdata_text", ctypes.c_int, _vp, ctypes.c_size_t,
                   ctypes.c_char_p, ctypes.c_size_t)
_type_from_str = _proto(_dns, "ms_dns_type_from_str", ctypes.c_uint16, ctypes.c_char_p)


@dataclass
class DnsResult:
    name: str
    outcome: str
    security: str
    ede: Optional[int]
    ede_text: Optional[str]
    canonical: str
    cname_secure: Optional[bool]
    ttl: int
    records: List[str] = field(default_factory=list)   # presentation format
    rdata: List[Tuple[int, bytes]] = field(default_factory=list)  # (type, wire rdata)


def _convert(name: str, r: int) -> DnsResult:
    ede = _res_ede(r)
    text = _res_ede_text(r)
    cs = _res_cname_secure(r)
    out = DnsResult(name=name, outcome=OUTCOMES[_res_outcome(r)],
                    security=SECURITY[_res_security(r)],
                    ede=None if ede < 0 else ede, ede_text=text.decode() if text else None,
                    canonical=_res_canonical(r).decode(),
                    cname_secure=None if cs < 0 else bool(cs), ttl=_res_ttl(r))
    for i in range(_res_count(r)):
        n = ctypes.c_size_t()
        p = _res_rdata(r, i, ctypes.byref(n))
        raw = ctypes.string_at(p, n.value)
        buf = ctypes.create_string_buffer(n.value * 5 + 64)
        _res_text(r, i, buf, len(buf))
        out.records.append(buf.value.decode("ascii", "replace"))
        out.rdata.append((_res_rtype(r, i), raw))
    return out


class Resolver:
    """A libdnssec-stub resolver context (thread-safe in C; one per process
    is enough).  Use as a context manager or call close()."""

    def __init__(self, config_file: Optional[str] = None,
                 forwarders: Sequence[str] = (), trust_anchor_file: Optional[str] = None,
                 timeout_ms: int = 0, validation_time: int = 0):
        cfg = _DnsConfig(version=1)
        self._keep = []
        if config_file:
            cfg.mode = MODE_CONFIG_FILE
            cfg.config_file = config_file.encode()
        elif forwarders:
            cfg.mode = MODE_FORWARD
        if forwarders:
            arr = (ctypes.c_char_p * len(forwarders))(*[f.encode() for f in forwarders])
            self._keep.append(arr)
            cfg.forwarders = arr
            cfg.nforwarders = len(forwarders)
        if trust_anchor_file:
            cfg.trust_anchor_file = trust_anchor_file.encode()
        cfg.timeout_ms = timeout_ms
        cfg.validation_time = validation_time
        self._ctx = _vp()
        why = _why()
        st = _dns_ctx_new(None, ctypes.byref(cfg), ctypes.byref(self._ctx), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())

    @property
    def handle(self) -> int:
        return self._ctx.value

    def lookup(self, name: str, rrtype: str = "A") -> DnsResult:
        """One lookup; `rrtype` is a type name ("MX", "TLSA") or "ADDR"."""
        r = _vp()
        why = _why()
        if rrtype.upper() == "ADDR":
            st = _dns_lookup_addr(self._ctx, name.encode(), ctypes.byref(r), why, len(why))
        else:
            t = _type_from_str(rrtype.encode())
            if t == 0:
                raise ValueError(f"unknown RR type {rrtype}")
            st = _dns_lookup(self._ctx, name.encode(), t, ctypes.byref(r), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        try:
            return _convert(name, r.value)
        finally:
            _res_free(r)

    def close(self):
        if self._ctx:
            _dns_ctx_free(self._ctx)
            self._ctx = _vp()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


# ---- libdane -------------------------------------------------------------
try:
    _dane = _load("mailsec-dane")
except OSError:
    _dane = None


class _DaneTlsa(ctypes.Structure):
    _fields_ = [("usage", ctypes.c_uint8), ("selector", ctypes.c_uint8), ("mtype", ctypes.c_uint8),
                ("data", _c_uint8_p), ("datalen", ctypes.c_size_t)]


class _DaneCert(ctypes.Structure):
    _fields_ = [("der", _c_uint8_p), ("len", ctypes.c_size_t)]


class _DaneInput(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("chain", ctypes.POINTER(_DaneCert)),
                ("nchain", ctypes.c_size_t), ("tlsa", ctypes.POINTER(_DaneTlsa)),
                ("ntlsa", ctypes.c_size_t), ("authentic", ctypes.c_int),
                ("names", ctypes.POINTER(ctypes.c_char_p)), ("nnames", ctypes.c_size_t),
                ("now", ctypes.c_int64)]


class _DaneResult(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("verdict", ctypes.c_int), ("tlsrpt", ctypes.c_int),
                ("matched", ctypes.c_int), ("depth", ctypes.c_int), ("x509_error", ctypes.c_int),
                ("usable", ctypes.c_size_t), ("reason", ctypes.c_char * 160)]


@dataclass
class DaneResult:
    verdict: str
    verified: bool
    matched: Optional[int]      # index into the records given
    depth: Optional[int]
    tlsrpt: str
    reason: str


def _der_chain(pem_or_der) -> List[bytes]:
    if isinstance(pem_or_der, (list, tuple)):
        return [bytes(c) for c in pem_or_der]
    import base64
    text = pem_or_der.decode() if isinstance(pem_or_der, bytes) else pem_or_der
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("-----BEGIN CERTIFICATE"):
            cur = []
        elif line.startswith("-----END CERTIFICATE") and cur is not None:
            out.append(base64.b64decode("".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line.strip())
    return out


def dane_verify(chain, records: Sequence[Tuple[int, int, int, bytes]], names: Sequence[str],
                authentic: bool = True, now: int = 0) -> DaneResult:
    """Verify a server chain (PEM text or a list of DER, leaf first) against
    TLSA records (usage, selector, mtype, data) under RFC 7672 SMTP rules."""
    if _dane is None:
        raise OSError("libmailsec-dane not available")
    new = _proto(_dane, "ms_dane_ctx_new", ctypes.c_int, _vp, ctypes.POINTER(_vp))
    free = _proto(_dane, "ms_dane_ctx_free", None, _vp)
    verify = _proto(_dane, "ms_dane_verify", ctypes.c_int, _vp, ctypes.POINTER(_DaneInput),
                    ctypes.POINTER(_DaneResult), ctypes.c_char_p, ctypes.c_size_t)
    vstr = _proto(_dane, "ms_dane_verdict_str", ctypes.c_char_p, ctypes.c_int)
    rstr = _proto(_dns, "ms_tlsrpt_result_name", ctypes.c_char_p, ctypes.c_int)
    ders = _der_chain(chain)
    bufs = [(ctypes.c_uint8 * len(d)).from_buffer_copy(d) for d in ders]
    certs = (_DaneCert * max(1, len(ders)))(*[_DaneCert(ctypes.cast(b, _c_uint8_p), len(d))
                                                for b, d in zip(bufs, ders)])
    dbufs = [(ctypes.c_uint8 * max(1, len(r[3]))).from_buffer_copy(r[3] or b"\0") for r in records]
    tlsa = (_DaneTlsa * max(1, len(records)))(*[
        _DaneTlsa(r[0], r[1], r[2], ctypes.cast(b, _c_uint8_p), len(r[3]))
        for r, b in zip(records, dbufs)])
    cnames = (ctypes.c_char_p * max(1, len(names)))(*[n.encode() for n in names])
    inp = _DaneInput(version=1, chain=certs, nchain=len(ders), tlsa=tlsa, ntlsa=len(records),
                     authentic=int(authentic), names=cnames, nnames=len(names), now=now)
    ctx = _vp()
    st = new(None, ctypes.byref(ctx))
    if st != 0:
        raise MailsecError(st, "ms_dane_ctx_new failed")
    try:
        res = _DaneResult(version=1)  # MS_DANE_RESULT_VERSION, set by the caller
        why = _why()
        st = verify(ctx, ctypes.byref(inp), ctypes.byref(res), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        return DaneResult(verdict=vstr(res.verdict).decode(), verified=res.verdict == 0,
                          matched=None if res.matched < 0 else res.matched,
                          depth=None if res.depth < 0 else res.depth,
                          tlsrpt=rstr(res.tlsrpt).decode(), reason=res.reason.decode())
    finally:
        free(ctx)


# ---- libspfdkim: SPF -------------------------------------------------------
try:
    _spfdkim = _load("mailsec-spfdkim")
except OSError:
    _spfdkim = None


@dataclass
class SpfResult:
    result: str
    mechanism: Optional[str]
    explanation: Optional[str]
    dns_lookups: int
    void_lookups: int
    dnssec: str


def spf_check(resolver: Resolver, ip: str, sender: str, helo: str) -> SpfResult:
    """The RFC 7208 MAIL FROM check through the resolver's DNS."""
    if _spfdkim is None:
        raise OSError("libmailsec-spfdkim not available")
    L = _spfdkim
    new = _proto(L, "ms_spf_new", ctypes.c_int, _vp, _vp, ctypes.POINTER(_vp))
    free = _proto(L, "ms_spf_free", None, _vp)
    check = _proto(L, "ms_spf_check_mailfrom", ctypes.c_int, _vp, ctypes.c_char_p,
                   ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_vp), ctypes.c_char_p,
                   ctypes.c_size_t)
    vfree = _proto(L, "ms_spf_verdict_free", None, _vp)
    result = _proto(L, "ms_spf_verdict_result", ctypes.c_int, _vp)
    rstr = _proto(L, "ms_spf_result_str", ctypes.c_char_p, ctypes.c_int)
    mech = _proto(L, "ms_spf_verdict_mechanism", ctypes.c_char_p, _vp)
    expl = _proto(L, "ms_spf_verdict_explanation", ctypes.c_char_p, _vp)
    lookups = _proto(L, "ms_spf_verdict_dns_lookups", ctypes.c_uint, _vp)
    voids = _proto(L, "ms_spf_verdict_void_lookups", ctypes.c_uint, _vp)
    dnssec = _proto(L, "ms_spf_verdict_dnssec", ctypes.c_int, _vp)
    spf = _vp()
    st = new(None, resolver.handle, ctypes.byref(spf))
    if st != 0:
        raise MailsecError(st, "ms_spf_new failed")
    try:
        v = _vp()
        why = _why()
        st = check(spf, ip.encode(), helo.encode(), sender.encode(), ctypes.byref(v), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        try:
            m, e = mech(v), expl(v)
            return SpfResult(result=rstr(result(v)).decode(), mechanism=m.decode() if m else None,
                             explanation=e.decode() if e else None, dns_lookups=lookups(v),
                             void_lookups=voids(v), dnssec=SECURITY[dnssec(v)])
        finally:
            vfree(v)
    finally:
        free(spf)


# ---- libspfdkim: DKIM verification ----------------------------------------
@dataclass
class DkimSignature:
    result: str
    domain: Optional[str]
    selector: Optional[str]
    algorithm: str
    dnssec: str
    reason: Optional[str]


def dkim_verify(resolver: Resolver, message: bytes, chunk: int = 65536) -> List[DkimSignature]:
    """Verify every DKIM-Signature of `message` (RFC 6376, 8301, 8463); keys
    are looked up through the resolver.  Fed in chunks, as an MTA would."""
    if _spfdkim is None or not hasattr(_spfdkim, "ms_dkim_verifier_new"):
        raise OSError("libmailsec-spfdkim without DKIM")
    L = _spfdkim
    vnew = _proto(L, "ms_dkim_verifier_new", ctypes.c_int, _vp, _vp, ctypes.POINTER(_vp))
    vfree = _proto(L, "ms_dkim_verifier_free", None, _vp)
    new = _proto(L, "ms_dkim_verify_new", ctypes.c_int, _vp, ctypes.POINTER(_vp))
    free = _proto(L, "ms_dkim_verify_free", None, _vp)
    feed = _proto(L, "ms_dkim_verify_feed", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_size_t,
                  ctypes.c_char_p, ctypes.c_size_t)
    finish = _proto(L, "ms_dkim_verify_finish", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_size_t)
    count = _proto(L, "ms_dkim_verify_count", ctypes.c_size_t, _vp)
    sig = _proto(L, "ms_dkim_verify_sig", _vp, _vp, ctypes.c_size_t)
    result = _proto(L, "ms_dkim_sig_result", ctypes.c_int, _vp)
    rstr = _proto(L, "ms_dkim_result_str", ctypes.c_char_p, ctypes.c_int)
    reason = _proto(L, "ms_dkim_sig_reason", ctypes.c_char_p, _vp)
    domain = _proto(L, "ms_dkim_sig_domain", ctypes.c_char_p, _vp)
    selector = _proto(L, "ms_dkim_sig_selector", ctypes.c_char_p, _vp)
    alg = _proto(L, "ms_dkim_sig_algorithm", ctypes.c_int, _vp)
    astr = _proto(L, "ms_dkim_algorithm_str", ctypes.c_char_p, ctypes.c_int)
    dnssec = _proto(L, "ms_dkim_sig_dnssec", ctypes.c_int, _vp)

    def s(b):
        return b.decode() if b else None

    verifier = _vp()
    st = vnew(None, resolver.handle, ctypes.byref(verifier))
    if st != 0:
        raise MailsecError(st, "ms_dkim_verifier_new failed")
    vf = _vp()
    try:
        st = new(verifier, ctypes.byref(vf))
        if st != 0:
            raise MailsecError(st, "ms_dkim_verify_new failed")
        why = _why()
        for off in range(0, len(message), chunk):
            part = message[off:off + chunk]
            st = feed(vf, part, len(part), why, len(why))
            if st != 0:
                raise MailsecError(st, why.value.decode())
        st = finish(vf, why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        out = []
        for i in range(count(vf)):
            p = sig(vf, i)
            out.append(DkimSignature(result=rstr(result(p)).decode(), domain=s(domain(p)),
                                     selector=s(selector(p)), algorithm=astr(alg(p)).decode(),
                                     dnssec=SECURITY[dnssec(p)], reason=s(reason(p))))
        return out
    finally:
        free(vf)
        vfree(verifier)


# ---- libspfdkim: DKIM signing -----------------------------------------------
class _DkimSignOpts(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("key", _vp), ("domain", ctypes.c_char_p),
                ("selector", ctypes.c_char_p), ("identity", ctypes.c_char_p),
                ("header_canon", ctypes.c_int), ("body_canon", ctypes.c_int),
                ("headers", ctypes.c_char_p), ("oversign", ctypes.c_char_p),
                ("expire_after", ctypes.c_uint64)]


CANON = {"simple": 0, "relaxed": 1}


def dkim_sign(message: bytes, domain: str, selector: str, key_pem: bytes,
              canon: str = "relaxed/relaxed", headers: Optional[str] = None,
              expire_after: int = 0) -> str:
    """Sign `message` (RFC 6376; RSA or Ed25519 per the PKCS#8 key) for d=
    `domain`, s=`selector`.  Returns the "DKIM-Signature: ...\\r\\n" field to
    prepend to the message.  `canon` is "header/body" canonicalization."""
    if _spfdkim is None or not hasattr(_spfdkim, "ms_dkim_signer_new"):
        raise OSError("libmailsec-spfdkim without DKIM")
    L = _spfdkim
    kload = _proto(L, "ms_dkim_key_load_pem", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_size_t,
                   ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
    kfree = _proto(L, "ms_dkim_key_free", None, _vp)
    snew = _proto(L, "ms_dkim_signer_new", ctypes.c_int, _vp, ctypes.POINTER(_vp))
    sfree = _proto(L, "ms_dkim_signer_free", None, _vp)
    sadd = _proto(L, "ms_dkim_signer_add", ctypes.c_int, _vp, ctypes.POINTER(_DkimSignOpts),
                  ctypes.c_char_p, ctypes.c_size_t)
    sfeed = _proto(L, "ms_dkim_signer_feed", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_size_t,
                   ctypes.c_char_p, ctypes.c_size_t)
    sfinish = _proto(L, "ms_dkim_signer_finish", ctypes.c_int, _vp, ctypes.c_char_p,
                     ctypes.c_size_t)
    shdrs = _proto(L, "ms_dkim_signer_headers", ctypes.c_char_p, _vp)
    hc, _, bc = canon.partition("/")
    if hc not in CANON or (bc or hc) not in CANON:
        raise ValueError(f"bad canonicalization {canon!r}")
    why = _why()
    key = _vp()
    st = kload(None, key_pem, len(key_pem), ctypes.byref(key), why, len(why))
    if st != 0:
        raise MailsecError(st, why.value.decode())
    signer = _vp()
    try:
        st = snew(None, ctypes.byref(signer))
        if st != 0:
            raise MailsecError(st, "ms_dkim_signer_new failed")
        o = _DkimSignOpts(version=1, key=key, domain=domain.encode(), selector=selector.encode(),
                          header_canon=CANON[hc], body_canon=CANON[bc or hc],
                          headers=headers.encode() if headers is not None else None,
                          expire_after=expire_after)
        for call, args in ((sadd, (ctypes.byref(o),)), (sfeed, (message, len(message))),
                           (sfinish, ())):
            st = call(signer, *args, why, len(why))
            if st != 0:
                raise MailsecError(st, why.value.decode())
        return shdrs(signer).decode()
    finally:
        sfree(signer)
        kfree(key)


# ---- libspfdkim: inbound authentication (ms_auth) ----------------------------
AUTH_APPLY_POLICY = 0x01
AUTH_REJECT_BAD_FROM = 0x02


class _AuthOpts(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("dns", _vp), ("authserv_id", ctypes.c_char_p),
                ("client_ip", ctypes.c_char_p), ("helo", ctypes.c_char_p),
                ("mail_from", ctypes.c_char_p), ("flags", ctypes.c_uint),
                ("iprev_max_names", ctypes.c_uint), ("dkim", _vp), ("spf", _vp),
                ("dmarc", _vp), ("deadline_ms", ctypes.c_uint)]


@dataclass
class AuthResult:
    header: str              # "Authentication-Results: ..." (RFC 8601), folded
    received_spf: str        # "Received-SPF: ..." (RFC 7208 s9.1)
    disposition: str         # "accept", "quarantine", "reject"
    spf: str
    spf_dnssec: str
    dkim: List[str]          # one DMARC-view result per signature
    dmarc: str
    dmarc_from_domain: Optional[str]
    dmarc_dnssec: str
    iprev: str
    iprev_dnssec: str


def auth(resolver: "Resolver", message: bytes, client_ip: str, helo: str, mail_from: str,
         authserv_id: str, flags: int = 0, deadline_ms: int = 0) -> AuthResult:
    """Authenticate one received message in one call (SPF, every DKIM
    signature, DMARC, iprev, each with its DNSSEC status), as an MTA or
    milter would: ms_auth_run."""
    if _spfdkim is None or not hasattr(_spfdkim, "ms_auth_run"):
        raise OSError("libmailsec-spfdkim without ms_auth")
    L = _spfdkim
    run = _proto(L, "ms_auth_run", ctypes.c_int, _vp, ctypes.POINTER(_AuthOpts), ctypes.c_char_p,
                 ctypes.c_size_t, ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
    free = _proto(L, "ms_auth_free", None, _vp)
    g = {n: _proto(L, "ms_auth_" + n, r, _vp) for n, r in (
        ("header", ctypes.c_char_p), ("received_spf", ctypes.c_char_p),
        ("disposition", ctypes.c_int), ("spf_result", ctypes.c_int), ("spf_dnssec", ctypes.c_int),
        ("dkim_count", ctypes.c_size_t), ("dmarc_result", ctypes.c_int),
        ("dmarc_from_domain", ctypes.c_char_p), ("dmarc_dnssec", ctypes.c_int),
        ("iprev_result", ctypes.c_int), ("iprev_dnssec", ctypes.c_int))}
    dkim_res = _proto(L, "ms_auth_dkim_result", ctypes.c_int, _vp, ctypes.c_size_t)
    sstr = {n: _proto(L, f, ctypes.c_char_p, ctypes.c_int) for n, f in (
        ("disp", "ms_auth_disposition_str"), ("spf", "ms_spf_result_str"),
        ("dkim", "ms_dmarc_dkim_result_str"), ("dmarc", "ms_dmarc_result_str"),
        ("iprev", "ms_iprev_result_str"))}
    o = _AuthOpts(version=1, dns=resolver.handle, authserv_id=authserv_id.encode(),
                  client_ip=client_ip.encode(), helo=helo.encode(),
                  mail_from=mail_from.encode(), flags=flags, deadline_ms=deadline_ms)
    a = _vp()
    why = _why()
    st = run(None, ctypes.byref(o), message, len(message), ctypes.byref(a), why, len(why))
    if st != 0:
        raise MailsecError(st, why.value.decode())
    try:
        fd = g["dmarc_from_domain"](a)
        return AuthResult(
            header=g["header"](a).decode(), received_spf=g["received_spf"](a).decode(),
            disposition=sstr["disp"](g["disposition"](a)).decode(),
            spf=sstr["spf"](g["spf_result"](a)).decode(), spf_dnssec=SECURITY[g["spf_dnssec"](a)],
            dkim=[sstr["dkim"](dkim_res(a, i)).decode() for i in range(g["dkim_count"](a))],
            dmarc=sstr["dmarc"](g["dmarc_result"](a)).decode(),
            dmarc_from_domain=fd.decode() if fd else None,
            dmarc_dnssec=SECURITY[g["dmarc_dnssec"](a)],
            iprev=sstr["iprev"](g["iprev_result"](a)).decode(),
            iprev_dnssec=SECURITY[g["iprev_dnssec"](a)])
    finally:
        free(a)


# ---- libmtasts: the MTA-STS policy of a domain ------------------------------
try:
    _mtasts = _load("mailsec-mtasts")
except OSError:
    _mtasts = None


class _StsFetchConfig(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("ca_file", ctypes.c_char_p),
                ("ca_path", ctypes.c_char_p), ("connect_to", ctypes.c_char_p),
                ("proxy", ctypes.c_char_p), ("timeout_ms", ctypes.c_uint),
                ("fetch", _vp), ("fetch_user", _vp)]


class _StsConfig(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("fetch", _StsFetchConfig),
                ("backoff", ctypes.c_uint32), ("drop_unused_after", ctypes.c_uint32)]


STS_SOURCES = ["none", "fetched", "cache"]


@dataclass
class StsPolicy:
    applies: bool              # a policy applies (else: no MTA-STS now)
    source: str                # "fetched", "cache" or "none"
    mode: Optional[str]        # "enforce", "testing", "none"
    mx: List[str]
    max_age: Optional[int]
    policy_id: Optional[str]
    failure: str               # RFC 8460 result type of a failure, "" if none
    failure_detail: Optional[str]

    def check_mx(self, host: str) -> bool:
        """Whether `host` matches an mx: line (RFC 8461 s4.1)."""
        f = _proto(_mtasts, "ms_sts_mx_pattern_match", ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_char_p)
        return any(f(p.encode(), host.encode()) == 1 for p in self.mx)


def sts_policy_get(resolver: "Resolver", domain: str, cache: Optional[str] = None,
                   ca_file: Optional[str] = None, connect_to: Optional[str] = None,
                   timeout_ms: int = 0) -> StsPolicy:
    """The MTA-STS policy that applies to `domain` now (RFC 8461 s5.1): the
    TXT record through the resolver (DNSSEC status kept), the policy over
    HTTPS, cached in the SQLite file `cache` (None: no cache).  `connect_to`
    is a curl CONNECT_TO entry ("HOST:PORT:ADDR:PORT", for tests)."""
    if _mtasts is None:
        raise OSError("libmailsec-mtasts not available")
    L = _mtasts
    store_new = _proto(L, "ms_sts_store_new_sqlite", ctypes.c_int, _vp, ctypes.c_char_p,
                       ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
    store_free = _proto(L, "ms_sts_store_free", None, _vp)
    new = _proto(L, "ms_sts_new", ctypes.c_int, _vp, ctypes.POINTER(_StsConfig), _vp, _vp,
                 ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_size_t)
    free = _proto(L, "ms_sts_free", None, _vp)
    get = _proto(L, "ms_sts_get_policy", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.POINTER(_vp),
                 ctypes.c_char_p, ctypes.c_size_t)
    rfree = _proto(L, "ms_sts_result_free", None, _vp)
    r_state = _proto(L, "ms_sts_result_state", ctypes.c_int, _vp)
    r_source = _proto(L, "ms_sts_result_source", ctypes.c_int, _vp)
    r_policy = _proto(L, "ms_sts_result_policy", _vp, _vp)
    r_id = _proto(L, "ms_sts_result_policy_id", ctypes.c_char_p, _vp)
    r_fail = _proto(L, "ms_sts_result_failure", ctypes.c_int, _vp)
    r_detail = _proto(L, "ms_sts_result_failure_detail", ctypes.c_char_p, _vp)
    fstr = _proto(_dns, "ms_tlsrpt_result_name", ctypes.c_char_p, ctypes.c_int)
    p_mode = _proto(L, "ms_sts_policy_mode", ctypes.c_int, _vp)
    mstr = _proto(L, "ms_sts_mode_str", ctypes.c_char_p, ctypes.c_int)
    p_age = _proto(L, "ms_sts_policy_max_age", ctypes.c_uint32, _vp)
    p_nmx = _proto(L, "ms_sts_policy_mx_count", ctypes.c_size_t, _vp)
    p_mx = _proto(L, "ms_sts_policy_mx", ctypes.c_char_p, _vp, ctypes.c_size_t)
    why = _why()
    store = _vp()
    if cache is not None:
        st = store_new(None, cache.encode(), ctypes.byref(store), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
    cfg = _StsConfig(version=1)
    cfg.fetch.version = 1
    cfg.fetch.ca_file = ca_file.encode() if ca_file else None
    cfg.fetch.connect_to = connect_to.encode() if connect_to else None
    cfg.fetch.timeout_ms = timeout_ms
    sts = _vp()
    res = _vp()
    try:
        st = new(None, ctypes.byref(cfg), resolver.handle, store, ctypes.byref(sts), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        st = get(sts, domain.encode(), ctypes.byref(res), why, len(why))
        if st != 0:
            raise MailsecError(st, why.value.decode())
        p = r_policy(res) if r_state(res) == 1 else None
        pid, det = r_id(res), r_detail(res)
        return StsPolicy(applies=p is not None, source=STS_SOURCES[r_source(res)],
                         mode=mstr(p_mode(p)).decode() if p else None,
                         mx=[p_mx(p, i).decode() for i in range(p_nmx(p))] if p else [],
                         max_age=p_age(p) if p else None,
                         policy_id=pid.decode() if pid else None,
                         failure=(fstr(r_fail(res)) or b"").decode(),
                         failure_detail=det.decode() if det else None)
    finally:
        rfree(res)
        free(sts)
        store_free(store)


# ---- librequiretls: the delivery plan of one MX host ------------------------
try:
    _rtls = _load("mailsec-requiretls")
except OSError:
    _rtls = None

RTLS_REQUIREMENTS = {"default": 0, "required": 1, "not-required": 2}
RTLS_DANE = {"none": 0, "usable": 1, "unusable": 2, "insecure": 3, "failed": 4}
RTLS_STS = {"no-policy": 0, "none": 1, "testing": 2, "enforce": 3}
RTLS_VERDICTS = ["deliver", "retry-plaintext", "try-next", "tempfail", "permfail"]


class _RtlsDomain(ctypes.Structure):
    _fields_ = [("requirement", ctypes.c_int), ("domain", ctypes.c_char_p),
                ("mx_security", ctypes.c_int), ("sts_mode", ctypes.c_int),
                ("dsn_of_requiretls", ctypes.c_int)]


class _RtlsHost(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("addr_security", ctypes.c_int),
                ("dane", ctypes.c_int), ("sts_match", ctypes.c_int)]


class _RtlsPlan(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("mode", ctypes.c_int),
                ("verify_dane", ctypes.c_int), ("verify_pkix", ctypes.c_int),
                ("report_pkix", ctypes.c_int), ("need_requiretls", ctypes.c_int),
                ("headers_only", ctypes.c_int), ("policy_mode", ctypes.c_int),
                ("policy_dane", ctypes.c_int), ("policy_pkix", ctypes.c_int),
                ("policy_reason", ctypes.c_int), ("reason", ctypes.c_int),
                ("skip_verdict", ctypes.c_int), ("enhanced", ctypes.c_char * 8),
                ("text", ctypes.c_char * 256)]


@dataclass
class RtlsPlan:
    mode: str                 # "skip", "dane", "pkix", "encrypted", "opportunistic", ...
    verify_dane: bool
    verify_pkix: bool
    need_requiretls: bool
    headers_only: bool
    skip_verdict: Optional[str]   # for mode "skip": "try-next", "tempfail", "permfail"
    reason: Optional[str]         # for mode "skip": the metrics label
    enhanced: str                 # for mode "skip": RFC 3463 code
    text: str                     # for mode "skip": DSN text


def rtls_plan(domain: str, host: str, requirement: str = "default",
              mx_security: str = "secure", sts_mode: str = "no-policy",
              addr_security: str = "secure", dane: str = "none", sts_match: bool = False,
              dsn_of_requiretls: bool = False) -> RtlsPlan:
    """How to deliver to one MX host (RFC 7672 s2.2, RFC 8461 s5, RFC 8689
    s4.2) given what the lookups established: ms_rtls_plan."""
    if _rtls is None:
        raise OSError("libmailsec-requiretls not available")
    plan = _proto(_rtls, "ms_rtls_plan", ctypes.c_int, ctypes.POINTER(_RtlsDomain),
                  ctypes.POINTER(_RtlsHost), ctypes.POINTER(_RtlsPlan))
    modestr = _proto(_rtls, "ms_rtls_mode_str", ctypes.c_char_p, ctypes.c_int)
    reasonstr = _proto(_rtls, "ms_rtls_reason_str", ctypes.c_char_p, ctypes.c_int)
    d = _RtlsDomain(requirement=RTLS_REQUIREMENTS[requirement], domain=domain.encode(),
                    mx_security=SECURITY.index(mx_security), sts_mode=RTLS_STS[sts_mode],
                    dsn_of_requiretls=int(dsn_of_requiretls))
    h = _RtlsHost(name=host.encode(), addr_security=SECURITY.index(addr_security),
                  dane=RTLS_DANE[dane], sts_match=int(sts_match))
    p = _RtlsPlan(version=1)  # MS_RTLS_PLAN_VERSION, set by the caller
    st = plan(ctypes.byref(d), ctypes.byref(h), ctypes.byref(p))
    if st != 0:
        raise MailsecError(st, "ms_rtls_plan failed")
    skip = p.mode == 0
    return RtlsPlan(mode=modestr(p.mode).decode(), verify_dane=bool(p.verify_dane),
                    verify_pkix=bool(p.verify_pkix), need_requiretls=bool(p.need_requiretls),
                    headers_only=bool(p.headers_only),
                    skip_verdict=RTLS_VERDICTS[p.skip_verdict] if skip else None,
                    reason=reasonstr(p.reason).decode() if skip else None,
                    enhanced=p.enhanced.decode(), text=p.text.decode())
