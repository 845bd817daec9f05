// Browser tests of the flows people do, in headless Chromium (quality.md "Tests and CI"):
// the first MSP admin sets up their account; they sign in, create a branded client, generate
// an invite and copy the link; the recipient opens it on the client's host, sees its logo and
// colour, sets a password and lands in the portal; the link then says "already used"; the
// client admin invites a teammate from Team; the MSP admin revokes it and its link says so;
// a person who forgot their password gets a reset link by e-mail and signs in with a new one;
// the MSP admin adds a webhook to a local receiver and follows its deliveries.
// Screenshots of the key pages at desktop and phone widths go to target/screenshots/, and
// axe-core checks the key pages for serious or critical accessibility violations.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const binary = process.env.TETHER_BIN ?? join(root, "target/debug/tether");
const screenshots = join(root, "target/screenshots");
const port = Number(process.env.TETHER_E2E_PORT ?? 18743);
const base = `http://localhost:${port}`;
const acme = `http://acme.localhost:${port}`;
const password = "quartz mitten orbit paddle";
const axeSource = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");
const viewports = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

mkdirSync(screenshots, { recursive: true });

/** Starts `tether serve` on an empty database and returns it with the first-admin link. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "tether-e2e-"));
  const server = spawn(binary, ["serve", "--bind", `127.0.0.1:${port}`, "--base-url", base], {
    cwd: dir,
    // E-mail goes to a folder: the forms offer "Send the link by e-mail", checked.
    env: {
      ...process.env,
      RUST_LOG: "warn",
      TETHER_DATABASE_URL: join(dir, "tether.db"),
      TETHER_MAIL_DIR: join(dir, "mail"),
      // The webhook receiver below is http://127.0.0.1, which only these allow.
      TETHER_WEBHOOK_ALLOW_HTTP: "true",
      TETHER_WEBHOOK_ALLOW_PRIVATE: "true",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: server.stdout });
  const link = await new Promise((resolveLink, reject) => {
    server.on("exit", (code) => reject(new Error(`tether exited with ${code}`)));
    lines.on("line", (line) => {
      const match = line.trim().match(/^http:\/\/localhost:\d+\/invite\/[A-Za-z0-9_-]{43}$/);
      if (match) resolveLink(match[0]);
    });
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { server, link, mailDir: join(dir, "mail") };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server never became ready");
}

/** Pages whose document was wider than a 390-px phone screen, with how wide. */
const tooWide = [];

/** Screenshots at desktop and phone widths; at the phone's, the document must fit the screen
 * (tables scroll inside their own box), so that nothing needs a sideways scroll. */
async function shoot(page, name) {
  for (const [label, size] of Object.entries(viewports)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(screenshots, `${name}-${label}.png`), fullPage: true });
    if (label === "phone") {
      const [scroll, inner] = await page.evaluate(() => [
        document.documentElement.scrollWidth,
        window.innerWidth,
      ]);
      if (scroll > inner) tooWide.push(`${name}: ${scroll} px wide on a ${inner}-px screen`);
    }
  }
  await page.setViewportSize(viewports.desktop);
}

/** axe-core on the current page: no serious or critical violation. */
async function checkAccessibility(page, name) {
  const results = await page.evaluate(`${axeSource}; axe.run(document, { resultTypes: ["violations"] })`);
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(summary, [], `${name} has accessibility violations`);
  console.log(`  axe: ${name} has no serious or critical violation`);
}

async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: viewports.desktop, ...options });
  return context.newPage();
}

const step = (text) => console.log(`- ${text}`);

/** A webhook receiver on loopback: records each delivery, answers with the next status in
 * `answers` (200 once they run out). */
const hooks = { received: [], answers: [] };
const receiver = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    hooks.received.push({ headers: request.headers, body: JSON.parse(body) });
    response.writeHead(hooks.answers.shift() ?? 200).end();
  });
});
await new Promise((listening) => receiver.listen(0, "127.0.0.1", listening));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

/** Reloads `page` until `locate(page)` finds something, as deliveries are made in the
 * background. */
async function reloadUntil(page, locate) {
  for (let tries = 0; tries < 40; tries++) {
    if ((await locate(page).count()) > 0) return;
    await new Promise((done) => setTimeout(done, 250));
    await page.reload();
  }
  throw new Error(`${locate} never found anything on ${page.url()}`);
}

const { server, link: firstAdminLink, mailDir } = await startServer();

/** The first link matching `pattern` in a message the outbox wrote to the mail folder. */
async function linkInMail(pattern) {
  for (let tries = 0; tries < 40; tries++) {
    const files = existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith(".eml")) : [];
    for (const file of files) {
      // The parts are quoted-printable: undo its soft line breaks and escapes first.
      const text = readFileSync(join(mailDir, file), "utf8")
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
      const found = text.match(pattern);
      if (found) return found[0];
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`no e-mail with a link like ${pattern}`);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
  ],
});

try {
  step("the first MSP admin opens the one-time link and sets up their account");
  const admin = await newPage(browser, { permissions: ["clipboard-read", "clipboard-write"] });
  await admin.goto(firstAdminLink);
  await admin.getByLabel("Email").fill("owner@atechsolutions.org");
  await admin.getByLabel("Name").fill("Olivia Owner");
  await admin.getByLabel("Password", { exact: true }).fill(password);
  await admin.getByLabel("Confirm password").fill(password);
  await admin.getByRole("button", { name: "Create account" }).click();
  await admin.waitForURL(`${base}/`);
  await admin.getByRole("heading", { name: "Dashboard" }).waitFor();

  step("the MSP admin signs out and signs in again");
  await admin.getByRole("button", { name: "Sign out" }).click();
  await admin.waitForURL(`${base}/login`);
  await checkAccessibility(admin, "sign-in page");
  await shoot(admin, "login");
  await admin.getByLabel("Email").fill("owner@atechsolutions.org");
  await admin.getByLabel("Password").fill(password);
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.waitForURL(`${base}/`);

  step("they create Acme Corp with a logo and a colour");
  await admin.getByRole("link", { name: "Clients", exact: true }).click();
  await admin.getByRole("link", { name: "New client" }).click();
  await checkAccessibility(admin, "new client form");
  await admin.getByLabel("Name").fill("Acme Corp");
  await admin.getByLabel("Address").fill("acme");
  await admin.getByLabel("Accent colour").fill("#d9480f");
  await admin.getByLabel("Logo").setInputFiles(join(root, "static/demo/acme.png"));
  await admin.getByRole("button", { name: "Create client" }).click();
  await admin.waitForURL(`${base}/clients`);
  const row = admin.getByRole("row", { name: /Acme Corp/ });
  await row.waitFor();
  await checkAccessibility(admin, "clients page");
  await shoot(admin, "clients");

  step("they generate an invite link for Alice and copy it");
  await row.getByRole("link", { name: "Invite", exact: true }).click();
  await admin.getByLabel("Email").fill("alice@acme.com");
  await admin.getByLabel("Name").fill("Alice Smith");
  await admin.getByLabel("Role").selectOption({ label: "Client admin" });
  await admin.getByLabel("Expires in").selectOption({ label: "3 days" });
  assert.ok(await admin.getByLabel("Send the link to this address by e-mail").isChecked());
  await checkAccessibility(admin, "invite form");
  await shoot(admin, "invite-form");
  await admin.getByRole("button", { name: "Generate Invite Link" }).click();
  const linkField = admin.getByLabel("Invite link");
  const aliceLink = await linkField.inputValue();
  assert.match(aliceLink, new RegExp(`^${acme}/invite/[A-Za-z0-9_-]{43}$`));
  await admin.getByText("Treat this link like a temporary password").waitFor();
  await admin.getByText("We are e-mailing this link to alice@acme.com").waitFor();
  await admin.getByRole("button", { name: "Copy" }).click();
  await admin.getByRole("button", { name: "Copied" }).waitFor();
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), aliceLink);
  await checkAccessibility(admin, "invite link page");
  await shoot(admin, "invite-link");

  step("Alice opens the link on acme.localhost and sees Acme's logo and colour");
  const alice = await newPage(browser);
  await alice.goto(aliceLink);
  await alice.getByRole("heading", { name: "You're invited to join Acme Corp as Client admin" }).waitFor();
  const logo = alice.getByRole("img", { name: "Acme Corp logo" });
  await logo.waitFor();
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), "the logo loads");
  const bar = await alice.locator("header.bar").evaluate((el) => getComputedStyle(el).borderTopColor);
  assert.equal(bar, "rgb(217, 72, 15)", "the header wears Acme's accent colour");
  assert.equal(await alice.getByText("Tether").count(), 0, "no Tether branding on a client host");
  assert.equal(await alice.getByLabel("Email").inputValue(), "alice@acme.com");
  assert.equal(await alice.getByLabel("Name").inputValue(), "Alice Smith");
  await checkAccessibility(alice, "invite page");
  await shoot(alice, "invite-page");

  step("a weak password is refused with the estimator's advice, and the name is kept");
  await alice.getByLabel("Password", { exact: true }).fill("password1234");
  await alice.getByLabel("Confirm password").fill("password1234");
  await alice.getByRole("button", { name: "Create account" }).click();
  await alice.getByText("too easy to guess").waitFor();
  assert.equal(await alice.getByLabel("Name").inputValue(), "Alice Smith");
  assert.equal(await alice.getByLabel("Password", { exact: true }).inputValue(), "");
  await shoot(alice, "invite-page-weak-password");

  step("she sets a good password and lands in Acme's portal, signed in");
  await alice.getByLabel("Password", { exact: true }).fill("violet anchor meadow 42");
  await alice.getByLabel("Confirm password").fill("violet anchor meadow 42");
  await alice.getByRole("button", { name: "Create account" }).click();
  await alice.waitForURL(`${acme}/`);
  await alice.getByRole("heading", { name: "Welcome, Alice Smith" }).waitFor();
  await checkAccessibility(alice, "portal home");
  await shoot(alice, "portal-home");

  step("the link opened again says it was already used");
  const again = await newPage(browser);
  await again.goto(aliceLink);
  await again.getByRole("heading", { name: "This invite link has already been used" }).waitFor();
  await again.getByRole("link", { name: "Sign in" }).waitFor();
  await shoot(again, "invite-used");

  step("Alice invites a teammate from Team");
  await alice.getByRole("link", { name: "Team", exact: true }).click();
  await alice.getByLabel("Email").fill("bob@acme.com");
  await alice.getByLabel("Role").selectOption({ label: "Client user" });
  await checkAccessibility(alice, "team page");
  await shoot(alice, "team");
  await alice.getByRole("button", { name: "Generate Invite Link" }).click();
  const bobLink = await alice.getByLabel("Invite link").inputValue();
  assert.match(bobLink, new RegExp(`^${acme}/invite/`));

  step("on Team → Activity Alice reads what happened in Acme, in sentences");
  await alice.getByRole("link", { name: "Activity", exact: true }).click();
  await alice.getByText("Alice Smith invited bob@acme.com as Client user to Acme Corp").waitFor();
  await checkAccessibility(alice, "team activity");
  await shoot(alice, "team-activity");

  step("on her account page Alice changes her password, and her other browser is signed out");
  const elsewhere = await newPage(browser);
  await elsewhere.goto(`${acme}/login`);
  await elsewhere.getByLabel("Email").fill("alice@acme.com");
  await elsewhere.getByLabel("Password").fill("violet anchor meadow 42");
  await elsewhere.getByRole("button", { name: "Sign in" }).click();
  await elsewhere.waitForURL(`${acme}/`);
  await alice.getByRole("link", { name: "Account", exact: true }).click();
  await alice.getByRole("heading", { name: "Where you are signed in" }).waitFor();
  assert.equal(await alice.locator("ul.sessions > li").count(), 2);
  await checkAccessibility(alice, "account page");
  await shoot(alice, "account");
  await alice.getByLabel("Current password").fill("violet anchor meadow 42");
  await alice.getByLabel("New password").fill("copper lantern thistle 7");
  await alice.getByRole("button", { name: "Change password" }).click();
  await alice.getByText("signed out everywhere else").waitFor();
  assert.equal(await alice.locator("ul.sessions > li").count(), 1);
  await elsewhere.goto(`${acme}/account`);
  await elsewhere.waitForURL(`${acme}/login`);

  step("the MSP admin revokes Bob's pending invite, and its link then says so");
  await admin.getByRole("link", { name: "Pending invites", exact: true }).click();
  await admin.getByRole("row", { name: /bob@acme\.com/ }).waitFor();
  // Bob's link was e-mailed from Team; the list shows it once the outbox has sent it.
  for (let tries = 0; ; tries++) {
    const row = admin.getByRole("row", { name: /bob@acme\.com/ });
    if ((await row.getByText(/^E-mailed /).count()) > 0) break;
    assert.ok(tries < 20, "the pending list shows the invite as e-mailed");
    await new Promise((done) => setTimeout(done, 250));
    await admin.reload();
  }
  await checkAccessibility(admin, "pending invites");
  await shoot(admin, "pending-invites");
  await admin.getByRole("button", { name: "Revoke the invite for bob@acme.com" }).click();
  await admin.waitForURL(`${base}/users/invites`);
  assert.equal(await admin.getByRole("row", { name: /bob@acme\.com/ }).count(), 0);
  const bob = await newPage(browser);
  await bob.goto(bobLink);
  await bob.getByRole("heading", { name: "This invite link was revoked" }).waitFor();
  await checkAccessibility(bob, "dead invite link");
  await shoot(bob, "invite-revoked");

  step("Bob asks for a new link, and the MSP admin re-issues it from Pending invites");
  await bob.getByRole("button", { name: "Ask for a new link" }).click();
  await bob.getByText("We have asked Acme Corp to send you a new link.").waitFor();
  await admin.reload();
  await admin.getByRole("heading", { name: "Requested a new link" }).waitFor();
  await admin.getByRole("button", { name: "Re-issue the invite for bob@acme.com" }).click();
  const bobsNewLink = await admin.getByLabel("Invite link").inputValue();
  assert.match(bobsNewLink, new RegExp(`^${acme}/invite/`));
  assert.notEqual(bobsNewLink, bobLink);
  await admin.getByRole("link", { name: "Pending invites", exact: true }).click();
  assert.equal(await admin.getByRole("heading", { name: "Requested a new link" }).count(), 0);

  step("Alice forgets her password: the e-mailed link lets her choose a new one, then she signs in");
  const forgetful = await newPage(browser);
  await forgetful.goto(`${acme}/login`);
  await forgetful.getByRole("link", { name: "Forgot your password?" }).click();
  await forgetful.waitForURL(`${acme}/forgot-password`);
  await checkAccessibility(forgetful, "forgot password");
  await shoot(forgetful, "forgot-password");
  await forgetful.getByLabel("Email").fill("alice@acme.com");
  await forgetful.getByRole("button", { name: "Send me a link" }).click();
  await forgetful.getByRole("heading", { name: "Check your e-mail" }).waitFor();
  const resetLink = await linkInMail(new RegExp(`${acme}/reset/[A-Za-z0-9_-]{43}`));
  await forgetful.goto(resetLink);
  await forgetful.getByRole("heading", { name: "Choose a new password" }).waitFor();
  assert.equal(await forgetful.getByLabel("Email").inputValue(), "alice@acme.com");
  await checkAccessibility(forgetful, "reset page");
  await shoot(forgetful, "reset");
  await forgetful.getByLabel("New password", { exact: true }).fill("harbor velvet quill 58");
  await forgetful.getByLabel("Confirm new password").fill("harbor velvet quill 58");
  await forgetful.getByRole("button", { name: "Change password" }).click();
  await forgetful.waitForURL(`${acme}/login?password=changed`);
  await forgetful.getByText("Your password was changed; sign in with it.").waitFor();
  await forgetful.getByLabel("Email").fill("alice@acme.com");
  await forgetful.getByLabel("Password").fill("harbor velvet quill 58");
  await forgetful.getByRole("button", { name: "Sign in" }).click();
  await forgetful.waitForURL(`${acme}/`);
  await forgetful.goto(resetLink);
  await forgetful.getByRole("heading", { name: "This password reset link has already been used" }).waitFor();

  step("the MSP admin's other pages: Users, a client's settings, the audit trail");
  await admin.getByRole("link", { name: "Users", exact: true }).click();
  await admin.getByRole("heading", { name: "Users" }).waitFor();
  await checkAccessibility(admin, "users page");
  await shoot(admin, "users");
  await admin.getByLabel("Email or name").fill("ALICE");
  await admin.getByRole("button", { name: "Filter", exact: true }).click();
  await admin.getByRole("row", { name: /alice@acme\.com/ }).waitFor();
  assert.equal(await admin.getByRole("row", { name: /owner@atechsolutions\.org/ }).count(), 0);
  await admin.getByRole("link", { name: "Reset password link for alice@acme.com" }).click();
  await admin.getByRole("heading", { name: /A password reset link for/ }).waitFor();
  await checkAccessibility(admin, "reset link form");
  await shoot(admin, "reset-link-form");
  await admin.getByRole("button", { name: "Make the link" }).click();
  const adminResetLink = await admin.getByLabel("Password reset link").inputValue();
  assert.match(adminResetLink, new RegExp(`^${acme}/reset/`));
  await checkAccessibility(admin, "reset link page");
  await shoot(admin, "reset-link");
  await admin.getByRole("link", { name: "Clients", exact: true }).click();
  await admin.getByRole("row", { name: /Acme Corp/ }).getByRole("link", { name: "Edit" }).click();
  assert.ok(await admin.getByLabel("Remind people of e-mailed invites").isChecked());
  await checkAccessibility(admin, "client settings");
  await shoot(admin, "client-settings");

  step("they limit Acme to acme.com addresses, and an invite to gmail.com is refused on the form");
  await admin.getByLabel("Allowed e-mail domains").fill("acme.com");
  await admin.getByRole("button", { name: "Save changes" }).click();
  await admin.getByText("Saved.").waitFor();
  assert.equal(await admin.getByLabel("Allowed e-mail domains").inputValue(), "acme.com");
  await admin.getByRole("link", { name: "Clients", exact: true }).click();
  await admin.getByRole("row", { name: /Acme Corp/ }).getByRole("link", { name: "Invite", exact: true }).click();
  await admin.getByLabel("Email").fill("someone@gmail.com");
  await admin.getByRole("button", { name: "Generate Invite Link" }).click();
  await admin.getByText("This tenant only admits addresses at acme.com.").waitFor();
  assert.equal(await admin.getByLabel("Email").inputValue(), "someone@gmail.com");

  step("they invite many people to Acme from a CSV with a bad row: preview, create, copy a link");
  await admin.getByRole("link", { name: "Clients", exact: true }).click();
  await admin.getByRole("row", { name: /Acme Corp/ }).getByRole("link", { name: "Invite many" }).click();
  await admin.getByRole("heading", { name: "Invite many people to Acme Corp" }).waitFor();
  await checkAccessibility(admin, "invite many form");
  await shoot(admin, "invite-many");
  await admin.getByLabel("CSV file").setInputFiles({
    name: "staff.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("email,name,role\ncarol@acme.com,Carol Diaz,\nnot-an-address,Nobody,\ndave@acme.com,Dave Li,client_admin\n"),
  });
  await admin.getByLabel("Role for rows that name none").selectOption({ label: "Client user" });
  await admin.getByRole("button", { name: "Preview" }).click();
  await admin.getByText("2 invites will be created").waitFor();
  const badRow = admin.getByRole("row", { name: /not-an-address/ });
  await badRow.getByText("Left out:").waitFor();
  await checkAccessibility(admin, "invite many preview");
  await shoot(admin, "invite-many-preview");
  await admin.getByRole("button", { name: "Create 2 invites" }).click();
  await admin.getByText("2 invites were created.").waitFor();
  const carolLink = await admin.getByLabel("Invite link for carol@acme.com").inputValue();
  assert.match(carolLink, new RegExp(`^${acme}/invite/[A-Za-z0-9_-]{43}$`));
  await admin.getByRole("row", { name: /carol@acme\.com/ }).getByRole("button", { name: "Copy" }).click();
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), carolLink);
  const download = await admin.getByRole("link", { name: "Download the links (CSV)" }).getAttribute("href");
  assert.ok(decodeURIComponent(download.split(",").slice(1).join(",")).includes(`carol@acme.com,${carolLink}`));
  await checkAccessibility(admin, "invite many results");
  await shoot(admin, "invite-many-done");
  step("they add a webhook to a local receiver; Carol accepts her invite and the log shows it delivered");
  await admin.getByRole("link", { name: "Webhooks", exact: true }).click();
  await admin.getByRole("heading", { name: "Webhooks" }).waitFor();
  await checkAccessibility(admin, "webhooks page");
  await shoot(admin, "webhooks");
  await admin.getByLabel("URL").fill(receiverUrl);
  await admin.getByLabel("Description").fill("Our PSA");
  await admin.getByRole("button", { name: "Add webhook" }).click();
  await admin.getByRole("heading", { name: "Webhook added" }).waitFor();
  const secret = await admin.getByLabel("Signing secret").inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  await checkAccessibility(admin, "webhook secret page");
  await shoot(admin, "webhook-secret");
  await admin.getByRole("link", { name: "Go to the webhook" }).click();
  const carol = await newPage(browser);
  await carol.goto(carolLink);
  await carol.getByLabel("Password", { exact: true }).fill("harbor velvet quill 58");
  await carol.getByLabel("Confirm password").fill("harbor velvet quill 58");
  await carol.getByRole("button", { name: "Create account" }).click();
  await carol.waitForURL(`${acme}/`);
  const accepted = admin.getByRole("row", { name: /invite\.accepted/ });
  await reloadUntil(admin, () => accepted);
  assert.equal(await accepted.getByRole("cell").nth(2).innerText(), "200");
  const event = hooks.received.find((hook) => hook.body.type === "invite.accepted");
  assert.equal(event.body.data.email, "carol@acme.com");
  assert.match(event.headers["webhook-signature"], /^v1,/);
  await checkAccessibility(admin, "webhook page");
  await shoot(admin, "webhook");

  step("Send test event, answered 410: the webhook is turned off; turned on, Retry delivers it");
  hooks.answers.push(410);
  await admin.getByRole("button", { name: "Send test event" }).click();
  await admin.getByText("A webhook.test event is on its way").waitFor();
  await reloadUntil(admin, (page) => page.getByText("The receiver answered 410 Gone"));
  await admin.getByRole("button", { name: "Turn on" }).click();
  await admin.getByRole("button", { name: /^Retry the webhook\.test delivery/ }).click();
  await admin.getByText("The event is being sent again").waitFor();
  const tests = () => hooks.received.filter((hook) => hook.body.type === "webhook.test").length;
  for (let tries = 0; tries < 40 && tests() < 2; tries++) await new Promise((done) => setTimeout(done, 250));
  assert.equal(tests(), 2, "the retried test event arrived");
  await admin.getByRole("link", { name: "All webhooks" }).click();

  step("Pending invites filtered by e-mail, with a count per status");
  await admin.getByRole("link", { name: "Pending invites", exact: true }).click();
  await admin.getByLabel("Email", { exact: true }).fill("dave@acme.com");
  await admin.getByRole("button", { name: "Filter", exact: true }).click();
  await admin.getByRole("row", { name: /dave@acme\.com/ }).waitFor();
  assert.equal(await admin.getByRole("row", { name: /bob@acme\.com/ }).count(), 0);
  await admin.getByRole("link", { name: "1 pending" }).waitFor();
  await shoot(admin, "pending-invites-filtered");

  step("the audit trail in sentences, filtered by what, who and when; a name links to its person");
  await admin.getByRole("link", { name: "Audit", exact: true }).click();
  await checkAccessibility(admin, "audit page");
  await shoot(admin, "audit");
  const today = new Date().toISOString().slice(0, 10);
  await admin.getByLabel("What").selectOption({ label: "Invites created" });
  await admin.getByLabel("Who (address)").fill("owner@");
  await admin.getByLabel("From").fill(today);
  await admin.getByLabel("To").fill(today);
  await admin.getByRole("button", { name: "Filter", exact: true }).click();
  await admin.getByText("Olivia Owner invited alice@acme.com as Client admin to Acme Corp").waitFor();
  assert.equal(await admin.getByText(/signed in$/).count(), 0);
  assert.equal(await admin.getByText(/^Alice Smith invited/).count(), 0);
  await checkAccessibility(admin, "audit page, filtered");
  await shoot(admin, "audit-filtered");
  await admin.getByRole("link", { name: "Olivia Owner" }).first().click();
  await admin.getByRole("heading", { name: "Users" }).waitFor();
  assert.equal(await admin.getByLabel("Email or name").inputValue(), "owner@atechsolutions.org");
  await admin.getByRole("row", { name: /owner@atechsolutions\.org/ }).waitFor();

  step("the dashboard shows the activity");
  await admin.getByRole("link", { name: "Dashboard", exact: true }).click();
  // A sentence is one line: its linked names sit inside it, not beside it.
  assert.equal(await admin.locator("ul.activity li > :not(time, span)").count(), 0);
  await admin.getByText("Carol Diaz accepted an invite and joined Acme Corp as Client user").first().waitFor();
  await checkAccessibility(admin, "dashboard");
  await shoot(admin, "dashboard");
  assert.deepEqual(tooWide, [], "every page fits a 390-px phone screen");
  console.log(`browser tests passed; every page fits a 390-px screen; screenshots in ${screenshots}`);
} finally {
  await browser.close();
  receiver.close();
  server.kill("SIGTERM");
}
