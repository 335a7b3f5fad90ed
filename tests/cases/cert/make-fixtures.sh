#!/bin/sh
# Makes the certificate fixtures under tests/cases/cert/<name>/ ONCE with the
# openssl command-line tool, an independent reading of the same certificates:
#     cert.pem  a self-signed certificate (its key is thrown away)
#     subject   what `openssl x509 -noout -subject -nameopt RFC2253` prints
#               after "subject="
#     sha256    what `openssl x509 -noout -fingerprint -sha256` prints after "="
#     sans      the subjectAltNames we must report, one a line, in order
#               (written here by hand: the CLI's format is not ours)
# test_cert reads every directory. Usage: sh make-fixtures.sh [outdir]
set -eu
out=${1:-$(dirname "$0")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make_case() {
    name=$1; sans=$2; shift 2
    mkdir -p "$out/$name"
    openssl req -x509 -nodes -days 36500 -utf8 "$@" -keyout "$tmp/key" \
        -out "$out/$name/cert.pem" 2>/dev/null
    openssl x509 -in "$out/$name/cert.pem" -noout -subject -nameopt RFC2253 \
        | sed 's/^subject=//' > "$out/$name/subject"
    openssl x509 -in "$out/$name/cert.pem" -noout -fingerprint -sha256 \
        | sed 's/^[^=]*=//' > "$out/$name/sha256"
    printf '%s' "$sans" > "$out/$name/sans"
}

make_case full 'DNS:api.fife-health.example
DNS:*.gw.fife-health.example
email:ops@fife-health.example
URI:spiffe://fife-health.example/gateway
IP:192.0.2.17
IP:2001:db8::42
' -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -subj "/C=GB/ST=Fife/O=NHS Fife, Digital/OU=Gateway+OU=Ops/CN=api.fife-health.example/emailAddress=ops@fife-health.example" \
    -addext "subjectAltName=DNS:api.fife-health.example,DNS:*.gw.fife-health.example,email:ops@fife-health.example,URI:spiffe://fife-health.example/gateway,IP:192.0.2.17,IP:2001:db8::42,otherName:1.2.3.4;UTF8:ignored,RID:1.2.3.4"

make_case no-san '' -newkey rsa:2048 \
    -subj "/CN=research.uni.example/O=University \"Research\" #1/L=Dùndee"

make_case escapes 'DNS:ONE.Example
IP:10.0.0.1
' -newkey ed25519 -subj "/CN= leading space/O=a=b;c<d>e\\\\f" \
    -addext "subjectAltName=DNS:ONE.Example,IP:10.0.0.1"
