#!/bin/sh
# make-world.sh OUTDIR - build the offline test world: a PKI and a tree of
# DNSSEC-signed zones under the test trust anchor "test.", plus the
# unbound.conf that loads them into libunbound as auth-zones.
#
# Layout (each library adds files, none edits another's):
#   pki.d/NN-name.sh      run first, in order, with OUT set; they write
#                         certificates under $OUT/pki and may append
#                         NAME=value lines to $OUT/vars (used in zone files)
#   zones/ZONE/mode       how ZONE is served: ecdsa-nsec | rsa-nsec3 |
#                         unsigned | expired | badds | unloaded
#   zones/ZONE/*.zone     record fragments ($ORIGIN is ZONE); @VAR@ is
#                         replaced from $OUT/vars
#   zones/ZONE/*.sh       fragments generated at build time (stdout)
#   zones/ZONE/post-sign.sh   optional: edits $1 (the signed file) after signing
#   zones/ZONE/*.conf     unbound.conf fragments appended to auth.conf (for
#                         answers a zone file cannot give, e.g. local-data)
# SOA and NS are written for every zone; delegations (NS, plus DS for signed
# children; a DS of an unrelated key for "badds") are added to the parent.
# An "unloaded" zone is delegated to 127.0.0.9, where nothing answers, to
# test timeouts.  Signatures run from 2024 to 2037 ("expired": Jan 2020).
#
# Output: $OUT/auth.conf, $OUT/trust-anchor.ds, $OUT/zones/*, $OUT/pki/*,
#         $OUT/vars.  Needs ldnsutils, bind9-utils and openssl.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: make-world.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/zones" "$OUT/pki" "$OUT/keys" "$OUT/vars"
mkdir -p "$OUT/zones" "$OUT/pki" "$OUT/keys"
: > "$OUT/vars"
export OUT

START=20240101000000
END=20371231000000
XSTART=20200101000000
XEND=20200201000000
SOA_TAIL="2024010101 3600 900 604800 300"

for s in "$HERE"/pki.d/*.sh; do
  [ -e "$s" ] || continue
  sh "$s"
done

# Substitute @NAME@ from $OUT/vars.
subst() {
  sed_script=$(awk -F= 'NF>=2 { v=substr($0, index($0,"=")+1); gsub(/[\\\/&|]/, "\\\\&", v); printf "s|@%s@|%s|g;", $1, v }' "$OUT/vars")
  if [ -n "$sed_script" ]; then sed "$sed_script" "$1"; else cat "$1"; fi
}

# Zones deepest first, so each child's delegation reaches its parent first.
ZONES=$(for d in "$HERE"/zones/*/; do z=$(basename "$d"); n=$(echo "$z" | tr -cd . | wc -c); echo "$n $z"; done | sort -rn | cut -d' ' -f2)

parent_of() {
  for p in $ZONES; do
    case "$1" in *".$p") echo "$p"; return;; esac
  done
}

for z in $ZONES; do
  : > "$OUT/zones/$z.deleg"
done

for z in $ZONES; do
  src="$HERE/zones/$z"
  mode=$(cat "$src/mode")
  zf="$OUT/zones/$z.zone"
  {
    echo "\$ORIGIN $z."
    echo "\$TTL 3600"
    echo "@ IN SOA ns1.test. hostmaster.test. $SOA_TAIL"
    echo "@ IN NS ns1.test."
    for f in "$src"/*.zone; do [ -e "$f" ] && subst "$f"; done
    for f in "$src"/*.sh; do
      [ -e "$f" ] || continue
      [ "$(basename "$f")" = post-sign.sh ] && continue
      sh "$f"
    done
    cat "$OUT/zones/$z.deleg"
  } > "$zf"

  parent=$(parent_of "$z")
  kdir="$OUT/keys/$z"
  mkdir -p "$kdir"
  case "$mode" in
    ecdsa-nsec|expired|badds)
      ksk=$(cd "$kdir" && dnssec-keygen -q -a ECDSAP256SHA256 -f KSK -n ZONE "$z")
      zsk=$(cd "$kdir" && dnssec-keygen -q -a ECDSAP256SHA256 -n ZONE "$z")
      s=$START; e=$END
      [ "$mode" = expired ] && { s=$XSTART; e=$XEND; }
      (cd "$kdir" && dnssec-signzone -q -O full -P -S -K . -N keep -s $s -e $e \
         -o "$z" -f "$OUT/zones/$z.signed" "$zf" >/dev/null)
      if [ "$mode" = badds ]; then
        other=$(cd "$kdir" && mkdir -p unused && cd unused && dnssec-keygen -q -a ECDSAP256SHA256 -f KSK -n ZONE "$z")
        dnssec-dsfromkey -2 "$kdir/unused/$other.key" > "$kdir/ds"
      else
        dnssec-dsfromkey -2 "$kdir/$ksk.key" > "$kdir/ds"
      fi
      ;;
    rsa-nsec3)
      ksk=$(cd "$kdir" && ldns-keygen -a RSASHA256 -b 2048 -k "$z")
      zsk=$(cd "$kdir" && ldns-keygen -a RSASHA256 -b 1024 "$z")
      rm -f "$kdir"/*.ds
      (cd "$kdir" && ldns-signzone -n -t 0 -s '' -i $START -e $END \
         -f "$OUT/zones/$z.signed" "$zf" "$ksk" "$zsk")
      (cd "$kdir" && ldns-key2ds -n -2 "$ksk.key") > "$kdir/ds"
      ;;
    unsigned|unloaded)
      cp "$zf" "$OUT/zones/$z.signed"
      : > "$kdir/ds"
      ;;
    *) echo "make-world: zone $z: unknown mode '$mode'" >&2; exit 1;;
  esac
  if [ -e "$src/post-sign.sh" ]; then
    sh "$src/post-sign.sh" "$OUT/zones/$z.signed"
  fi
  if [ -n "$parent" ]; then
    {
      if [ "$mode" = unloaded ]; then
        echo "$z. IN NS ns.$z."
        echo "ns.$z. IN A 127.0.0.9"
      else
        echo "$z. IN NS ns1.test."
      fi
      cat "$kdir/ds"
    } >> "$OUT/zones/$parent.deleg"
  else
    # The top zone: its DS is the trust anchor.
    cp "$kdir/ds" "$OUT/trust-anchor.ds"
  fi
done

# The resolver configuration: every zone except "unloaded" ones as a
# validated auth-zone (see the notes in ../../docs/testing.md).
{
  cat <<C
server:
    module-config: "validator iterator"
    trust-anchor-file: "$OUT/trust-anchor.ds"
    local-zone: "test." transparent
    local-zone: "." refuse
    do-not-query-localhost: no
    use-syslog: no
    verbosity: 0
C
  for z in $ZONES; do
    [ "$(cat "$HERE/zones/$z/mode")" = unloaded ] && continue
    # Zones outside "test." (reverse zones) hide behind unbound's built-in
    # RFC 6303 local zones unless made transparent.
    [ -z "$(parent_of "$z")" ] && [ "$z" != test ] &&
      printf 'server:\n    local-zone: "%s." transparent\n' "$z"
    cat <<C
auth-zone:
    name: "$z"
    zonefile: "$OUT/zones/$z.signed"
    for-upstream: yes
    for-downstream: no
    fallback-enabled: no
C
  done
  for z in $ZONES; do
    for f in "$HERE/zones/$z"/*.conf; do [ -e "$f" ] && subst "$f"; done
  done
} > "$OUT/auth.conf"
[ -s "$OUT/trust-anchor.ds" ] || { echo "make-world: no top zone signed" >&2; exit 1; }
echo "world ready in $OUT"
