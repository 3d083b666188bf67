// The console in a real browser: Debian's chromium driven by playwright-core (never a browser download),
// with axe-core on every page. Run by .ci/run:
//
//   FLOWC=target/debug/flowc CHROMIUM=/usr/bin/chromium SHOTS=DIR node tests/browser/console.mjs
//
// It starts flowc serve on examples/order_status.flow with the order service routed to a local fake
// that fails, makes a conversation whose webhook call fails, then as a person in the browser: signs in,
// opens the failed call in the log and reads its answer, finds the contact and its messages, simulates
// the conversation with a mocked webhook, downloads the flow test and checks that `flowc test` passes
// it. A screenshot of every page goes to SHOTS.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const FLOWC = resolve(process.env.FLOWC || 'target/debug/flowc');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = resolve(process.env.SHOTS || 'target/console-screenshots');
const TOKEN = 'browser-test-token';
const AXE = require.resolve('axe-core/axe.min.js');
mkdirSync(SHOTS, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'flowc-console-'));
const fail = (message) => { console.error(`console test: ${message}`); process.exitCode = 1; throw new Error(message); };

// The order service: down.
const service = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(503, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'the orders database is down' }));
  });
});
await new Promise((r) => service.listen(0, '127.0.0.1', r));
const servicePort = service.address().port;

const server = spawn(FLOWC, ['serve', resolve('examples/order_status.flow'), '--addr', '127.0.0.1:0', '--db', join(work, 'flowc.db'),
  '--allow-network', '127.0.0.1/32', '--route', `https://orders.example.com=http://127.0.0.1:${servicePort}`, '--no-access-log'],
  { env: { ...process.env, FLOWC_API_TOKEN: TOKEN, ORDERS_TOKEN: 'k-123456' }, stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolveBase, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
    if (m) resolveBase(m[0]);
  });
  server.on('exit', (code) => reject(new Error(`flowc serve exited with ${code}`)));
});
const api = (path, body) => fetch(base + path, {
  method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
}).then((r) => r.json());

let browser;
try {
  // A conversation whose order lookup fails (the service answers 503).
  await api('/flows/order_status/runs', { contact: { urn: 'tel:+250788123456', name: 'Ben Haggerty' } });
  await api('/contacts/tel:+250788123456/messages', { text: 'CU001' });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // axe-core is injected as a script: the console's own policy allows none, so the test's context
  // bypasses it (the pages themselves are served with it).
  const context = await browser.newContext({ bypassCSP: true, acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const seen = async (name) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (serious.length) {
      fail(`${name}: ${serious.map((v) => `${v.id} (${v.nodes.length}: ${v.nodes[0].html.slice(0, 160)})`).join(', ')}`);
    }
    console.log(`ok ${name} (axe: ${result.violations.length} minor)`);
  };

  // Signing in.
  await page.goto(`${base}/ui/log`);
  if (!page.url().endsWith('/ui/login')) fail(`not sent to sign in: ${page.url()}`);
  await seen('login');
  await page.getByLabel('Operator token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/ui\/log$/);

  // The failed call, and its answer.
  await page.getByLabel('failed only').check();
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('details.call summary').first().click();
  const answer = await page.locator('details.call').first().innerText();
  if (!answer.includes('the orders database is down')) fail(`the failed call's answer is not shown: ${answer}`);
  if (answer.includes('k-123456')) fail('the API key is shown');
  await seen('log');
  // The run of that call, step by step.
  await page.locator('details.call').first().getByRole('link').click();
  if (!(await page.locator('main').innerText()).includes('Step 2')) fail('the run\'s steps are not shown');
  await seen('run');
  await page.goBack();

  // The contact and its messages.
  await page.getByRole('link', { name: 'Contacts' }).click();
  await page.getByLabel('URN or name').fill('haggerty');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('link', { name: 'tel:+250788123456' }).click();
  if (!(await page.locator('main').innerText()).includes('CU001')) fail('the contact\'s message is not shown');
  await seen('contact');

  // The simulator, with the webhook mocked on the page.
  await page.getByRole('link', { name: 'Simulator' }).click();
  await seen('simulator-form');
  await page.locator('select[name=flow]').selectOption('order_status');
  await page.getByLabel(/Webhook answers/).fill(JSON.stringify({ lookup_webhook: { status: 200, body: { status: 'Shipped', number: 'CU001', ship_date: 'October 9th', delivery_date: 'April 3rd' } } }));
  await page.getByRole('button', { name: 'Begin' }).click();
  await page.getByLabel('Reply as the contact').fill('CU001');
  await page.getByRole('button', { name: 'Send' }).click();
  const chat = await page.locator('main').innerText();
  if (!chat.includes('Shipped')) fail(`the simulated conversation did not reach the answer: ${chat}`);
  await seen('simulator');
  const download = async (name) => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
    const path = join(work, d.suggestedFilename());
    await d.saveAs(path);
    return path;
  };
  const test = await download('Download the .flowtest');
  await download('and its golden file');
  copyFileSync(resolve('examples/order_status.flow'), join(work, 'order_status.flow'));
  execFileSync(FLOWC, ['test', test], { stdio: 'inherit' });
  console.log('ok the downloaded flow test passes');

  // Flows and starts.
  await page.getByRole('link', { name: 'Flows' }).click();
  if (!(await page.locator('main').innerText()).includes('order_status')) fail('the flow is not listed');
  await seen('flows');
  await page.getByRole('link', { name: 'Starts' }).click();
  await seen('starts');
  await page.goto(`${base}/ui/contacts`);
  await seen('contacts');
  // A phone's width: the log still reads.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/ui/log`);
  await seen('log-phone');
} finally {
  if (browser) await browser.close();
  server.kill();
  service.close();
}
