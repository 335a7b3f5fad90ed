"""The citizen's portal in a real browser: headless Chromium (Debian's
chromium and chromium-driver) driven by python3-selenium against a real
httpd, the person signed in with Basic authentication as in the demo.
Each page renders without console errors under its CSP, a consent is
granted by ticking two of the offered fields and submitting, paused,
resumed and revoked with the buttons (the organisation gets exactly the
two fields, then is refused), the timeline shows a real gateway request,
Welsh comes with Accept-Language, a form posted from another origin
changes nothing, the keyboard reaches everything in document order, and
axe-core finds no WCAG 2.2 AA violation on any page. Screenshots of each
page are saved as test artefacts (and into docs/images/ with
PDS_UPDATE_SCREENSHOTS=1). SPEC: Issue 14 items 1 and 4."""
import base64
import os
import shutil

import pytest

import pds_harness as H
from pds_configs import OTHER_SUBJECT, SUBJECT
import portal_world as W

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
AXE = os.path.join(TOP, "tests", "axe", "node_modules", "axe-core", "axe.min.js")
DOC_SHOTS = ("disclosures", "consents", "objections", "register", "consents-cy")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    HAVE_SELENIUM = True
except ImportError:         # pragma: no cover - the skip below says why
    HAVE_SELENIUM = False

if not HAVE_SELENIUM or not os.access(CHROMIUM, os.X_OK) or not os.access(DRIVER, os.X_OK):
    pytest.skip("the browser tests need Debian's chromium, chromium-driver and "
                "python3-selenium (tools/install-deps.sh installs them)",
                allow_module_level=True)
if not os.path.isfile(AXE):
    pytest.skip("axe-core is not installed: run tools/install-deps.sh (npm ci in tests/axe)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def world(gateway_factory, tmp_path_factory):
    w = W.World(gateway_factory, tmp_path_factory)
    yield w
    w.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return str(tmp_path_factory.mktemp("portal-screenshots"))


class Browser:
    def __init__(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1200,1400", "--no-first-run",
                    "--disable-extensions", "--disable-background-networking"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.driver.set_page_load_timeout(30)
        self.driver.execute_cdp_cmd("Network.enable", {})

    def sign_in(self, who, language="en"):
        """Basic credentials and Accept-Language on every request."""
        token = base64.b64encode(("%s:pw-%s" % (who, who)).encode()).decode()
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {
            "Authorization": "Basic " + token, "Accept-Language": language}})

    def console_errors(self):
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def quit(self):
        self.driver.quit()


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.quit()


def open_page(browser, world, path):
    browser.driver.get(world.url("/portal" + path))
    return browser.driver


def _page_gone(old):
    """The wait's condition: the old page's root is gone. Chromium answers
    for a node of a document already replaced either as stale or with
    "does not belong to the document" (selenium's staleness_of knows only the first)."""
    def gone(_driver):
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
    return gone


def click_and_wait(driver, element):
    """Clicks and waits for the next page (the old one goes stale)."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(_page_gone(old))


def axe_violations(driver):
    with open(AXE) as f:
        driver.execute_script(f.read())
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(function (r) { done(r.violations); })"
        ".catch(function (e) { done([{id: 'axe-error', help: String(e), nodes: []}]); });",
        WCAG_TAGS)
    return [(v["id"], v["help"], [n.get("target") for n in v["nodes"]][:3]) for v in result]


def save_shot(driver, shots, name):
    path = os.path.join(shots, name + ".png")
    driver.save_screenshot(path)
    if os.environ.get("PDS_UPDATE_SCREENSHOTS") == "1" and name in DOC_SHOTS:
        docs = os.path.join(TOP, "docs", "images")
        os.makedirs(docs, exist_ok=True)
        shutil.copyfile(path, os.path.join(docs, "portal-" + name + ".png"))


def test_each_page_renders_accessible_with_csp_and_no_console_errors(world, browser, shots):
    assert world.gw.get("/citizens/%s/record" % SUBJECT).status_code == 200
    browser.sign_in(SUBJECT)
    browser.console_errors()
    pages = [("", "start"), ("/disclosures", "disclosures"), ("/consents", "consents"),
             ("/objections", "objections")]
    for path, name in pages:
        d = open_page(browser, world, path)
        assert d.find_element(By.TAG_NAME, "h1").text, path
        assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert axe_violations(d) == [], path
        save_shot(d, shots, name)
        # the headers the browser got are the ones asserted at HTTP level
        r = world.page(SUBJECT, path)
        W.assert_page_headers(r, personal=True)
    assert browser.console_errors() == []
    d = browser.driver
    d.get(world.url("/register"))
    assert axe_violations(d) == []
    save_shot(d, shots, "register")
    assert browser.console_errors() == []


def test_grant_pause_resume_revoke_by_clicking(world, browser, shots):
    person = W.PEOPLE[2]
    browser.sign_in(person)
    d = open_page(browser, world, "/consents")
    form = d.find_element(By.XPATH, "//form[input[@name='agreement' and "
                                    "@value='hb-care-planning']]")
    boxes = form.find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
    assert [b.get_attribute("value") for b in boxes] == [
        "name.given", "name.family", "dob", "care.needs"]
    # ticked by clicking their labels, as a person would
    for value in ("name.given", "care.needs"):
        box = form.find_element(By.CSS_SELECTOR, "input[value='%s']" % value)
        form.find_element(By.CSS_SELECTOR, "label[for='%s']" % box.get_attribute("id")).click()
        assert box.is_selected()
    click_and_wait(d, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert d.current_url.endswith("/portal/consents?done=grant"), d.page_source[-3000:]
    assert "Your consent was recorded." in d.find_element(By.CSS_SELECTOR, ".notice").text
    save_shot(d, shots, "consent-granted")
    got = world.gw.get(W.CONSENTED % person, purpose="care-planning")
    assert got.status_code == 200, H.describe(got)
    assert sorted(W.flatten(got.json())) == ["care.needs", "name.given"]
    for label, expect in (("Pause", 403), ("Resume", 200), ("Revoke", 403)):
        click_and_wait(d, d.find_element(By.XPATH, "//button[normalize-space()='%s']" % label))
        assert d.current_url.endswith("?done=" + label.lower())
        got = world.gw.get(W.CONSENTED % person, purpose="care-planning")
        assert got.status_code == expect, (label, H.describe(got))
    assert "Revoked" in d.find_element(By.CSS_SELECTOR, "section.card .state").text
    assert browser.console_errors() == []


def test_timeline_shows_the_gateway_request_and_only_to_its_person(world, browser):
    person = W.PEOPLE[3]
    assert world.gw.get("/citizens/%s/record" % person).status_code == 200
    browser.sign_in(person)
    d = open_page(browser, world, "/disclosures")
    rows = d.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 1
    cells = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[1] == "Fife Health Board"
    assert cells[2] == "Your care and treatment" and cells[3] == "a public task"
    assert "First name" in cells[4] and "dob" in cells[4]
    assert "Direct care by the health board" in cells[5]
    browser.sign_in(OTHER_SUBJECT)
    d = open_page(browser, world, "/disclosures?organisation=health-board&period=30")
    assert person not in d.page_source


def test_welsh_with_accept_language(world, browser, shots):
    browser.sign_in(SUBJECT, language="cy-GB,cy;q=0.9")
    d = open_page(browser, world, "/consents")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "cy"
    assert d.find_element(By.TAG_NAME, "h1").text == "Fy nghaniatadau"
    assert "Bwrdd Iechyd Fife" in d.page_source
    assert axe_violations(d) == []
    save_shot(d, shots, "consents-cy")


def test_a_form_from_another_origin_changes_nothing(world, browser):
    person = W.PEOPLE[4]
    browser.sign_in(person)
    action = world.url("/portal/consents")
    evil = ("<!DOCTYPE html><html lang=en><title>x</title><form method=post action='%s'>"
            "<input type=hidden name=agreement value=hb-care-planning>"
            "<input type=hidden name=purpose value=care-planning>"
            "<input type=hidden name=field value=dob>"
            "<input type=hidden name=csrf value=forged>"
            "<button id=go>go</button></form>" % action)
    browser.driver.get("data:text/html;base64," + base64.b64encode(evil.encode()).decode())
    click_and_wait(browser.driver, browser.driver.find_element(By.ID, "go"))
    assert "This form has expired or did not come from this site" in browser.driver.page_source
    assert world.api(person, "GET", "/consents").json()["consents"] == []


def test_keyboard_reaches_everything_in_document_order(world, browser):
    browser.sign_in(SUBJECT)
    d = open_page(browser, world, "/consents")
    focusable = d.execute_script(
        "return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]),"
        " select')).filter(function (e) { return !e.disabled; });")
    assert not d.find_elements(By.CSS_SELECTOR, "[tabindex]:not([tabindex='-1'])")
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    first = d.switch_to.active_element
    assert first.get_attribute("class") == "skip"
    seen = [first]
    for _ in range(len(focusable) - 1):
        seen[-1].send_keys(Keys.TAB)
        seen.append(d.switch_to.active_element)
    assert [e.id for e in seen] == [e.id for e in focusable]
    # the skip link moves focus to the main content
    d.refresh()
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    d.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(d, 5).until(lambda drv: drv.switch_to.active_element.get_attribute("id")
                              == "main")
    assert d.switch_to.active_element.get_attribute("id") == "main"
