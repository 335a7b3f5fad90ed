"""Configuration fragments the e2e test modules share. Placeholders are
%(name)s from conftest.config_context(); "{subject}" is mod_pds's own."""

SUBJECT = "9836900608"          # the first resident: benefits, needs and allergies
OTHER_SUBJECT = "5627995564"    # Hamish Samplewright
UNICODE_SUBJECT = "6266450399"  # Siobh\u00e1n N\u00ed Shampla: non-ASCII names
RESEARCH_ISSUER = "https://research.uni.example"
PATH = "/citizens/%s/record" % SUBJECT   # SUBJECT's record through the gateway

ORGANISATIONS = """
PDSOrganisation health-board  cert-subject "%(dn_health_board)s"
PDSOrganisation health-board  jwt-key %(key_hb_ec)s
PDSOrganisation data-trust    cert-san DNS:gateway.data-trust.example
PDSOrganisation pinned-clinic cert-sha256 %(sha256_pinned)s
PDSOrganisation research-es   jwt-key %(key_ec)s issuer=https://research.uni.example
PDSOrganisation research-rs   jwt-key %(key_rsa)s
PDSOrganisation research-ed   jwt-key %(key_ed)s
PDSTokenAudience %(aud)s
"""

ALWAYS = "2020-01-01 2099-12-31"           # the validity most agreements have
CITIZEN_RECORD = "GET /citizens/{subject}/record"


def agreement(name, party, purpose, resources, *lines, basis="public-task",
              valid=ALWAYS, version=None):
    """A <PDSAgreement name> block in the usual order: Party, Purpose,
    LegalBasis, Valid, Version (when given), one Resource line per entry of
    `resources` (a string is one), then `lines` as given, each "Directive
    value..." (Release, Transform, Deidentified, ...)."""
    if isinstance(resources, str):
        resources = [resources]
    body = [("Party", party), ("Purpose", purpose), ("LegalBasis", basis), ("Valid", valid)]
    if version is not None:
        body.append(("Version", version))
    body += [("Resource", r) for r in resources]
    body += [tuple(line.split(None, 1)) for line in lines]
    return "<PDSAgreement %s>\n%s</PDSAgreement>\n" % (
        name, "".join("    %-11s %s\n" % directive for directive in body))


# The health board's direct-care agreement most modules use.
HB_DIRECT_CARE = "\n" + agreement(
    "hb-direct-care", "health-board", "direct-care", CITIZEN_RECORD,
    "Release name.given name.family dob care.allergies care.needs", version="3")
HB_FIELDS = ["name.given", "name.family", "dob", "care.allergies", "care.needs"]

# The modules of httpd a location behind Basic authentication needs.
AUTH_MODULES = [("auth_basic_module", "mod_auth_basic.so"),
                ("authn_file_module", "mod_authn_file.so"),
                ("authz_user_module", "mod_authz_user.so")]


def person_location(path, handler, htpasswd="%(htpasswd)s", extra=""):
    """<Location path> answered by `handler` (pds-consent, pds-disclosures)
    for a person signed in with Basic authentication against the htpasswd
    file (the %(htpasswd)s placeholder unless given); `extra` (lines)
    goes before SetHandler."""
    return """<Location %s>
    AuthType Basic
    AuthName "residents"
    AuthBasicProvider file
    AuthUserFile "%s"
    Require valid-user
%s    SetHandler %s
</Location>
""" % (path, htpasswd, extra + "\n" if extra else "", handler)


CITIZENS_LOCATION = """
<Location /citizens/>
    PDSGateway on
    ProxyPass %(backend)s/api/citizens/
</Location>
"""


def location(prefix, target="/api/citizens/", extra="", backend="%(backend)s"):
    """An enforced <Location prefix> proxying to `target` on the back end
    (another one's URL as `backend`: pds_jsonserver.location)."""
    return """
<Location %s>
    PDSGateway on
    ProxyPass %s%s
%s
</Location>
""" % (prefix, backend, target, extra)


def misbehave_config(*modes):
    """The usual organisations, the direct-care agreement and /citizens/, plus
    an agreement "hb-misbehave" releasing name.given from the back end's
    misbehaving `modes` (GET /misbehave/<mode>/{subject}/record) at
    /misbehave/."""
    return ORGANISATIONS + HB_DIRECT_CARE + agreement(
        "hb-misbehave", "health-board", "direct-care",
        ["GET /misbehave/%s/{subject}/record" % mode for mode in modes],
        "Release name.given") + CITIZENS_LOCATION + location("/misbehave/", "/api/misbehave/")
