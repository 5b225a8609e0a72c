"""mailsec - a Python binding over the mailsec C libraries (ctypes).

It exists to prove the C API is binding-friendly: opaque handles with
explicit free, plain structs with a version field, no varargs, no global
state.  It covers the DNS lookups with their DNSSEC status, DANE
verification of a certificate chain, SPF, and DKIM verification when the
library has it.

The shared libraries are found through MAILSEC_LIBDIR (a folder, or several
separated by ':') or the system loader path.
"""
import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

_c_uint8_p = ctypes.POINTER(ctypes.c_uint8)


def _load(name: str) -> ctypes.CDLL:
    for d in (os.environ.get("MAILSEC_LIBDIR") or "").split(":"):
        if d:
            for cand in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                if cand.startswith(f"lib{name}.so"):
                    return ctypes.CDLL(os.path.join(d, cand))
    path = ctypes.util.find_library(name)
    if path is None:
        raise OSError(f"lib{name} not found (set MAILSEC_LIBDIR)")
    return ctypes.CDLL(path)


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
    rstr = _proto(_dane, "ms_tlsrpt_result_name", ctypes.c_char_p, ctypes.c_int)
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
        res = _DaneResult()
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
