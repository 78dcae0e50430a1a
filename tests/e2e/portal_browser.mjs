// The set-up portal in a real browser (Debian's chromium driven by
// playwright-core), run by test_portal.py:
//   node portal_browser.mjs '<json>'
// with {url, links: {main, reuse, expired, whitelabel}, whitelabelHost,
// foreignDirectory, shots, chromium}. Does what an IT admin does and
// prints one JSON object of what it saw; the Python test asserts on it.
import { chromium } from 'playwright-core';

const input = JSON.parse(process.argv[2]);
const out = { steps: [], strayText: [] };
const step = (s) => out.steps.push(s);
const TIMEOUT = 20000;
let loads = 0;
// A fresh page load of a portal view, waiting until the page has rendered it.
const open = async (page, hash, view) => {
  await page.goto(new URL(`/portal?load=${++loads}${hash}`, input.url).href);
  await page.locator(`body[data-view="${view}"]`).waitFor();
};
// An in-page move (a click that changes the view), waiting for the new view.
const moved = (page, view) => page.locator(`body[data-view="${view}"]`).waitFor();
// A screenshot, and whether the page shows a stray "null" or "undefined".
const shot = async (page, name) => {
  await page.screenshot({ path: `${input.shots}/${name}.png`, fullPage: true });
  const text = await page.locator('body').innerText();
  if (/\b(null|undefined|NaN)\b/.test(text)) out.strayText.push(`${name}: ${text.match(/.{0,40}\b(null|undefined|NaN)\b.{0,20}/)[0]}`);
};

const browser = await chromium.launch({
  executablePath: input.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--host-resolver-rules=MAP ${input.whitelabelHost} 127.0.0.1`],
});
const external = [];
let page = null;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  // Anything the Content-Security-Policy blocks is recorded (and must not happen).
  out.cspViolations = [];
  await context.exposeFunction('reportCspViolation', (v) => out.cspViolations.push(v));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // Nothing the portal loads may leave the Worker's origin.
  page.on('request', (r) => { const u = new URL(r.url()); if (u.port !== new URL(input.url).port) external.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // 1. Open the link: the portal greets the organisation.
  const opened = await page.goto(input.links.main);
  out.landed = { status: opened.status(), path: new URL(page.url()).pathname };
  await moved(page, 'home');
  out.heading = await page.getByRole('heading', { level: 1 }).textContent();
  out.cookieHttpOnly = (await context.cookies()).find((c) => c.name === 'rollcall_portal')?.httpOnly ?? null;
  out.cookieVisibleToScript = await page.evaluate(() => document.cookie.includes('rollcall_portal'));
  await shot(page, `portal-home`);
  step('opened');

  // 1b. A whitelabel organisation's link opens on its own hostname (early:
  // links live seconds in this test).
  const wl = await browser.newContext();
  const wp = await wl.newPage();
  const wlOpened = await wp.goto(input.links.whitelabel);
  await moved(wp, 'home');
  out.whitelabel = { status: wlOpened.status(), host: new URL(wp.url()).hostname, heading: await wp.getByRole('heading', { level: 1 }).textContent() };
  await wl.close();
  step('whitelabel');

  // Accessibility basics: every form control has a label; the first Tab
  // reaches the skip link; the provider choice works from the keyboard.
  out.unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((i) => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')).map((i) => i.outerHTML));
  await page.keyboard.press('Tab');
  out.firstTab = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  await page.getByLabel('Okta', { exact: true }).focus();
  await page.keyboard.press('Space');
  out.keyboardPicked = await page.getByLabel('Okta', { exact: true }).isChecked();

  // 2. Each IdP's page: create a connection per provider, screenshot its steps.
  const providers = await page.locator('input[name=provider]').evaluateAll((xs) => xs.map((x) => x.value));
  out.guides = {};
  let okta = null;
  for (const p of providers) {
    await open(page, '#/', 'home');
    await page.locator(`input[name=provider][value=${p}]`).check();
    await page.getByRole('button', { name: 'Create connection' }).click();
    await moved(page, 'directory:setup');
    const directory = new URL(page.url()).hash.split('/')[2];
    const guide = {
      directory,
      title: await page.getByRole('heading', { name: /Steps in/ }).textContent(),
      steps: await page.locator('ol.steps li').allTextContents(),
      gaps: await page.locator('ul.gaps li').allTextContents(),
      scimUrl: await page.locator('#scim-url').inputValue(),
      firstSecret: await page.locator('#secret-value').inputValue(),
      oauthButton: await page.locator('#new-oauth').count(),
    };
    guide.firstSecret = guide.firstSecret.slice(0, 4);
    out.guides[p] = guide;
    await shot(page, `portal-guide-${p}`);
    if (p === 'okta') okta = guide;
  }
  step('guides');

  // 3. Generate a token on Okta's page (revoke the first one), push a user with it.
  await open(page, `#/d/${okta.directory}/setup`, 'directory:setup');
  await page.locator('#tokens tbody tr').first().waitFor();
  await page.getByRole('button', { name: 'Generate a bearer token' }).click();
  await page.locator('#secret-value').waitFor();
  const token = await page.locator('#secret-value').inputValue();
  out.tokenPrefix = token.slice(0, 4);
  await page.getByRole('button', { name: 'Copy bearer token' }).click();
  // The list of live credentials refreshes after the secret is shown.
  await page.locator('#tokens tbody tr').filter({ hasText: token.slice(-4) }).waitFor();
  out.liveCredentials = await page.locator('#tokens tbody tr').count();
  page.once('dialog', (d) => d.accept());
  // Revoke the token the connection was created with, keep the new one.
  await page.locator('#tokens tbody tr').filter({ hasNotText: token.slice(-4) }).getByRole('button', { name: /Revoke/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('#tokens tbody tr').length === 1);
  out.afterRevoke = await page.locator('#tokens tbody tr').count();
  out.stateBefore = await page.locator('#live [data-state]').getAttribute('data-state');
  const scim = (method, path, body) => fetch(okta.scimUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0.0' },
    body: body && JSON.stringify(body),
  });
  const lookup = await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq "grace@portal.test"') + '&startIndex=1&count=100');
  const created = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'grace@portal.test', password: 'pa55-never-stored',
    name: { givenName: 'Grace', familyName: 'Hopper' }, emails: [{ value: 'grace@portal.test', primary: true, type: 'work' }], active: true,
  });
  const duplicate = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'grace@portal.test' });
  out.pushed = { lookup: lookup.status, created: created.status, duplicate: duplicate.status };
  // The page turns linked by itself (it polls): no reload.
  await page.locator('#live [data-state=linked]').waitFor();
  out.stateAfter = 'linked';
  out.recognised = await page.locator('#recognised').textContent();
  step('linked');

  // 4. The status page lists the requests with their outcome.
  await page.getByRole('link', { name: 'Status and requests' }).click();
  await moved(page, 'directory:status');
  await page.locator('#requests tbody tr').nth(2).waitFor();
  out.requests = await page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => ({
    status: r.getAttribute('data-status'), text: r.innerText.replace(/\s+/g, ' ').trim(),
  })));
  out.pageHasPassword = (await page.content()).includes('pa55-never-stored');
  await shot(page, `portal-status`);

  // 5. The user is searchable.
  await page.getByRole('link', { name: 'Users' }).click();
  await moved(page, 'directory:users');
  await page.getByLabel(/Search users/).fill('hopp');
  await page.locator('#results tbody tr').first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length === 1);
  out.search = await page.locator('#results tbody tr').first().innerText();
  step('searched');

  // 6. Another organisation's directory is not reachable from this session.
  out.foreignApi = await page.evaluate(async (id) => (await fetch(`/portal/api/directories/${id}`)).status, input.foreignDirectory);
  await open(page, `#/d/${input.foreignDirectory}/status`, 'directory:status');
  out.foreignPage = await page.getByRole('heading', { level: 1 }).textContent();
  // A change without the portal's header (as a cross-site form would send it) is refused.
  out.forgedPost = await page.evaluate(async (id) => (await fetch(`/portal/api/directories/${id}/tokens`, { method: 'POST', body: '{}' })).status, okta.directory);

  // 7. On a phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.addCookies((await context.cookies()).map((c) => ({ ...c })));
  const small = await phone.newPage();
  await open(small, `#/d/${okta.directory}/status`, 'directory:status');
  await small.locator('#requests').waitFor();
  out.phoneOverflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(small, `portal-status-phone`);
  await phone.close();
  step('phone');

  // 8. A reused link and an expired link are refused.
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  const reused = await other.goto(input.links.main);
  out.reused = { status: reused.status(), text: await other.locator('h1').textContent() };
  // Bounded: the test made this link with a lifetime of seconds.
  await new Promise((r) => setTimeout(r, Math.max(0, Math.min(60000, input.expiredAfterMs - Date.now()))));
  const expired = await other.goto(input.links.expired);
  out.expired = { status: expired.status(), text: await other.locator('h1').textContent() };
  out.noSession = (await other.goto(new URL('/portal', input.url).href)).status();
  await fresh.close();

  out.pageErrors = errors;
} catch (e) {
  out.error = String(e && e.stack || e);
  // What the page showed when it failed, for the test's message.
  if (page) out.failedOn = { url: page.url(), text: (await page.locator('body').innerText().catch(() => '')).slice(0, 1500) };
} finally {
  out.external = external;
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
