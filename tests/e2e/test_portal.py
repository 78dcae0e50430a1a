"""The IT admin's set-up portal in a real browser (issue 12): Debian's
chromium, installed by scripts/setup.sh, driven by playwright-core (pinned in
package.json) from portal_browser.mjs, against the Worker under `wrangler dev`.

An admin opens a one-time link, creates a connection for each IdP (a
screenshot of each IdP's page is saved), generates a token, and an IdP
pushes a user with it: the page turns linked by itself and shows the user
and the requests. A reused or expired link is refused, another
organisation's directory is out of reach, and a whitelabel organisation's
link opens on its own hostname. Screenshots go to target/screenshots/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from harness import ROOT, Worker

LINK_SECONDS = 20
WHITELABEL = "portal.acme.test"
SHOTS = ROOT / "target" / "screenshots"
PROVIDERS = ["okta", "entra_id", "cyberark", "pingfederate", "onelogin", "jumpcloud", "rippling", "generic"]


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(path), "chromium is missing: scripts/setup.sh installs Debian's chromium"
    return path


@pytest.fixture(scope="module")
def portal_worker():
    # Links live seconds here, so that an expired one can be tried.
    w = Worker(PORTAL_LINK_SECONDS=str(LINK_SECONDS)).start()
    yield w
    w.stop()


def org(worker: Worker, name: str) -> str:
    r = worker.api("POST", "/v1/organizations", {"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def link(worker: Worker, organization: str) -> str:
    r = worker.api("POST", "/portal/generate_link", {"organization": organization, "intent": "dsync"})
    assert r.status_code == 201, r.text
    return r.json()["link"]


def test_an_admin_sets_up_every_idp_and_watches_the_first_push(portal_worker):
    w = portal_worker
    assert (ROOT / "node_modules/playwright-core/package.json").is_file(), "run npm ci (scripts/setup.sh does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("portal-*.png"):
        old.unlink()
    acme = org(w, "Acme Corp")
    foreign = w.new_directory("entra_id")
    whitelabel_org = org(w, "Initech")
    assert w.api("POST", "/v1/domains", {"hostname": WHITELABEL, "organization_id": whitelabel_org}).status_code == 201
    expired = link(w, acme)
    expired_after_ms = int((time.time() + LINK_SECONDS + 1) * 1000)
    links = {"main": link(w, acme), "expired": expired, "whitelabel": link(w, whitelabel_org)}
    assert links["whitelabel"].startswith(f"http://{WHITELABEL}:{w.port}/portal/launch?secret="), links["whitelabel"]
    arg = json.dumps({"url": w.url, "links": links, "expiredAfterMs": expired_after_ms, "whitelabelHost": WHITELABEL,
                      "foreignDirectory": foreign.id, "shots": str(SHOTS), "chromium": chromium()})
    p = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests/e2e/portal_browser.mjs"), arg],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert "error" not in out, f"{out.get('error')}\nthe page: {out.get('failedOn')}\nsteps done: {out['steps']}"
    assert out["pageErrors"] == [], out["pageErrors"]
    assert out["cspViolations"] == [], out["cspViolations"]
    assert out["strayText"] == [], out["strayText"]
    assert out["external"] == [], f"the portal loaded something from elsewhere: {out['external']}"

    # The link opened a session: an HttpOnly cookie, the organisation's page.
    assert out["landed"]["path"] == "/portal"
    assert out["heading"] == "Connect Acme Corp's directory"
    assert out["cookieHttpOnly"] is True and out["cookieVisibleToScript"] is False
    assert out["unlabelled"] == [], out["unlabelled"]
    assert out["firstTab"] == "Skip to content"
    assert out["keyboardPicked"] is True

    # A page per IdP, with the values and the IdP's own steps and gaps.
    assert sorted(out["guides"]) == sorted(PROVIDERS)
    for p_, g in out["guides"].items():
        assert g["scimUrl"] == f"{w.url}/scim/v2/{g['directory']}", g
        assert g["firstSecret"] == "rcs_"
        assert len(g["steps"]) >= 3 and len(g["gaps"]) >= 1, p_
        assert (ROOT / f"target/screenshots/portal-guide-{p_}.png").stat().st_size > 10_000
    cyberark = " ".join(out["guides"]["cyberark"]["steps"] + out["guides"]["cyberark"]["gaps"])
    for fact in ["SCIM Service URL", "Verify", "Do not de-provision", "Role Mappings", "Outbound Provisioning", "sends nothing", "pull reconciliation", "scim*"]:
        assert fact in cyberark, fact
    ping = " ".join(out["guides"]["pingfederate"]["steps"])
    for fact in ["SCIM Connector", "OAuth 2 Bearer Token", "Access Token", "emails eq"]:
        assert fact in ping, fact
    assert out["guides"]["entra_id"]["oauthButton"] == 1 and out["guides"]["okta"]["oauthButton"] == 0

    # The token made on the page works; the page turned linked by itself.
    assert out["tokenPrefix"] == "rcs_"
    assert (out["liveCredentials"], out["afterRevoke"]) == (2, 1)
    assert out["pushed"] == {"lookup": 200, "created": 201, "duplicate": 409}
    assert (out["stateBefore"], out["stateAfter"]) == ("pending", "linked")
    assert "Okta" in out["recognised"]

    # The requests, newest first, with what they did, and no password anywhere.
    statuses = [r["status"] for r in out["requests"]]
    assert statuses[:3] == ["409", "201", "200"], out["requests"]
    dup, made, lookup = out["requests"][:3]
    assert "already exists" in dup["text"] and "Fix:" in dup["text"]
    assert "dsync.user.created" in made["text"]
    # The first request Rollcall accepted linked the directory.
    assert 'userName eq "…"' in lookup["text"] and "0 found" in lookup["text"] and "dsync.activated" in lookup["text"]
    assert out["pageHasPassword"] is False
    assert "grace@portal.test" in out["search"] and "Grace Hopper" in out["search"]

    # Out of reach: another organisation's directory; a forged change.
    assert out["foreignApi"] == 404
    assert out["foreignPage"] == "Connection not found"
    assert out["forgedPost"] == 403

    # A phone-sized screen does not scroll sideways.
    assert out["phoneOverflow"] <= 0, out["phoneOverflow"]

    # Links work once and for seconds here (minutes by default).
    assert out["reused"]["status"] == 403 and "expired" in out["reused"]["text"]
    assert out["expired"]["status"] == 403
    assert out["noSession"] == 401

    # A whitelabel organisation's portal is on its own hostname.
    assert out["whitelabel"] == {"status": 200, "host": WHITELABEL, "heading": "Connect Initech's directory"}
    for shot in ["portal-home.png", "portal-status.png", "portal-status-phone.png"]:
        assert (SHOTS / shot).stat().st_size > 10_000, shot
