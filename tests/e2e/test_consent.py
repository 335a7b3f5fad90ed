"""Consent through a real httpd: the consent API (grant, list, show, pause,
resume, revoke, mandates, opt-outs, signed receipts), enforcement of
consent-based agreements (field narrowing, paused, expired, revoked, on this
server at once and on a second server within the cache TTL), consent
managers acting under a mandate, the opt-out register, consent artefacts
carried with the request, a store that is down or locked, and concurrent
changes. Every test runs twice: on SQLite (the embedded default) and on a
real PostgreSQL started on loopback. SPEC: Issue 3."""
import base64
import concurrent.futures
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import pds_harness as H
import pds_postgres
from pds_configs import (AUTH_MODULES, CITIZENS_LOCATION, CITIZEN_RECORD, HB_DIRECT_CARE,
                         ORGANISATIONS, OTHER_SUBJECT, SUBJECT, agreement, person_location)

CONSENT_AGREEMENT = (
    agreement("hb-care-planning", "health-board", "care-planning",
              "GET /consented/{subject}/record", "Release name.given name.family dob care.needs",
              basis="consent") +
    agreement("trust-support", "data-trust", "wellbeing-support",
              "GET /consented/{subject}/record", "Release name.given care.needs",
              basis="consent") +
    agreement("hb-district-care", "health-board", "care-planning",
              ["GET /districts/{district}/residents", "POST /districts/{district}/residents"],
              "Release [*].id [*].name.given [*].dob [*].care.needs", "Write note",
              "RecordSubject id", basis="consent") +
    agreement("hb-district-survey", "health-board", "survey",
              "GET /districts/{district}/residents", "Release [*].id [*].dob",
              "RecordSubject id") +
    agreement("trust-outreach", "data-trust", "outreach", CITIZEN_RECORD,
              "Release name.given", basis="legitimate-interests") +
    agreement("hb-emergency", "health-board", "emergency", CITIZEN_RECORD,
              "Release name.given care.allergies", basis="vital-interests"))

API = ("\n" + person_location("/my/consents", "pds-consent")
       + "<Location /consent-managers>\n    SetHandler pds-consent\n</Location>\n"
       + person_location("/my/disclosures", "pds-disclosures"))

PEOPLE = [SUBJECT, OTHER_SUBJECT, "9384937398", "2297511965", "8636999065", "4773038799"]
CARE_FIELDS = ["name.given", "name.family", "dob", "care.needs"]


def nobody_owned_dir(prefix):
    """A directory httpd's children (nobody, when root) can write."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    if os.geteuid() == 0:
        shutil.chown(d, "nobody", "nogroup")
    return d


class Issuer:
    """A consent manager that signs artefacts, and the trust registry file."""

    def __init__(self, directory):
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.other = ed25519.Ed25519PrivateKey.generate()
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.path = os.path.join(directory, "trust-registry.json")
        self.revoked = []
        self.write()

    @staticmethod
    def pem(key):
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo
                                             ).decode()

    def write(self):
        doc = {"issuers": [{"id": "data-trust-pds",
                            "keys": [{"kid": "dt-1", "pem": self.pem(self.key)},
                                     {"kid": "dt-ec", "pem": self.pem(self.ec_key)}]}],
               "revoked": self.revoked}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
        # a later mtime even within the same second
        st = os.stat(self.path)
        os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000))

    def artefact(self, subject=SUBJECT, org="health-board", purpose="care-planning",
                 fields=("name.given", "dob"), lifetime=300, key=None, kid="dt-1",
                 alg="EdDSA", **extra):
        now = int(time.time())
        claims = {"iss": "data-trust-pds", "jti": "a-" + secrets.token_hex(8),
                  "sub": subject, "org": org, "purpose": purpose, "fields": list(fields),
                  "iat": now, "exp": now + lifetime}
        for k, v in extra.items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        return H.mint_token(key or self.key, alg, claims,
                            header_overrides={"kid": kid, "typ": "pds-consent+jws"})


# ------------------------------------------------------------------ the world

@pytest.fixture(scope="module", params=["sqlite", "pgsql"])
def world(request, gateway_factory, tmp_path_factory):
    """Two gateways sharing one consent store (cache TTL 1 s), the residents'
    passwords, a trust registry and its issuer."""
    shared = nobody_owned_dir("pds-e2e-consent-")
    htpasswd = os.path.join(shared, "htpasswd")
    H.write_htpasswd(htpasswd, [(user, "pw-" + user) for user in PEOPLE])
    issuer = Issuer(shared)
    pg = None
    if request.param == "sqlite":
        store = 'PDSConsentStore sqlite3 "%s"\n' % os.path.join(shared, "consent.db")
    else:
        ok, why = pds_postgres.postgres_available()
        if not ok:
            pytest.fail("PostgreSQL is needed for the consent store tests: " + why)
        pg = pds_postgres.Postgres().start()
        store = 'PDSConsentStore pgsql "%s"\n' % pg.conninfo
    keydir = str(tmp_path_factory.mktemp("receipt"))
    receipt_key = ed25519.Ed25519PrivateKey.generate()
    key_path = os.path.join(keydir, "receipt.key")
    H.write_private(key_path, receipt_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    settings = (store + 'PDSConsentReceiptKey "%s"\n' % key_path
                + "PDSConsentCache shmcb 1\nPDSConsentStoreTimeout 500\n"
                + "PDSConsentManager data-trust\n"
                + "PDSConsentReceiptIssuer https://gateway.council.example\n"
                + 'PDSConsentTrustRegistry "%s" 1\n' % issuer.path)
    body = (ORGANISATIONS + settings + HB_DIRECT_CARE + CONSENT_AGREEMENT
            + CITIZENS_LOCATION
            + "<Location /consented/>\n    PDSGateway on\n"
              "    ProxyPass %(backend)s/api/citizens/\n</Location>\n"
            + "<Location /districts/>\n    PDSGateway on\n"
              "    ProxyPass %(backend)s/api/districts/\n</Location>\n"
            + API.replace("%(htpasswd)s", htpasswd))
    a = gateway_factory(body, extra_modules=AUTH_MODULES)
    b = gateway_factory(body, extra_modules=AUTH_MODULES)
    yield {"a": a, "b": b, "issuer": issuer, "pg": pg, "dir": shared,
           "kind": request.param, "receipt_public": receipt_key.public_key()}
    # the gateways go with their store (they would go on indexing into it)
    H.stop_gateways([a, b])
    if pg is not None:
        pg.stop()
    shutil.rmtree(shared, ignore_errors=True)


def api(gw, method, path, person=SUBJECT, body=None, who=None, content_type=None,
        headers=None):
    """A call to the consent API as a person (Basic auth) or as an organisation
    (its client certificate, who=...)."""
    s = H.requests.Session()
    s.trust_env = False
    s.verify = gw.pki.ca_cert
    kw = {"timeout": 20}
    if who is not None:
        c = gw.pki[who]
        s.cert = (c.cert, c.key)
    elif person is not None:
        kw["auth"] = (person, "pw-" + person)
    headers = dict(headers or {})
    if body is not None:
        kw["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        headers["Content-Type"] = content_type or "application/json"
    mount = "/consent-managers" if who is not None or person is None else "/my/consents"
    with s:
        return s.request(method, gw.url(mount + path), headers=headers, **kw)


def grant(gw, person=SUBJECT, fields=("name.given", "dob"), purpose="care-planning",
          organisation="health-board", **extra):
    body = {"organisation": organisation, "purpose": purpose, "fields": list(fields),
            "notice": "council-privacy-notice-v3"}
    body.update(extra)
    r = api(gw, "POST", "/consents", person=person, body=body)
    assert r.status_code == 201, H.describe(r)
    return r.json()


def change(gw, cid, action, person=SUBJECT):
    r = api(gw, "POST", "/consents/%s/%s" % (cid, action), person=person)
    assert r.status_code == 200, H.describe(r)
    return r.json()


def record(gw, person, purpose="care-planning", who="health-board", headers=None):
    return gw.get("/consented/%s/record" % person, purpose=purpose, who=who, headers=headers)


def disclosures(gw, person):
    s = H.requests.Session()
    s.trust_env = False
    with s:
        r = s.get(gw.url("/my/disclosures"), auth=(person, "pw-" + person),
                  verify=gw.pki.ca_cert, timeout=10)
    assert r.status_code == 200, H.describe(r)
    return r.json()["disclosures"]


def revoke_all(gw, person):
    r = api(gw, "GET", "/consents", person=person)
    assert r.status_code == 200, H.describe(r)
    for c in r.json()["consents"]:
        if c["state"] in ("active", "paused"):
            change(gw, c["id"], "revoke", person=person)


def verify_receipt(world, receipt, key=None):
    """The receipt is a JWS the published key verifies; returns its payload."""
    h, p, s = receipt.split(".")
    header = json.loads(H.b64url_decode(h))
    assert header["alg"] == "EdDSA" and header["typ"] == "pds-consent-receipt+jws"
    jwks = api(world["a"], "GET", "/keys", person=None).json()
    jwk = [k for k in jwks["keys"] if k["kid"] == header["kid"]][0]
    public = ed25519.Ed25519PublicKey.from_public_bytes(H.b64url_decode(jwk["x"]))
    public.verify(H.b64url_decode(s), (h + "." + p).encode())   # raises if it does not verify
    return json.loads(H.b64url_decode(p))


def allow_store_errors(log_allow):
    # PDS00533-PDS00536, PDS00540: the index of disclosures, kept from the background
    log_allow.extend(["PDS00088", "PDS00093", "PDS00094", "PDS00095", r"PDS005(3[3-6]|40)"])


# ---------------------------------------------------------------- enforcement

def test_without_consent_nothing_reaches_the_back_end(world):
    gw = world["a"]
    revoke_all(gw, "8636999065")
    r = record(gw, "8636999065")
    H.assert_problem(r, "consent-missing", 403)
    assert gw.backend.requests() == []
    rec = gw.audit_for(r)
    assert rec["decision"] == "deny" and rec["reason"] == "consent-missing"
    assert rec["legal_basis"] == "consent" and rec["subject"] == "8636999065"


def test_grant_then_allowed_with_the_fields_of_both(world, residents):
    gw = world["a"]
    revoke_all(gw, SUBJECT)
    doc = grant(gw, fields=["name.given", "dob"])
    c = doc["consent"]
    assert c["state"] == "active" and c["version"] == 1 and c["actor"] == "person"
    assert c["subject"] == SUBJECT and c["legal_basis"] == "consent"
    assert c["notice"] == "council-privacy-notice-v3"
    payload = verify_receipt(world, doc["receipt"])
    assert payload["action"] == "grant" and payload["consent"]["id"] == c["id"]
    r = record(gw, SUBJECT)
    assert r.status_code == 200, H.describe(r)
    person = residents[SUBJECT]
    assert r.json() == {"name": {"given": person["name"]["given"]}, "dob": person["dob"]}
    rec = gw.audit_for(r)
    assert rec["consent"] == c["id"]
    assert rec["fields"] == ["name.given", "dob"]
    H.assert_no_leak(r, person, released=["name.given", "dob"])


def test_the_receipt_issuer_is_configured_not_taken_from_host(world):
    """Issue #10 item 10: a client's Host header does not become the issuer of
    a signed receipt; PDSConsentReceiptIssuer does."""
    gw = world["a"]
    person = "8636999065"
    evil = {"Host": "evil.example"}
    r = api(gw, "POST", "/consents", person=person, headers=evil, body={
        "organisation": "health-board", "purpose": "care-planning", "fields": ["dob"],
        "notice": "n-host"})
    assert r.status_code == 201, H.describe(r)
    payload = verify_receipt(world, r.json()["receipt"])
    assert payload["iss"] == "https://gateway.council.example"
    r = api(gw, "POST", "/consents/%s/revoke" % r.json()["consent"]["id"], person=person,
            headers={"Host": "evil.example:8443"})
    assert r.status_code == 200, H.describe(r)
    assert verify_receipt(world, r.json()["receipt"])["iss"] == "https://gateway.council.example"


def test_a_grant_must_fit_an_agreement(world):
    gw = world["a"]
    body = {"organisation": "health-board", "purpose": "care-planning",
            "fields": ["address.postcode"], "notice": "n-1"}
    r = api(gw, "POST", "/consents", body=body)
    doc = H.assert_problem(r, "invalid-consent", 422)
    assert "address.postcode" in doc["detail"]
    body.update(fields=["dob"], purpose="direct-care")   # public-task: no consent asked
    H.assert_problem(api(gw, "POST", "/consents", body=body), "invalid-consent", 422)


def test_revocation_is_immediate_here_and_within_the_ttl_elsewhere(world):
    a, b = world["a"], world["b"]
    person = OTHER_SUBJECT
    revoke_all(a, person)
    c = grant(a, person=person)["consent"]
    assert record(a, person).status_code == 200
    assert record(b, person).status_code == 200      # b has it cached now
    doc = change(a, c["id"], "revoke", person=person)
    assert doc["consent"]["state"] == "revoked"
    assert verify_receipt(world, doc["receipt"])["action"] == "revoke"
    t0 = time.monotonic()
    H.assert_problem(record(a, person), "consent-revoked", 403)
    while True:
        r = record(b, person)
        if r.status_code == 403:
            break
        assert r.status_code == 200
        assert time.monotonic() - t0 < 2.0, "the second server still released data after 2 s"
        time.sleep(0.1)
    H.assert_problem(r, "consent-revoked", 403)
    assert time.monotonic() - t0 < 2.0


def session_of(gw, who="health-board"):
    s = H.requests.Session()
    s.trust_env = False
    s.verify = gw.pki.ca_cert
    c = gw.pki[who]
    s.cert = (c.cert, c.key)
    return s


def test_a_fill_racing_a_revocation_never_outlives_it_here(world):
    """Issue #10 item 6, a real race: in each round readers on this server
    miss the cache (the grant cleared it) and fill it while the person
    revokes; once the revocation is answered, every read here is refused,
    whatever the readers were doing (a fill that read the store before the
    revocation committed must not be believed after it). Bounded: 120 rounds
    or 45 s, whichever comes first."""
    gw = world["a"]
    person = OTHER_SUBJECT
    revoke_all(gw, person)
    url = gw.url("/consented/%s/record" % person)
    head = {"PDS-Purpose": "care-planning"}
    readers = [session_of(gw) for _ in range(4)]
    checker = session_of(gw)
    people = H.requests.Session()
    people.trust_env = False
    people.verify = gw.pki.ca_cert
    people.auth = (person, "pw-" + person)
    api_url = gw.url("/my/consents/consents")
    grant_body = json.dumps({"organisation": "health-board", "purpose": "care-planning",
                             "fields": ["dob"], "notice": "race"})

    def read(s):
        return s.get(url, headers=head, timeout=20).status_code

    deadline = time.monotonic() + 45
    rounds = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        try:
            while rounds < 120 and time.monotonic() < deadline:
                rounds += 1
                g = people.post(api_url, data=grant_body, timeout=20,
                                headers={"Content-Type": "application/json"})
                assert g.status_code == 201, H.describe(g)
                cid = g.json()["consent"]["id"]
                pending = [pool.submit(read, s) for s in readers]
                if rounds % 2:
                    time.sleep(0.002 * (rounds % 5))
                r = people.post("%s/%s/revoke" % (api_url, cid), timeout=20)
                assert r.status_code == 200, H.describe(r)
                for _ in range(3):
                    after = checker.get(url, headers=head, timeout=20)
                    assert after.status_code == 403, (
                        "round %d: released after the revocation was answered: %s"
                        % (rounds, H.describe(after)))
                assert {f.result() for f in pending} <= {200, 403}
        finally:
            for s in readers + [checker, people]:
                s.close()
    assert rounds >= 20


def test_paused_and_resumed(world):
    gw = world["a"]
    person = "9384937398"
    revoke_all(gw, person)
    c = grant(gw, person=person)["consent"]
    assert change(gw, c["id"], "pause", person=person)["consent"]["state"] == "paused"
    H.assert_problem(record(gw, person), "consent-paused", 403)
    # a paused consent cannot be paused again
    H.assert_problem(api(gw, "POST", "/consents/%s/pause" % c["id"], person=person),
                     "consent-state-conflict", 409)
    assert change(gw, c["id"], "resume", person=person)["consent"]["state"] == "active"
    assert record(gw, person).status_code == 200
    shown = api(gw, "GET", "/consents/" + c["id"], person=person).json()
    assert [h["action"] for h in shown["history"]] == ["grant", "pause", "resume"]
    assert [h["version"] for h in shown["history"]] == [1, 2, 3]
    revoke_all(gw, person)
    H.assert_problem(api(gw, "POST", "/consents/%s/resume" % c["id"], person=person),
                     "consent-state-conflict", 409)


def test_expired_consent(world):
    gw = world["a"]
    person = "2297511965"
    revoke_all(gw, person)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    c = grant(gw, person=person, expires=soon)["consent"]
    assert c["expires"] == soon
    assert record(gw, person).status_code == 200
    time.sleep(max(0.0, H_parse(soon) - time.time()) + 0.3)
    H.assert_problem(record(gw, person), "consent-expired", 403)
    listed = api(gw, "GET", "/consents", person=person).json()["consents"]
    assert [x["state"] for x in listed if x["id"] == c["id"]] == ["expired"]


def H_parse(rfc3339):
    import calendar
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def test_people_see_only_their_own_consents(world):
    gw = world["a"]
    c = grant(gw, person=SUBJECT)["consent"]
    mine = api(gw, "GET", "/consents", person=SUBJECT).json()
    assert mine["subject"] == SUBJECT and c["id"] in [x["id"] for x in mine["consents"]]
    theirs = api(gw, "GET", "/consents", person=OTHER_SUBJECT).json()
    assert c["id"] not in json.dumps(theirs)
    H.assert_problem(api(gw, "GET", "/consents/" + c["id"], person=OTHER_SUBJECT),
                     "consent-not-found", 404)
    H.assert_problem(api(gw, "POST", "/consents/%s/revoke" % c["id"], person=OTHER_SUBJECT),
                     "consent-not-found", 404)
    assert api(gw, "GET", "/consents/" + c["id"]).json()["state"] == "active"


@pytest.mark.parametrize("body, content_type, reason, status, member", [
    ("not json", None, "bad-consent-body", 400, None),
    ("[]", None, "bad-consent-body", 400, None),
    ('{"purpose":"a","purpose":"b"}', None, "bad-consent-body", 400, None),
    ('{"organisation":"health-board"}', "text/plain", "unsupported-media-type", 415, None),
    ({"organisation": "health-board", "purpose": "care-planning", "fields": ["dob"],
      "notice": "n", "colour": "red"}, None, "invalid-consent", 422, "colour"),
    ({"organisation": "health-board", "purpose": "care-planning", "fields": ["dob"]},
     None, "invalid-consent", 422, "notice"),
    ({"organisation": "health-board", "purpose": "care-planning", "fields": ["a..b"],
      "notice": "n"}, None, "invalid-consent", 422, "fields"),
    ({"organisation": "health-board", "purpose": "care-planning", "fields": ["dob"],
      "notice": "n", "expires": "2020-01-01T00:00:00Z"}, None, "invalid-consent", 422,
     "future"),
    ({"organisation": "nobody-we-know", "purpose": "care-planning", "fields": ["dob"],
      "notice": "n"}, None, "invalid-consent", 422, "nobody-we-know"),
])
def test_bad_bodies_are_refused_and_write_nothing(world, body, content_type, reason, status,
                                                  member):
    gw = world["a"]
    person = "8636999065"
    before = api(gw, "GET", "/consents", person=person).json()["consents"]
    r = api(gw, "POST", "/consents", person=person, body=body, content_type=content_type)
    doc = H.assert_problem(r, reason, status)
    if member:
        assert member in doc["detail"], doc
    assert api(gw, "GET", "/consents", person=person).json()["consents"] == before


def test_the_api_needs_a_person(world):
    gw = world["a"]
    s = H.requests.Session()
    s.trust_env = False
    r = s.get(gw.url("/my/consents/consents"), verify=gw.pki.ca_cert, timeout=10)
    assert r.status_code == 401          # mod_auth_basic asks for credentials
    # the unauthenticated mount serves no person
    H.assert_problem(api(gw, "GET", "/consents", person=None), "person-not-identified", 401)
    H.assert_problem(api(gw, "GET", "/nonsense"), "not-found", 404)
    H.assert_problem(api(gw, "DELETE", "/consents"), "method-not-allowed", 405)


# ------------------------------------------------------------------- managers

def test_a_manager_acts_within_its_mandate_only(world):
    gw = world["a"]
    person = "9384937398"
    revoke_all(gw, person)
    path = "/subjects/%s/consents" % person
    # the manager grants for the person to another organisation (never to
    # itself: test_a_mandate_never_gives_the_manager_access)
    body = {"organisation": "health-board", "purpose": "care-planning",
            "fields": ["name.given", "care.needs"], "notice": "trust-notice-2"}
    # no mandate yet
    H.assert_problem(api(gw, "POST", path, body=body, who="data-trust"), "no-mandate", 403)
    # an organisation that is not a consent manager, even with a certificate
    H.assert_problem(api(gw, "GET", path, who="health-board"), "not-a-consent-manager", 403)
    # the person gives the mandate
    r = api(gw, "PUT", "/mandates/data-trust", person=person)
    assert r.status_code == 200, H.describe(r)
    assert [m["manager"] for m in r.json()["mandates"]] == ["data-trust"]
    r = api(gw, "POST", path, body=body, who="data-trust")
    assert r.status_code == 201, H.describe(r)
    c = r.json()["consent"]
    assert c["actor"] == "manager:data-trust" and c["subject"] == person
    assert verify_receipt(world, r.json()["receipt"])["actor"] == "manager:data-trust"
    got = gw.get("/consented/%s/record" % person, who="health-board", purpose="care-planning")
    assert got.status_code == 200, H.describe(got)
    assert set(got.json()) <= {"name", "care"}
    # the person sees what the manager did
    mine = api(gw, "GET", "/consents/" + c["id"], person=person).json()
    assert mine["history"][0]["actor"] == "manager:data-trust"
    # another person gave no mandate
    H.assert_problem(api(gw, "POST", "/subjects/%s/consents" % SUBJECT, body=body,
                         who="data-trust"), "no-mandate", 403)
    # managers cannot hand out mandates
    H.assert_problem(api(gw, "PUT", "/subjects/%s/mandates/data-trust" % person,
                         who="data-trust"), "not-found", 404)
    # withdrawn: the manager can no longer act, the consent it made stays
    r = api(gw, "DELETE", "/mandates/data-trust", person=person)
    assert r.status_code == 200 and r.json()["mandates"] == []
    H.assert_problem(api(gw, "POST", "/subjects/%s/consents/%s/revoke" % (person, c["id"]),
                         who="data-trust"), "no-mandate", 403)
    audit = [x for x in gw.httpd.audit_records() if x.get("consent") == c["id"]]
    assert audit and audit[0]["organisation"] == "data-trust"


def test_a_mandate_never_gives_the_manager_access(world):
    """Issue #10 item 3: a data trust holding a person's mandate cannot grant a
    consent naming itself, resume a paused consent to itself, or withdraw the
    person's objection to a purpose it has an agreement for; the person can.
    Narrowing (pause, revoke, objecting) stays allowed."""
    gw = world["a"]
    person = "4773038799"
    revoke_all(gw, person)
    path = "/subjects/%s" % person
    assert api(gw, "PUT", "/mandates/data-trust", person=person).status_code == 200
    try:
        before = api(gw, "GET", "/consents", person=person).json()["consents"]
        body = {"organisation": "data-trust", "purpose": "wellbeing-support",
                "fields": ["name.given", "care.needs"], "notice": "trust-notice-2"}
        r = api(gw, "POST", path + "/consents", body=body, who="data-trust")
        doc = H.assert_problem(r, "mandate-not-for-self", 403)
        assert "data-trust" in doc["detail"]
        assert api(gw, "GET", "/consents", person=person).json()["consents"] == before
        # with an agreement id, too
        body["agreement"] = "trust-support"
        H.assert_problem(api(gw, "POST", path + "/consents", body=body, who="data-trust"),
                         "mandate-not-for-self", 403)
        del body["agreement"]
        gw.backend.clear()
        H.assert_problem(record(gw, person, purpose="wellbeing-support", who="data-trust"),
                         "consent-missing", 403)
        assert gw.backend.requests() == []

        # the person grants it themselves; the manager may pause it...
        c = grant(gw, person=person, organisation="data-trust", purpose="wellbeing-support",
                  fields=["name.given", "care.needs"])["consent"]
        r = api(gw, "POST", path + "/consents/%s/pause" % c["id"], who="data-trust")
        assert r.status_code == 200, H.describe(r)
        # ...but not resume it
        r = api(gw, "POST", path + "/consents/%s/resume" % c["id"], who="data-trust")
        H.assert_problem(r, "mandate-not-for-self", 403)
        shown = api(gw, "GET", "/consents/" + c["id"], person=person).json()
        assert shown["state"] == "paused"
        assert [h["action"] for h in shown["history"]] == ["grant", "pause"]
        H.assert_problem(record(gw, person, purpose="wellbeing-support", who="data-trust"),
                         "consent-paused", 403)
        assert change(gw, c["id"], "resume", person=person)["consent"]["state"] == "active"
        assert record(gw, person, purpose="wellbeing-support",
                      who="data-trust").status_code == 200
        # revoking its own consent narrows: allowed
        r = api(gw, "POST", path + "/consents/%s/revoke" % c["id"], who="data-trust")
        assert r.status_code == 200 and r.json()["consent"]["state"] == "revoked"

        # the opt-out register: the trust may record the person's objection to
        # its own outreach, but not withdraw it
        assert gw.get("/citizens/%s/record" % person, who="data-trust",
                      purpose="outreach").status_code == 200
        r = api(gw, "PUT", path + "/opt-outs/outreach", who="data-trust")
        assert r.status_code == 200, H.describe(r)
        H.assert_problem(gw.get("/citizens/%s/record" % person, who="data-trust",
                                purpose="outreach"), "opted-out", 403)
        r = api(gw, "DELETE", path + "/opt-outs/outreach", who="data-trust")
        H.assert_problem(r, "mandate-not-for-self", 403)
        assert [o["purpose"] for o in api(gw, "GET", "/opt-outs", person=person)
                .json()["opt_outs"]] == ["outreach"]
        H.assert_problem(gw.get("/citizens/%s/record" % person, who="data-trust",
                                purpose="outreach"), "opted-out", 403)
        # an objection to a purpose the trust has no agreement for: it may withdraw it
        assert api(gw, "PUT", path + "/opt-outs/survey", who="data-trust").status_code == 200
        r = api(gw, "DELETE", path + "/opt-outs/survey", who="data-trust")
        assert r.status_code == 200, H.describe(r)
        # the person withdraws their own objection
        assert api(gw, "DELETE", "/opt-outs/outreach", person=person).status_code == 200
        # and a grant to another organisation is still the manager's to make
        body = {"organisation": "health-board", "purpose": "care-planning",
                "fields": ["name.given"], "notice": "trust-notice-2"}
        r = api(gw, "POST", path + "/consents", body=body, who="data-trust")
        assert r.status_code == 201, H.describe(r)
    finally:
        api(gw, "DELETE", "/mandates/data-trust", person=person)
        api(gw, "DELETE", "/opt-outs/outreach", person=person)
        revoke_all(gw, person)


# -------------------------------------------------------------------- opt-out

def test_opt_out_refuses_other_bases_but_not_vital_interests(world):
    gw = world["a"]
    person = "5627995564"
    assert gw.get("/citizens/%s/record" % person).status_code == 200
    r = api(gw, "PUT", "/opt-outs/direct-care", person=person)
    assert r.status_code == 200 and r.json()["opt_outs"][0]["purpose"] == "direct-care"
    gw.backend.clear()
    denied = gw.get("/citizens/%s/record" % person)
    H.assert_problem(denied, "opted-out", 403)
    assert gw.audit_for(denied)["reason"] == "opted-out"
    assert gw.backend.requests() == []
    # an objection does not override vital interests
    assert gw.get("/citizens/%s/record" % person, purpose="emergency").status_code == 200
    # the other server learns it within its TTL
    deadline = time.monotonic() + 2.0
    while world["b"].get("/citizens/%s/record" % person).status_code != 403:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = api(gw, "DELETE", "/opt-outs/direct-care", person=person)
    assert r.status_code == 200 and r.json()["opt_outs"] == []
    assert gw.get("/citizens/%s/record" % person).status_code == 200


# ---------------------------------------------------------------- collections

def test_a_collection_releases_only_the_records_of_people_who_consented(world, residents):
    """Row-level consent: a search answers every resident of the district;
    only those with a live consent are released, each narrowed to their own
    consent's fields; the audit record says how many and whose."""
    gw = world["a"]
    for person in PEOPLE:
        revoke_all(gw, person)
    grant(gw, person=SUBJECT, fields=["name.given", "dob"])
    grant(gw, person=OTHER_SUBJECT, fields=["dob"])
    paused = grant(gw, person="9384937398")["consent"]
    change(gw, paused["id"], "pause", person="9384937398")
    r = gw.get("/districts/KY99/residents", purpose="care-planning")
    assert r.status_code == 200, H.describe(r)
    rows = r.json()
    assert sorted(x["id"] for x in rows) == sorted([SUBJECT, OTHER_SUBJECT])
    by_id = {x["id"]: x for x in rows}
    assert by_id[SUBJECT] == {"id": SUBJECT, "name": {"given": residents[SUBJECT]["name"]["given"]},
                              "dob": residents[SUBJECT]["dob"]}
    assert by_id[OTHER_SUBJECT] == {"id": OTHER_SUBJECT, "dob": residents[OTHER_SUBJECT]["dob"]}
    for person, record in residents.items():
        if person not in (SUBJECT, OTHER_SUBJECT):
            assert record["name"]["family"] not in r.text
    rec = gw.audit_for(r)
    assert rec["records"] == 2 and sorted(rec["subjects"]) == sorted([SUBJECT, OTHER_SUBJECT])
    assert rec["subject"] is None and rec["legal_basis"] == "consent"
    # each released person sees the disclosure; the paused one does not; and
    # consent changes (audited too) are not disclosures
    for person, seen in ((SUBJECT, True), (OTHER_SUBJECT, True), ("9384937398", False)):
        view = disclosures(gw, person)
        assert any(d["agreement"] == "hb-district-care" and d["time"] == rec["time"]
                   for d in view) == seen, (person, view)
        assert all(d["agreement"] is not None for d in view)
    # no consent at all: an empty collection, still audited
    revoke_all(gw, SUBJECT)
    revoke_all(gw, OTHER_SUBJECT)
    time.sleep(1.1)
    r = gw.get("/districts/KY99/residents", purpose="care-planning")
    assert r.status_code == 200 and r.json() == []
    assert gw.audit_for(r)["records"] == 0


def test_a_write_to_a_consent_collection_names_no_one_and_is_refused(world):
    """Only reads of a collection are decided record by record: a write to
    one cannot be tied to a person's consent, so it never reaches the back end."""
    gw = world["a"]
    grant(gw, person=SUBJECT, fields=["dob"])
    r = gw.request("POST", "/districts/KY99/residents", purpose="care-planning",
                   data=json.dumps({"note": "x"}), headers={"Content-Type": "application/json"})
    H.assert_problem(r, "consent-missing", 403)
    assert gw.backend.requests() == []
    assert gw.audit_for(r)["reason"] == "consent-missing"
    revoke_all(gw, SUBJECT)


def test_a_collection_on_another_basis_leaves_out_who_opted_out(world, residents):
    gw = world["a"]
    person = "4773038799"
    r = gw.get("/districts/KY99/residents", purpose="survey")
    assert r.status_code == 200 and person in [x["id"] for x in r.json()]
    assert api(gw, "PUT", "/opt-outs/survey", person=person).status_code == 200
    r = gw.get("/districts/KY99/residents", purpose="survey")
    ids = [x["id"] for x in r.json()]
    assert person not in ids and len(ids) == len(residents) - 1
    assert gw.audit_for(r)["records"] == len(residents) - 1
    assert api(gw, "DELETE", "/opt-outs/survey", person=person).status_code == 200


# ------------------------------------------------------------------ artefacts

def test_an_artefact_carries_consent(world, residents):
    gw = world["a"]
    person = "8636999065"
    revoke_all(gw, person)
    art = world["issuer"].artefact(subject=person, fields=["name.given", "care.needs"])
    r = record(gw, person, headers={"PDS-Consent-Artefact": art})
    assert r.status_code == 200, H.describe(r)
    assert set(r.json()) <= {"name", "care"} and "dob" not in r.json()
    rec = gw.audit_for(r)
    assert rec["consent"].startswith("artefact:a-")
    # the header never reaches the back end
    seen = gw.backend.requests()
    assert seen and all(H.Backend.header(e, "PDS-Consent-Artefact") == [] for e in seen)


ARTEFACT_FAILURES = [
    ("tampered", "artefact-bad-signature"),
    ("other-key", "artefact-bad-signature"),
    ("alg-none", "artefact-bad-signature"),
    ("expired", "artefact-expired"),
    ("future", "artefact-not-yet-valid"),
    ("wrong-subject", "artefact-wrong-binding"),
    ("wrong-org", "artefact-wrong-binding"),
    ("wrong-purpose", "artefact-wrong-binding"),
    ("unknown-issuer", "artefact-unknown-issuer"),
    ("unknown-kid", "artefact-unknown-issuer"),
    ("not-a-jws", "artefact-malformed"),
    ("revoked", "artefact-revoked"),
]


@pytest.mark.parametrize("case, reason", ARTEFACT_FAILURES)
def test_artefact_failures_are_refused_distinctly(world, case, reason):
    gw, iss = world["a"], world["issuer"]
    person = "8636999065"
    revoke_all(gw, person)
    now = int(time.time())
    art = {
        "tampered": lambda: H.tamper_payload(iss.artefact(subject=person),
                                             fields=["name.given", "dob", "care.needs"]),
        "other-key": lambda: iss.artefact(subject=person, key=iss.other),
        "alg-none": lambda: iss.artefact(subject=person, key=None, alg="none"),
        "expired": lambda: iss.artefact(subject=person, iat=now - 900, exp=now - 300),
        "future": lambda: iss.artefact(subject=person, iat=now + 600, exp=now + 900),
        "wrong-subject": lambda: iss.artefact(subject=SUBJECT),
        "wrong-org": lambda: iss.artefact(subject=person, org="data-trust"),
        "wrong-purpose": lambda: iss.artefact(subject=person, purpose="research"),
        "unknown-issuer": lambda: iss.artefact(subject=person, iss="someone-else"),
        "unknown-kid": lambda: iss.artefact(subject=person, kid="dt-9"),
        "not-a-jws": lambda: "hello.world",
        "revoked": None,
    }[case]
    if case == "revoked":
        token = iss.artefact(subject=person)
        assert record(gw, person, headers={"PDS-Consent-Artefact": token}).status_code == 200
        jti = json.loads(H.b64url_decode(token.split(".")[1]))["jti"]
        iss.revoked.append(jti)
        iss.write()
        deadline = time.monotonic() + 3.0      # the registry is checked every second
        while True:
            r = record(gw, person, headers={"PDS-Consent-Artefact": token})
            if r.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    else:
        r = record(gw, person, headers={"PDS-Consent-Artefact": art()})
    H.assert_problem(r, reason)
    assert gw.audit_for(r)["reason"] == reason
    assert gw.backend.requests() == [] or case == "revoked"


def test_a_broken_registry_edit_keeps_the_last_good_one(world, log_allow):
    gw, iss = world["a"], world["issuer"]
    log_allow.append("PDS00092")
    person = "8636999065"
    good = iss.artefact(subject=person)
    with open(iss.path) as f:
        saved = f.read()
    with open(iss.path, "w") as f:
        f.write("{ not json")
    time.sleep(1.2)
    try:
        assert record(gw, person, headers={"PDS-Consent-Artefact": good}).status_code == 200
        assert "PDS00092" in gw.httpd.error_log_text()
    finally:
        with open(iss.path, "w") as f:
            f.write(saved)
        iss.write()


# ------------------------------------------------------------- the store fails

def test_store_down_then_back(world, log_allow):
    """PostgreSQL stopped: consent requests and API calls get 503, audited,
    nothing from the back end; the gateway recovers when the server is back."""
    if world["kind"] != "pgsql":
        pytest.skip("SQLite is a file: see test_store_locked_past_the_timeout")
    gw = world["a"]
    allow_store_errors(log_allow)
    person = SUBJECT
    revoke_all(gw, person)
    grant(gw, person=person)
    time.sleep(1.1)                       # nothing cached
    world["pg"].kill()
    try:
        r = record(gw, person)
        H.assert_problem(r, "consent-store-unavailable", 503)
        assert gw.backend.requests() == []
        assert gw.audit_for(r)["reason"] == "consent-store-unavailable"
        H.assert_problem(api(gw, "GET", "/consents"), "consent-store-unavailable", 503)
    finally:
        world["pg"].restart()
    deadline = time.monotonic() + 5
    while record(gw, person).status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not recover"
        time.sleep(0.2)
    assert api(gw, "GET", "/consents").status_code == 200


def test_store_locked_past_the_timeout(world, log_allow):
    """A store locked longer than PDSConsentStoreTimeout (500 ms here): a
    change is refused with 503 and nothing of it is written; afterwards it
    works. (SQLite in WAL mode keeps serving reads meanwhile.)"""
    gw = world["a"]
    allow_store_errors(log_allow)
    person = "9384937398"
    before = api(gw, "GET", "/consents", person=person).json()["consents"]
    if world["kind"] == "pgsql":
        holder = subprocess.Popen(
            ["/usr/bin/psql", "-h", "127.0.0.1", "-p", str(world["pg"].port), "-U", "pds",
             "-d", "pds", "-v", "ON_ERROR_STOP=1", "-c",
             "BEGIN; LOCK TABLE pds_consents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3);"
             " COMMIT;"], env=dict(os.environ, PGPASSWORD="pds-test"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        release = holder.wait
    else:
        holder = sqlite3.connect(os.path.join(world["dir"], "consent.db"), timeout=5,
                                 isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        def release():
            holder.execute("COMMIT")
            holder.close()
    try:
        t0 = time.monotonic()
        g = api(gw, "POST", "/consents", person=person, body={
            "organisation": "health-board", "purpose": "care-planning", "fields": ["dob"],
            "notice": "while-locked"})
        H.assert_problem(g, "consent-store-unavailable", 503)
        assert time.monotonic() - t0 < 3.0
    finally:
        release()
    after = api(gw, "GET", "/consents", person=person).json()["consents"]
    assert after == before, "a refused change left something behind"
    grant(gw, person=person)


def test_concurrent_changes_lose_nothing(world):
    gw = world["a"]
    person = "2297511965"
    revoke_all(gw, person)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        grants = list(pool.map(lambda i: api(gw, "POST", "/consents", person=person, body={
            "organisation": "health-board", "purpose": "care-planning", "fields": ["dob"],
            "notice": "n-%d" % i}), range(16)))
    assert [g.status_code for g in grants] == [201] * 16
    ids = [g.json()["consent"]["id"] for g in grants]
    listed = api(gw, "GET", "/consents", person=person).json()["consents"]
    assert set(ids) <= {c["id"] for c in listed}
    # everyone revokes and pauses the same consent at once: each change is
    # applied exactly once, in a history with no gaps
    target = ids[0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda a: api(gw, "POST", "/consents/%s/%s" % (target, a),
                                              person=person),
                                ["pause", "revoke"] * 6))
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {200, 409}
    shown = api(gw, "GET", "/consents/" + target, person=person).json()
    versions = [h["version"] for h in shown["history"]]
    assert versions == list(range(1, len(versions) + 1))
    assert shown["state"] == "revoked" and shown["history"][-1]["action"] == "revoke"
    assert codes.count(200) == len(versions) - 1
