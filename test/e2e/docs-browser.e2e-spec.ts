// /docs in a real browser: Debian's Chromium driven by playwright-core (no browser download) expands the produce and
// poll operations in Swagger UI, uses "Try it out" / Execute, and reads the answers from the page. Screenshots go to
// test/artifacts/ (gitignored). Needs /usr/bin/chromium (.ci/run installs Debian's chromium package).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const artifacts = resolve(__dirname, '../artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As root in a sandbox-less container, with no network beyond loopback: no sandbox, no GPU, no background traffic.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Expands an operation, presses "Try it out", fills the named inputs, presses Execute and answers the live response. */
async function tryItOut(page: Page, operationId: string, inputs: Record<string, string>): Promise<{ op: Locator; status: string; body: unknown }> {
  const op = page.locator(`#operations-messages-${operationId}`);
  await op.locator('.opblock-summary').click();
  await op.locator('.try-out__btn').click();
  for (const [name, value] of Object.entries(inputs)) await op.locator(`input[placeholder="${name}"]`).fill(value);
  // The optional JSON body comes prefilled with its example; empty it so the message goes as the seed's query parameter.
  const body = op.locator('textarea.body-param__text');
  if ((await body.count()) > 0) await body.fill('');
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table tbody tr.response');
  await live.waitFor();
  const status = (await live.locator('.response-col_status').innerText()).trim();
  const text = await live.locator('.response-col_description .highlight-code code').first().innerText();
  return { op, status, body: JSON.parse(text) };
}

describe('/docs in headless Chromium', () => {
  let t: TestApp;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const failedRequests: string[] = [];
  const apiRequests: string[] = [];

  beforeAll(async () => {
    t = await startApp();
    mkdirSync(artifacts, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'mk-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('requestfailed', (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/topics/')) apiRequests.push(`${r.method()} ${r.url().slice(t.url.length)}`);
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
    if (t) removeDir(t.dataDir);
  });

  it('renders Swagger UI with the API title and the seed operations', async () => {
    await page.goto(`${t.url}/docs`);
    await page.locator('#operations-messages-produceMessage').waitFor();
    expect(await page.title()).toBe('mini-kafka API');
    expect(await page.locator('.info .title').innerText()).toContain('mini-kafka');
    expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(13);
    await page.screenshot({ path: join(artifacts, 'docs-overview.png') });
  }, 60_000);

  it('produceMessage: Try it out with topic and message, Execute, reads {"message_id": 0} from the page', async () => {
    const { op, status, body } = await tryItOut(page, 'produceMessage', { topic: 'browser-topic', message: 'Hello from Chromium' });
    expect(status).toBe('200');
    expect(body).toEqual({ message_id: 0 });
    expect(apiRequests).toContain('POST /topics/browser-topic/messages?message=Hello%20from%20Chromium');
    await op.screenshot({ path: join(artifacts, 'docs-produce.png') });
  }, 60_000);

  it('pollMessage: Try it out with topic and consumer_id, Execute, reads the message from the page', async () => {
    const { op, status, body } = await tryItOut(page, 'pollMessage', { topic: 'browser-topic', consumer_id: 'browser' });
    expect(status).toBe('200');
    expect(body).toEqual({ message_id: 0, data: 'Hello from Chromium' });
    // Swagger UI also sends the documented default, partition=0.
    expect(apiRequests.filter((r) => r.startsWith('GET /topics/browser-topic/messages?consumer_id=browser'))).toHaveLength(1);
    await op.screenshot({ path: join(artifacts, 'docs-poll.png') });
  }, 60_000);

  it('loaded everything from the broker itself, without page errors', () => {
    expect(pageErrors).toEqual([]);
    expect(failedRequests).toEqual([]);
  });
});
