// GraphiQL in a real browser: Debian's headless Chromium driven by playwright-core opens
// the page, runs W1, W3 and W4 (create, then read back) from its editor, and reads the
// result pane; prints one JSON summary (the Python test judges it) and saves screenshots.
//
//   node graphiql.mjs <server URL> <chromium> <screenshot.png>...
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [server, executablePath, ...screenshots] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "clubgraph-chromium-"));
const summary = { requests: [], violations: [], consoleErrors: [], pageErrors: [], runs: {} };

// What the result pane holds: the whole document of its editor (CodeMirror draws only the
// lines in view), and the text a person sees.
async function resultOf(page, wanted) {
  const handle = await page.waitForFunction(
    (needle) => {
      const editor = document.querySelector(".result-window .CodeMirror")?.CodeMirror;
      const text = editor ? editor.getValue() : "";
      return text.includes(needle) ? text : false;
    },
    wanted,
    { timeout: 60_000 },
  );
  const full = await handle.jsonValue();
  const visible = await page.locator(".result-window").innerText();
  return { full, visible };
}

// The text of the variables or the headers editor (the first and the second under the query),
// and whether it is the one shown.
async function toolEditor(page, which) {
  return page.evaluate((index) => {
    const editor = document.querySelectorAll(".graphiql-editor-tool .graphiql-editor")[index];
    return { text: editor?.querySelector(".CodeMirror")?.CodeMirror?.getValue() ?? null,
      shown: Boolean(editor && !editor.classList.contains("hidden")) };
  }, which === "variables" ? 0 : 1);
}

async function openTab(page, title) {
  await page.getByRole("tab", { name: title }).getByRole("button", { name: title }).click();
  // GraphiQL reads the operations of the tab's document 100 ms after it changes: run once
  // the editor names one of them, as a person clicking would.
  await page.waitForFunction((name) => {
    const editor = document.querySelector(".graphiql-query-editor .CodeMirror")?.CodeMirror;
    const names = (editor?.operations ?? []).map((operation) => operation.name?.value);
    return (
      document.querySelector(".graphiql-tab-active")?.textContent.includes(name) &&
      names.includes(name) &&
      names.includes(editor.operationName)
    );
  }, title);
}

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1400, height: 900 },
});
try {
  context.on("request", (request) => summary.requests.push(request.url()));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") {
      const text = message.text();
      (text.startsWith("CSP violation") ? summary.violations : summary.consoleErrors).push(text);
    }
  });
  page.on("pageerror", (error) => summary.pageErrors.push(String(error)));

  const response = await page.goto(`${server}/graphql`, { waitUntil: "load" });
  summary.status = response.status();
  summary.csp = response.headers()["content-security-policy"];
  await page.getByRole("tab").first().waitFor({ timeout: 30_000 });
  summary.tabs = await page.getByRole("tab").allInnerTexts();
  summary.headers = await toolEditor(page, "headers");

  // W1, run with the execute button; its answer in the result pane.
  await openTab(page, "W1Dashboard");
  await page.locator(".graphiql-execute-button").click();
  summary.runs.W1 = await resultOf(page, '"invoices"');
  for (const path of screenshots) await page.screenshot({ path });

  // W3, with the client the page looked up when it loaded.
  await openTab(page, "W3MemberView");
  summary.runs.W3variables = await toolEditor(page, "variables");
  await page.locator(".graphiql-execute-button").click();
  summary.runs.W3 = await resultOf(page, '"client"');

  // W4: the execute button asks which operation; then W4ReadBack at the cursor (Ctrl-Enter).
  await openTab(page, "W4CreateInvoice");
  await page.locator(".graphiql-execute-button").click();
  await page.getByRole("menuitem", { name: "W4CreateInvoice" }).click();
  summary.runs.W4create = await resultOf(page, '"createInvoice"');
  await page.evaluate(() => {
    const editor = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
    const line = editor.getValue().split("\n").findIndex((l) => l.startsWith("query W4ReadBack"));
    editor.focus();
    editor.setCursor({ line: line + 2, ch: 4 });
  });
  await page.keyboard.press("Control+Enter");
  summary.runs.W4readBack = await resultOf(page, '"node"');
} catch (error) {
  // What the page showed and said when it went wrong, for the test's message.
  summary.error = String(error);
  const page = context.pages()[0];
  if (page && screenshots[0]) {
    summary.failureScreenshot = screenshots[0].replace(/\.png$/, "-failure.png");
    await page.screenshot({ path: summary.failureScreenshot }).catch(() => {});
    summary.resultPane = await page.locator(".result-window").innerText().catch(() => null);
  }
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
const out = JSON.stringify(summary);
process.stdout.write(out);
if (process.exitCode) process.stderr.write(out.slice(-1800));
