"""Configuration fragments the e2e test modules share. Placeholders are
%(name)s from conftest.config_context(); "{subject}" is mod_pds's own."""

SUBJECT = "9836900608"          # the first resident: benefits, needs and allergies
OTHER_SUBJECT = "5627995564"    # Hamish Samplewright
UNICODE_SUBJECT = "6266450399"  # Siobh\u00e1n N\u00ed Shampla: non-ASCII names
RESEARCH_ISSUER = "https://research.uni.example"

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

# The health board's direct-care agreement most modules use.
HB_DIRECT_CARE = """
<PDSAgreement hb-direct-care>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2020-01-01 2099-12-31
    Version     3
    Resource    GET /citizens/{subject}/record
    Release     name.given name.family dob care.allergies care.needs
</PDSAgreement>
"""
HB_FIELDS = ["name.given", "name.family", "dob", "care.allergies", "care.needs"]

CITIZENS_LOCATION = """
<Location /citizens/>
    PDSGateway on
    ProxyPass %(backend)s/api/citizens/
</Location>
"""


def location(prefix, target="/api/citizens/", extra=""):
    """An enforced <Location prefix> proxying to the back end's `target`."""
    return """
<Location %s>
    PDSGateway on
    ProxyPass %%(backend)s%s
%s
</Location>
""" % (prefix, target, extra)
