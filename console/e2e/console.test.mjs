// The console in a real browser: Debian's Chromium driven by playwright-core (no browser
// download). Started by tests/tests/console.rs, which runs the fleet and passes what it made in
// S4E_CONSOLE_TEST (JSON: base, target, password, admin, viewer, partner, customer,
// customerAsset, artifacts). Every screen visited is saved as a screenshot in `artifacts`.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { chromium } from "playwright-core";

const settings = JSON.parse(process.env.S4E_CONSOLE_TEST ?? "{}");
const base = settings.base?.replace(/\/$/, "");
assert.ok(base, "S4E_CONSOLE_TEST names the gateway (tests/tests/console.rs starts this)");

const WAIT = { timeout: 20_000 };
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    // The machine's network is closed: Chromium's own background traffic is turned off.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** The page of the test running now, shot when the test fails. */
let current;

afterEach(async (t) => {
  // node:test gives no outcome here; a test that passed has closed its context already.
  if (current && !current.isClosed()) {
    await shot(current, `failed-${t.name.replace(/\W+/g, "-").slice(0, 60)}`).catch(() => {});
    await current.context().close();
  }
  current = undefined;
});

/** A fresh browser profile signed in as `email`; every console error fails the test. */
async function signedIn(email, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  current = page;
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    // A refused request is logged by the browser; the screens show those themselves.
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      errors.push(message.text());
    }
  });
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(base + "/");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(settings.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor(WAIT);
  return { context, page, errors };
}

/** A link of the main navigation. */
function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

async function shot(page, name) {
  await page.screenshot({ path: join(settings.artifacts, `${name}.png`), fullPage: true });
}

async function noFailureShown(page) {
  assert.equal(await page.getByRole("alert").count(), 0, await page.getByRole("alert").allInnerTexts().then(String));
}

test("sign-in refuses a wrong password with the gateway's message", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(base + "/findings");
  await page.getByLabel("E-mail").fill(settings.admin);
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor(WAIT);
  assert.match(await page.getByRole("alert").innerText(), /wrong|password/i);
  await shot(page, "sign-in-refused");
  await context.close();
});

/** The authenticator's code of `secretHex` now (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits). */
function totp(secretHex) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const digest = createHmac("sha1", Buffer.from(secretHex, "hex")).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

test("an account with a second factor is asked for its code, then signed in", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  current = page;
  await page.goto(base + "/");
  await page.getByLabel("E-mail").fill(settings.guard);
  await page.getByLabel("Password").fill(settings.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const code = page.getByLabel("Code from your authenticator app");
  await code.waitFor(WAIT);
  await shot(page, "sign-in-code");
  await code.fill(totp(settings.guardSecret));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor(WAIT);
  assert.equal(await page.getByTestId("who").innerText(), settings.guard);
  await context.close();
});

test("a screen whose answer does not come says so and offers to try again", async () => {
  const { context, page, errors } = await signedIn(settings.viewer);
  // The dashboard's answer is held back for good: the console gives up at its deadline.
  await page.route("**/api/v1/dashboard", () => {});
  await page.reload();
  await page.getByText("Loading…").first().waitFor(WAIT);
  await page.getByRole("alert").filter({ hasText: "did not answer within 15 s" }).waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Try again" }).waitFor(WAIT);
  await shot(page, "dashboard-timed-out");
  await page.unroute("**/api/v1/dashboard");
  await page.getByRole("button", { name: "Try again" }).click();
  await page.getByTestId("open-findings").waitFor(WAIT);
  assert.deepEqual(errors, []);
  await context.close();
});

test("an admin registers, verifies and scans an asset, triages and exports its findings", async () => {
  const { context, page, errors } = await signedIn(settings.admin);
  await shot(page, "dashboard-empty");

  // Register the target; the console opens the asset with its verification instructions.
  await nav(page, "Assets").click();
  await page.getByRole("heading", { name: "Assets" }).waitFor(WAIT);
  await page.getByLabel("Value").fill(settings.target);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByTestId("verification-token").waitFor(WAIT);
  assert.equal(await page.getByTestId("asset-value").innerText(), settings.target);
  const token = (await page.getByTestId("verification-token").innerText()).trim();
  assert.match(token, /^[0-9a-f]{16,}$/);
  await shot(page, "asset-unverified");

  // The owner publishes the token; the console verifies it.
  const published = await fetch(new URL("control/token", settings.target), { method: "PUT", body: token });
  assert.equal(published.status, 204);
  await page.getByRole("button", { name: "Verify now" }).click();
  await page.getByTestId("verified").filter({ hasText: "yes" }).waitFor(WAIT);
  await shot(page, "asset-verified");

  // A scan with three named checks; the page follows its progress over the event stream.
  await page.getByRole("button", { name: "Start a scan" }).click();
  await page.locator("select[name=profile]").selectOption("custom");
  for (const check of ["http_headers", "http_probes", "crawl"]) {
    await page.locator(`input[name=check][value=${check}]`).check();
  }
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.waitForURL(/\/scans\/[0-9a-f-]{36}$/, WAIT);
  const scanUrl = page.url();
  await page.getByTestId("progress").filter({ hasText: /^3\/3 jobs/ }).waitFor({ timeout: 90_000 });
  await page.locator(".progress-line .status-completed").waitFor({ timeout: 90_000 });
  assert.equal(await page.getByRole("button", { name: "Cancel scan" }).count(), 0);
  // The crawl's site map: the start page, found as the seed.
  await page.getByTestId("site-map").getByRole("cell", { name: settings.target, exact: true }).waitFor(WAIT);
  await shot(page, "scan-completed");

  // Its findings: all selected, accepted as a risk in one bulk change.
  await page.getByRole("link", { name: "Findings of this scan" }).click();
  await page.getByTestId("findings").waitFor(WAIT);
  const rows = await page.locator("[data-testid=findings] tbody tr").count();
  assert.ok(rows >= 3, `the scan found ${rows} findings`);
  const rules = await page.locator("[data-testid=findings] tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.rule));
  assert.ok(rules.includes("missing_csp"), rules.join(","));
  await shot(page, "findings-of-scan");
  await page.getByLabel("Select every finding on this page").check();
  await page.locator("select[name=bulk-status]").selectOption("accepted_risk");
  await page.locator("input[name=reason]").fill("accepted in the console test");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByTestId("bulk-result").filter({ hasText: `${rows} changed` }).waitFor(WAIT);
  await page.locator("[data-testid=findings] .status-accepted_risk").first().waitFor(WAIT);
  await shot(page, "findings-triaged");

  // Only the accepted ones, then exactly that view exported.
  await page.locator("input[name=status][value=accepted_risk]").check();
  await page.waitForURL(/status=accepted_risk/, WAIT);
  await page.getByTestId("findings").waitFor(WAIT);
  assert.equal(await page.locator("[data-testid=findings] tbody tr").count(), rows);
  const [csv] = await Promise.all([page.waitForEvent("download", WAIT), page.getByRole("button", { name: "CSV" }).click()]);
  const csvText = await readFile(await csv.path(), "utf8");
  const lines = csvText.trim().split(/\r?\n/);
  assert.equal(lines.length, rows + 1, csvText);
  assert.ok(lines.slice(1).every((line) => line.includes("accepted_risk")), csvText);
  const [json] = await Promise.all([page.waitForEvent("download", WAIT), page.getByRole("button", { name: "JSON" }).click()]);
  const exported = JSON.parse(await readFile(await json.path(), "utf8"));
  const items = Array.isArray(exported) ? exported : exported.items;
  assert.equal(items.length, rows);
  const [sarif] = await Promise.all([page.waitForEvent("download", WAIT), page.getByRole("button", { name: "SARIF" }).click()]);
  const report = JSON.parse(await readFile(await sarif.path(), "utf8"));
  assert.equal(report.runs[0].results.length, rows);

  // A finding's page: evidence and the history with the reason.
  await page.locator("[data-testid=findings] tbody tr a").first().click();
  await page.getByRole("heading", { name: "History" }).waitFor(WAIT);
  assert.match(await page.locator(".history").innerText(), /accepted in the console test/);
  await page.getByRole("button", { name: "Show the raw output" }).click();
  assert.match(await page.getByTestId("raw-output").innerText(), new RegExp(settings.target.replace(/[.]/g, "\\.")));
  await shot(page, "finding-detail");

  // The scan list and the dashboard now show the work.
  await page.goto(scanUrl);
  await page.locator(".progress-line .status-completed").waitFor(WAIT);
  await nav(page, "Scans").click();
  await page.locator("table.list tbody tr").first().waitFor(WAIT);
  await shot(page, "scans");
  await nav(page, "Dashboard").click();
  await page.getByTestId("open-findings").waitFor(WAIT);
  // Everything found today was accepted today: the trend's last day shows none open.
  await page.getByTestId("trend").waitFor(WAIT);
  assert.match(await page.locator(".legend").innerText(), /all open: 0 today/);
  await shot(page, "dashboard");

  // An API key: its secret shown once, gone after a reload, then revoked.
  await nav(page, "API keys").click();
  await page.locator("input[name=key-name]").fill("ci pipeline");
  await page.locator("select[name=scopes]").selectOption(["findings:read", "scans:write"]);
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByTestId("new-key").innerText();
  assert.match(secret, /^s4e_/);
  await shot(page, "api-key-created");
  await page.reload();
  await page.getByRole("cell", { name: "ci pipeline" }).waitFor(WAIT);
  await page.getByRole("cell", { name: "findings:read, scans:write" }).waitFor(WAIT);
  assert.equal(await page.getByTestId("new-key").count(), 0);
  assert.equal(await page.content().then((html) => html.includes(secret)), false);
  await page.getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("cell", { name: "revoked" }).waitFor(WAIT);
  const refused = await fetch(base + "/api/v1/me", { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(refused.status, 401);

  // A schedule of scans of every asset with a tag.
  await nav(page, "Schedules").click();
  await page.locator("input[name=schedule-tag]").fill("env=prod");
  await page.locator("input[name=cron]").fill("0 3 * * 1-5");
  await page.getByRole("button", { name: "Schedule", exact: true }).click();
  await page.getByTestId("schedules").getByText("0 3 * * 1-5").waitFor(WAIT);
  await page.getByRole("button", { name: "Pause" }).click();
  await page.getByRole("button", { name: "Resume" }).waitFor(WAIT);
  await shot(page, "schedules");

  // The other screens open without a failure.
  for (const [link, name] of [
    ["Services", "services"],
    ["Discovery", "discovery"],
    ["Automation", "automation"],
    ["Users", "users"],
    ["Audit log", "audit-log"],
    ["Scan settings", "scan-settings"],
    ["Dead letters", "dead-letters"],
  ]) {
    await nav(page, link).click();
    await page.getByRole("heading", { name: link }).waitFor(WAIT);
    await page.waitForFunction(() => !document.querySelector(".loading"), null, WAIT);
    await noFailureShown(page);
    await shot(page, name);
  }
  assert.match(await page.locator("main").innerText(), /None|Replay/);

  // Dark theme, same page.
  await page.emulateMedia({ colorScheme: "dark" });
  await nav(page, "Dashboard").click();
  await page.getByTestId("open-findings").waitFor(WAIT);
  await shot(page, "dashboard-dark");

  assert.deepEqual(errors, []);
  await context.close();
});

test("a viewer sees no write action and is told which permission a page needs", async () => {
  const { context, page, errors } = await signedIn(settings.viewer);
  const navigation = await page.getByRole("navigation", { name: "Main" }).innerText();
  assert.doesNotMatch(navigation, /API keys|Users|Dead letters|Automation/);
  await nav(page, "Assets").click();
  await page.locator("table.list tbody tr a").first().waitFor(WAIT);
  assert.equal(await page.getByRole("button", { name: "Register" }).count(), 0);
  await page.locator("table.list tbody tr a").first().click();
  await page.getByRole("heading", { name: "Services" }).waitFor(WAIT);
  assert.equal(await page.getByRole("button", { name: "Start a scan" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Save tags" }).count(), 0);
  await nav(page, "Findings").click();
  await page.getByTestId("findings").waitFor(WAIT);
  assert.equal(await page.locator("input[type=checkbox][aria-label^=Select]").count(), 0);
  assert.equal(await page.getByRole("button", { name: "Apply" }).count(), 0);
  await shot(page, "viewer-findings");

  // A page for admins, opened by its address: the refusal names the missing permission.
  await page.goto(base + "/users");
  await page.getByRole("alert").first().waitFor(WAIT);
  assert.match(await page.getByRole("alert").first().innerText(), /Not allowed.*users:read/s);
  await shot(page, "viewer-refused");

  // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "Dashboard" }).waitFor(WAIT);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a partner switches to a customer and sees it named on every page", async () => {
  const { context, page, errors } = await signedIn(settings.partner);
  await nav(page, "Portfolio").click();
  await page.getByTestId("portfolio").getByRole("cell", { name: settings.customer, exact: true }).waitFor(WAIT);
  await shot(page, "portfolio");

  await page.getByLabel("Customer").selectOption({ label: settings.customer });
  await page.getByTestId("acting-for").filter({ hasText: settings.customer }).waitFor(WAIT);
  await nav(page, "Assets").click();
  await page.getByRole("link", { name: settings.customerAsset }).waitFor(WAIT);
  assert.match(await page.getByTestId("acting-for").innerText(), new RegExp(settings.customer));
  await shot(page, "partner-acting");
  // A reload keeps acting for the customer, still shown.
  await page.reload();
  await page.getByRole("link", { name: settings.customerAsset }).waitFor(WAIT);
  assert.match(await page.getByTestId("acting-for").innerText(), new RegExp(settings.customer));

  // Back to its own organization: the customer's asset is not there.
  await page.getByLabel("Customer").selectOption({ label: "Own organization" });
  await page.getByTestId("acting-for").waitFor({ state: "detached", ...WAIT });
  await page.goto(base + "/assets");
  await page.locator(".empty").waitFor(WAIT);
  assert.equal(await page.getByRole("link", { name: settings.customerAsset }).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
