#!/usr/bin/python3
"""Checks, before any load, that the three benchmark locations answer right.

    verify.py RECORD FIELDS PORT SUBJECT PURPOSE TOKEN_FILE TLS_PORT COLLECTIONS CONFIG...

CONFIG is any of plain, pds, lua, pdsx, pdss, plain-tls, pds-tls, modsec,
plainc-100k, pdsc-100k, plainc-1m, pdsc-1m. plain (and plain-tls, modsec)
must return the record unchanged; pds (and pds-tls) must return 200 with
exactly the released fields; lua must return the same document as pds (key
order aside) and a Content-Length that matches its body; plainc-* the
collection (COLLECTIONS/d<size>/residents) unchanged, pdsc-* every record
with exactly the released fields. Prints one line per check; exits 1 if any
fails.
"""
import http.client
import json
import ssl
import sys


def released(doc, fields):
    """The pds filter for dotted member paths, keeping the input's order."""
    out = {}
    missing = object()
    for path in fields:
        parts = path.split(".")
        v = doc
        for p in parts:
            v = v.get(p, missing) if isinstance(v, dict) else missing
            if v is missing:
                break
        if v is missing:
            continue
        t = out
        for p in parts[:-1]:
            t = t.setdefault(p, {})
        t[parts[-1]] = v
    # Re-order every object as the input had it.
    def order(src, dst):
        if not isinstance(dst, dict):
            return dst
        return {k: order(src[k], dst[k]) for k in src if k in dst}
    return order(doc, out)


def get(port, path, headers, tls=False):
    if tls:
        # The bench's own self-signed certificate, on loopback.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, body


def json_or(body, default):
    """The body parsed as JSON, or default when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return default


def main():
    record, fields, port, subject, purpose, token_file, tls_port, collections = sys.argv[1:9]
    configs = sys.argv[9:]
    port = int(port)
    tls_port = int(tls_port)
    fields = fields.split()
    with open(record, "rb") as f:
        raw = f.read()
    doc = json.loads(raw)
    expected = released(doc, fields)
    expected_text = json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    with open(token_file) as f:
        token = f.read().strip()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("  %-4s %s" % ("ok" if ok else "FAIL", what))
        if not ok:
            failures += 1

    auth = {"Authorization": "Bearer " + token, "PDS-Purpose": purpose}

    def get_pds(location):
        """GET the subject's record at an enforced location, with the token."""
        return get(port, "/%s/%s/record" % (location, subject), auth)

    def length_ok(hdrs, body):
        return hdrs.get("content-length") == str(len(body)) or \
            ("content-length" not in hdrs and hdrs.get("transfer-encoding") == "chunked")

    pds_doc = None
    if "plain" in configs:
        st, h, body = get(port, "/plain/%s/record" % subject, {})
        check(st == 200 and body == raw,
              "plain: 200 and the record unchanged (%d bytes)" % len(body))
    if "pds" in configs:
        st, h, body = get_pds("pds")
        pds_doc = json_or(body, None)
        check(st == 200, "pds: status %d (want 200)%s" % (
            st, "" if st == 200 else ": " + body[:300].decode("utf-8", "replace")))
        check(pds_doc == expected, "pds: body holds exactly the released fields")
        check(body.decode("utf-8", "replace") == expected_text,
              "pds: body is compact, in the record's member order (%d bytes)" % len(body))
        check(length_ok(h, body), "pds: Content-Length %s matches the body"
              % h.get("content-length"))
        print("       pds body: %s" % body.decode("utf-8", "replace"))
    if "pdsx" in configs:
        st, h, body = get_pds("pdsx")
        x = json_or(body, {})
        check(st == 200, "pdsx: status %d (want 200)" % st)
        check(isinstance(x.get("name", {}).get("given"), str)
              and x["name"]["given"].startswith("ps_")
              and x.get("dob", "").endswith("9") and "-" in x.get("dob", ""),
              "pdsx: the fields are transformed (pseudonym, age band)")
        check(length_ok(h, body), "pdsx: Content-Length matches the body")
        print("       pdsx body: %s" % body.decode("utf-8", "replace"))
    if "pdss" in configs:
        st, h, body = get_pds("pdss")
        sig = h.get("pds-signature", "")
        check(st == 200 and body.decode("utf-8", "replace") == expected_text,
              "pdss: 200 with the same body as pds")
        check(sig.count(".") == 2 and ".." in sig, "pdss: a detached JWS in PDS-Signature")
    if "lua" in configs:
        st, h, body = get(port, "/lua/%s/record" % subject, {})
        lua_doc = json_or(body, None)
        check(st == 200, "lua: status %d (want 200)" % st)
        check(lua_doc == expected, "lua: body holds exactly the released fields")
        if pds_doc is not None:
            check(lua_doc == pds_doc, "lua: same document as pds (key order aside)")
        check(length_ok(h, body), "lua: Content-Length %s matches the body (%d bytes)"
              % (h.get("content-length"), len(body)))
        print("       lua body: %s" % body.decode("utf-8", "replace"))
    if "plain-tls" in configs:
        st, h, body = get(tls_port, "/plain/%s/record" % subject, {}, tls=True)
        check(st == 200 and body == raw, "plain-tls: 200 and the record unchanged over HTTPS")
    if "pds-tls" in configs:
        st, h, body = get(tls_port, "/pds/%s/record" % subject, auth, tls=True)
        check(st == 200 and body.decode("utf-8", "replace") == expected_text,
              "pds-tls: 200 with the same body as pds, over HTTPS (status %d)" % st)
    if "modsec" in configs:
        st, h, body = get(port, "/modsec/%s/record" % subject, {})
        check(st == 200 and body == raw,
              "modsec: 200 and the record unchanged (inspected by the rule, which passes)")
    for cfg in configs:
        if "c-" not in cfg:
            continue
        kind, size = cfg.split("-", 1)
        with open("%s/d%s/residents" % (collections, size), "rb") as f:
            craw = f.read()
        path = "/%s/d%s/residents" % (kind, size)
        if kind == "plainc":
            st, h, body = get(port, path, {})
            check(st == 200 and body == craw, "%s: 200 and the collection unchanged (%d bytes)"
                  % (cfg, len(body)))
        else:
            st, h, body = get(port, path, auth)
            got = json_or(body, None)
            want = [released(r, fields) for r in json.loads(craw)]
            check(st == 200, "%s: status %d (want 200)%s" % (
                cfg, st, "" if st == 200 else ": " + body[:300].decode("utf-8", "replace")))
            check(got == want, "%s: every record (%d) with exactly the released fields, "
                  "%d bytes of %d" % (cfg, len(want), len(body), len(craw)))
            check(length_ok(h, body), "%s: Content-Length matches the body" % cfg)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
