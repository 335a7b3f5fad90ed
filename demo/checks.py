#!/usr/bin/python3
"""The demo's checks of what it shows (demo/demo.sh runs them; not a tool of
its own). One command a call, its arguments as demo.sh passes them:

    checks.py facts RESIDENTS.json           the residents the story uses
    checks.py response HEADERS BODY STATUS EXPECTED
                                             show one answer and check it
    checks.py audit AUDIT.jsonl STORY-DIR STEP:DECISION:REASON...
                                             one audit record per request
    checks.py backend-log ACCESS.jsonl N     only the N allowed requests
                                             reached the back end
    checks.py person PERSON.json SUBJECT     the resident's own view
    checks.py fhir-nhs BODY RESIDENTS.json ID
                                             a FHIR Patient released as its
                                             NHS number, nothing else

Each check prints its problems ("   !! ...") and exits 1 if there are any.
"""
import json
import re
import sys


def report(problems):
    """Prints the problems found and exits: 0 when there are none, else 1."""
    for p in problems:
        print("   !! " + p)
    sys.exit(1 if problems else 0)


def non_empty_lines(path, what, problems):
    """The non-blank lines of the JSON-lines log at path; a log that cannot
    be read is a problem (named by what) and gives no lines."""
    try:
        return [l for l in open(path, encoding="utf-8").read().splitlines() if l.strip()]
    except OSError as e:
        problems.append("cannot read %s: %s" % (what, e.strerror))
        return []


def facts(argv):
    data = json.load(open(argv[1]))
    if isinstance(data, dict):
        data = data.get("residents", list(data.values()))
    people = [p for p in data if isinstance(p, dict) and "id" in p]
    def rich(p):
        care = p.get("care") or {}
        return bool(care.get("allergies")) and bool(care.get("needs")) and bool(p.get("benefits"))
    chosen = next((p for p in people if rich(p)), people[0])
    other = next(p for p in people if p is not chosen)
    print(len(people))
    print(chosen["id"])
    print(other["id"])
    kept = {"id", "name", "dob", "care"}   # what the health board's agreement touches
    print(", ".join(k for k in chosen if k not in kept))


def response(argv):
    hdr_file, body_file, want_status, want = argv[1:5]
    want = want.split()
    lines = [l.rstrip("\r\n") for l in open(hdr_file, encoding="latin-1")]
    # Keep the last response's headers (curl writes one block per response).
    blocks, cur = [], []
    for l in lines:
        if l.startswith("HTTP/"):
            cur = [l]
            blocks.append(cur)
        elif l and cur is not None:
            cur.append(l)
    status_line = blocks[-1][0] if blocks else "HTTP/? 000 (no response)"
    headers = {}
    for l in (blocks[-1][1:] if blocks else []):
        k, _, v = l.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    shown = ["Content-Type", "Cache-Control", "PDS-Agreement", "PDS-Request-Id",
             "WWW-Authenticate", "Allow"]
    out = ["   " + status_line]
    for h in shown:
        for v in headers.get(h.lower(), []):
            out.append("   %s: %s" % (h, v))
    raw = open(body_file, "rb").read()
    body = None
    try:
        body = json.loads(raw)
        text = json.dumps(body, indent=4, ensure_ascii=False)
    except ValueError:
        text = raw.decode("utf-8", "replace")
    out += ["   " + l for l in text.splitlines()]
    print("\n".join(out))

    problems = []
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        status = 0
    if status != int(want_status):
        problems.append("expected HTTP %s, got %s" % (want_status, status or "no response"))
    if not headers.get("pds-request-id") and want[0] != "api":
        problems.append("no PDS-Request-Id header")
    ctype = (headers.get("content-type") or [""])[0].split(";")[0].strip()
    if want[0] == "api":
        # The consent API: the consent in the state expected, with a signed receipt.
        consent = body.get("consent") if isinstance(body, dict) else None
        if ctype != "application/json":
            problems.append("expected application/json, got %r" % ctype)
        if not isinstance(consent, dict) or consent.get("state") != want[1]:
            problems.append("expected a consent in state %s" % want[1])
        if not isinstance(body, dict) or str(body.get("receipt", "")).count(".") != 2:
            problems.append("expected a signed receipt (compact JWS)")
        report(problems)
    if want[0] == "deny":
        if ctype != "application/problem+json":
            problems.append("expected application/problem+json, got %r" % ctype)
        if not isinstance(body, dict) or body.get("reason") != want[1]:
            got = body.get("reason") if isinstance(body, dict) else None
            problems.append("expected reason %s, got %s" % (want[1], got))
    else:
        agreement, released = want[1], want[2:]
        if ctype != "application/json":
            problems.append("expected application/json, got %r" % ctype)
        if not (headers.get("pds-agreement") or [""])[0].startswith(agreement + ";"):
            problems.append("expected PDS-Agreement %s;v=..., got %s"
                            % (agreement, headers.get("pds-agreement")))
        # Every value that came back must lie under a released field path.
        def leaves(v, path):
            if isinstance(v, dict):
                for k, x in v.items():
                    yield from leaves(x, path + "." + k if path else k)
            elif isinstance(v, list):
                for x in v:
                    yield from leaves(x, path + "[*]")
                if not v:
                    yield path
            else:
                yield path
        # A predicate ("identifier[system=...]") selects some elements of an
        # array: what it releases lies under the "[*]" form of the path.
        released = [re.sub(r'\[(?:[^\]"]|"[^"]*")*\]', "[*]", r) for r in released]
        if not isinstance(body, dict) or not body:
            problems.append("expected a JSON object with the released fields")
        else:
            for leaf in sorted(set(leaves(body, ""))):
                base = leaf
                while base.endswith("[*]"):
                    base = base[:-3]
                if not any(base == r or base.startswith(r + ".") or base.startswith(r + "[")
                           for r in released):
                    problems.append("field %s is not released by %s" % (leaf, agreement))
    report(problems)


def audit(argv):
    path, story, steps = argv[1], argv[2], argv[3:]
    problems = []
    lines = non_empty_lines(path, "the audit log", problems)
    records = []
    for n, l in enumerate(lines, 1):
        try:
            rec = json.loads(l)
        except ValueError:
            problems.append("audit line %d is not JSON" % n)
            continue
        if "type" not in rec:      # checkpoints and file starts are not decisions
            records.append(rec)
    by_id = {r.get("request_id"): r for r in records if isinstance(r, dict)}
    keys = ["time", "request_id", "client_ip", "organisation", "agreement", "purpose",
            "subject", "method", "path", "decision", "reason", "status", "fields"]
    for s in steps:
        num, decision, reason = s.split(":")
        rid = None
        for l in open("%s/%s.headers" % (story, num), encoding="latin-1"):
            if l.lower().startswith("pds-request-id:"):
                rid = l.split(":", 1)[1].strip()
        rec = by_id.get(rid)
        if rec is None:
            problems.append("step %s (request %s) has no audit record" % (num, rid))
            continue
        missing = [k for k in keys if k not in rec]
        if missing:
            problems.append("step %s: the audit record lacks %s" % (num, ", ".join(missing)))
        if rec.get("decision") != decision or (decision == "deny" and rec.get("reason") != reason):
            problems.append("step %s: audit says %s/%s, expected %s/%s"
                            % (num, rec.get("decision"), rec.get("reason"), decision, reason))
    if len(records) != len(steps):
        problems.append("%d audit records for %d requests" % (len(records), len(steps)))
    report(problems)


def backend_log(argv):
    path, allowed = argv[1], int(argv[2])
    problems = []
    lines = non_empty_lines(path, "the back end's access log", problems)
    for l in lines:
        try:
            e = json.loads(l)
        except ValueError:
            problems.append("a back-end access log line is not JSON")
            continue
        headers = e.get("headers") or []
        print("   %s %s" % (e.get("method"), e.get("target")))
        added = ["%s: %s" % (k, v) for k, v in headers
                 if k.lower() in ("pds-organisation", "pds-agreement", "pds-purpose")]
        print("       " + ", ".join(added))
        for k, v in headers:
            if k.lower() in ("authorization", "proxy-authorization", "cookie"):
                problems.append("the back end received the client's %s header" % k)
    if len(lines) != allowed:
        problems.append("the back end saw %d requests; expected %d" % (len(lines), allowed))
    report(problems)


def person(argv):
    doc = json.load(open(argv[1]))
    ok = doc.get("subject") == argv[2] and any(
        d.get("organisation") == "health-board" for d in doc.get("disclosures", []))
    sys.exit(0 if ok else 1)


def fhir_nhs(argv):
    """The Patient released under council-to-health-board-nhs-number: the NHS
    number (digits only, as FHIR writes it), and none of what else the back
    end holds about the resident."""
    body = json.load(open(argv[1]))
    rec = next(p for p in json.load(open(argv[2])) if p["id"] == argv[3])
    nhs = rec["nhs_number"].replace(" ", "")
    problems = []
    if body != {"identifier": [{"value": nhs}]}:
        problems.append("expected only the NHS number %s, got %s"
                        % (nhs, json.dumps(body)))
    text = json.dumps(body)
    for what, value in (("the case reference", "SC-" + rec["id"][-6:]),
                        ("the family name", rec["name"]["family"]),
                        ("the phone number", rec["phone"]), ("the e-mail", rec["email"]),
                        ("the identifier's system", "nhs-number")):
        if value in text:
            problems.append("%s left the gateway" % what)
    report(problems)


COMMANDS = {
    "facts": facts,
    "response": response,
    "audit": audit,
    "backend-log": backend_log,
    "person": person,
    "fhir-nhs": fhir_nhs,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: checks.py {%s} ARGS..." % ",".join(COMMANDS))
    COMMANDS[sys.argv[1]](sys.argv[1:])
