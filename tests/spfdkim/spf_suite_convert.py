#!/usr/bin/env python3
"""Convert an openspf YAML test suite (rfc7208-tests.yml.gz, rfc4408-tests.yml.gz)
into the line format test_spf_suite.c reads.  Strings are hex-encoded
("x" + hex of the UTF-8 bytes) so no escaping is needed.

  S <scenario-number>
  Z <name> A|AAAA <address>
  Z <name> MX <preference> <xname>
  Z <name> PTR|CNAME <xname>
  Z <name> TXT <xstring>...          (SPF type-99 data becomes TXT only when
                                      the name has no TXT, as the suite's
                                      own driver does; RFC 7208 never asks SPF)
  Z <name> TIMEOUT                   (any query for the name times out)
  Z <name> <TYPE>-TIMEOUT            (queries of TYPE time out)
  Z <name> NONE                      (the name exists)
  T <id> <ip> <xhelo> <xmailfrom> <result[,result...]> <xexplanation|->
usage: spf_suite_convert.py IN.yml.gz OUT.txt [skip-id ...]
"""
import gzip
import sys

import yaml


def x(s):
    if isinstance(s, bytes):
        return 'x' + s.hex()
    return 'x' + str(s).encode('utf-8').hex()


def records(name, recs, out):
    has_txt = any(isinstance(r, dict) and 'TXT' in r for r in recs)
    for r in recs:
        if not isinstance(r, dict):
            if r == 'TIMEOUT':
                out.append('Z %s TIMEOUT' % x(name))
            continue
        for t, v in r.items():
            if t == 'SPF':
                if has_txt:
                    continue
                t = 'TXT'
            if v == 'TIMEOUT':
                out.append('Z %s %s-TIMEOUT' % (x(name), t))
                continue
            if v == 'NONE' or (isinstance(v, list) and v == ['NONE']):
                out.append('Z %s NONE' % x(name))
                continue
            if t in ('A', 'AAAA'):
                vals = v if isinstance(v, list) else [v]
                for a in vals:
                    out.append('Z %s %s %s' % (x(name), t, a))
            elif t == 'MX':
                out.append('Z %s MX %d %s' % (x(name), int(v[0]), x(v[1])))
            elif t in ('PTR', 'CNAME'):
                out.append('Z %s %s %s' % (x(name), t, x(v)))
            elif t == 'TXT':
                strs = v if isinstance(v, list) else [v]
                out.append('Z %s TXT %s' % (x(name), ' '.join(x(s) for s in strs)))
            else:
                raise SystemExit('unknown record type %r' % t)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    skip = set(sys.argv[3:])
    out = []
    with gzip.open(src, 'rb') as f:
        docs = list(yaml.safe_load_all(f))
    for n, d in enumerate(docs):
        if not d:
            continue
        out.append('S %d' % n)
        for name, recs in (d.get('zonedata') or {}).items():
            records(name, recs, out)
        for tid, c in d['tests'].items():
            if tid in skip:
                out.append('# skipped %s' % tid)
                continue
            res = c['result']
            res = res if isinstance(res, list) else [res]
            exp = c.get('explanation')
            out.append('T %s %s %s %s %s %s' % (
                tid, c['host'], x(c.get('helo', '')), x(c.get('mailfrom', '')),
                ','.join(res), '-' if exp is None else x(exp)))
    with open(dst, 'w') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
