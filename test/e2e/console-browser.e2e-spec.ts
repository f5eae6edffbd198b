// /console in a real browser: Debian's Chromium driven by playwright-core, against a broker with API keys on. The
// page asks for a key, creates a topic, produces from its form and sees the message arrive in the live tail (SSE
// read with fetch, the key in a header), pauses and resumes the tail without losing or repeating messages, seeks a
// consumer, and shows consumer groups. Screenshots go to test/artifacts/ (gitignored). Needs /usr/bin/chromium.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const artifacts = resolve(__dirname, '../artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
const KEY = 'console-admin-key-0123456789';
const KEYS = [{ name: 'console', key: KEY, rights: [{ topics: '*', actions: ['produce', 'consume', 'admin'] }] }];

describe('/console in headless Chromium', () => {
  let t: TestApp;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const failedRequests: string[] = [];
  const requests: Array<{ url: string; headers: Record<string, string> }> = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const tailTexts = () => page.locator('#tail .msg pre').allInnerTexts();

  beforeAll(async () => {
    t = await startApp({ AUTH_KEYS: JSON.stringify(KEYS), STREAM_HEARTBEAT_MS: '1000' });
    mkdirSync(artifacts, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'mk-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 960 },
      colorScheme: 'light',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('requestfailed', (r) => {
      // Leaving a page or pausing the tail aborts its stream on purpose.
      if (!(r.url().includes('/stream') && r.failure()?.errorText === 'net::ERR_ABORTED')) failedRequests.push(`${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
    page.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
    if (t) removeDir(t.dataDir);
  });

  it('asks for the API key, keeps it in localStorage, then lists topics', async () => {
    await page.goto(`${t.url}/console`);
    expect(await page.title()).toBe('mini-kafka console');
    await page.locator('#banner:not([hidden])').waitFor();
    expect(await page.locator('#banner').innerText()).toContain('requires an API key');
    await page.fill('#api-key', KEY);
    await page.click('#key-form button');
    await page.locator('#banner').waitFor({ state: 'hidden' });
    await page.getByText('No topics yet').waitFor();
    expect(await page.evaluate(() => localStorage.getItem('mini-kafka.apiKey'))).toBe(KEY);
    expect(await page.locator('#health').innerText()).toContain('ready');
  }, 60_000);

  it('creates a topic from the page and opens it with the live tail connected', async () => {
    await page.fill('#create-topic input[name=name]', 'orders');
    await page.fill('#create-topic input[name=partitions]', '3');
    await page.click('#create-topic button[type=submit]');
    await page.waitForURL(/#\/topics\/orders$/);
    await page.locator('.tail[data-state=live]').waitFor();
    const topic = await api('GET', '/topics/orders');
    expect(topic.body).toMatchObject({ name: 'orders', partitions: 3 });
    expect(await page.locator('.crumbs h1').innerText()).toBe('orders');
  }, 60_000);

  it('produces from the form and the message arrives in the live tail', async () => {
    await page.fill('#produce-value', 'Hello from Chromium');
    await page.fill('#produce-key', 'customer-17');
    await page.fill('#produce-headers', 'source=console, trace=abc123');
    await page.click('#produce-send');
    await page.locator('#tail .msg pre', { hasText: 'Hello from Chromium' }).waitFor();
    expect(await page.locator('#produce-result').innerText()).toMatch(/^Stored: partition \d, offset 0$/);
    const row = page.locator('#tail .msg').first();
    expect(await row.innerText()).toContain('customer-17');
    expect(await row.innerText()).toContain('source: console');

    await page.click('.seg button:has-text("JSON")');
    await page.fill('#produce-value', '{"order": 42, "items": ["book", "pen"]}');
    await page.fill('#produce-key', '');
    await page.fill('#produce-headers', '');
    await page.press('#produce-value', 'Control+Enter');
    await page.locator('#tail .msg pre', { hasText: '"order": 42' }).waitFor();
    expect((await tailTexts())[0]).toBe('{\n  "order": 42,\n  "items": [\n    "book",\n    "pen"\n  ]\n}');
  }, 60_000);

  it('pauses the tail and resumes it with Last-Event-ID: what was produced meanwhile shows up once', async () => {
    await page.click('.tail .card-head button:has-text("Pause")');
    await page.locator('.tail[data-state=paused]').waitFor();
    for (let i = 0; i < 5; i++) expect((await api('POST', '/topics/orders/messages', { message: `while paused ${i}`, key: `k${i}` })).status).toBe(200);
    await page.click('.tail .card-head button:has-text("Resume")');
    await page.locator('#tail .msg pre', { hasText: 'while paused 4' }).waitFor();
    await page.locator('.tail[data-state=live]').waitFor();
    const texts = await tailTexts();
    const paused = texts.filter((x) => x.startsWith('while paused'));
    expect(paused.sort()).toEqual(['while paused 0', 'while paused 1', 'while paused 2', 'while paused 3', 'while paused 4']);
    expect(texts).toHaveLength(7);
    const resumed = requests.filter((r) => r.url.includes('/topics/orders/stream')).at(-1)!;
    expect(resumed.headers['last-event-id']).toMatch(/^0:\d+,1:\d+,2:\d+$/);
  }, 60_000);

  it('seeks a consumer from the page and shows its lag', async () => {
    for (let p = 0; p < 3; p++) await api('PUT', `/topics/orders/consumers/billing?partition=${p}`, { position: 'end' });
    await page.locator('td', { hasText: 'billing' }).first().waitFor();
    const end = (await api('GET', '/topics/orders/consumers/billing?partition=0')).body.offset;
    expect(end).toBeGreaterThan(0);
    await page.fill('#seek-consumer', 'billing');
    await page.selectOption('#seek-partition', '0');
    await page.selectOption('#seek-target', 'beginning');
    await page.click('#seek-form button[type=submit]');
    await page.locator('.toast', { hasText: 'billing on P0 now at offset 0' }).waitFor();
    expect((await api('GET', '/topics/orders/consumers/billing?partition=0')).body).toMatchObject({ offset: 0, lag: end });
  }, 60_000);

  it('shows consumer groups with leases in flight and dead-letter counts (when the broker has groups)', async () => {
    const doc = (await (await fetch(`${t.url}/docs-json`)).json()) as { paths: Record<string, unknown> };
    if (!doc.paths['/topics/{topic}/groups']) {
      await page.locator('#groups', { hasText: 'not available on this broker' }).waitFor();
      return;
    }
    expect((await api('PUT', '/topics/orders/groups/shipping', {})).status).toBeLessThan(300);
    const received = await api('GET', '/topics/orders/groups/shipping/messages?max=2');
    expect(received.status).toBe(200);
    const leased = received.body.messages.length;
    await page.locator('#groups .group[data-group=shipping] .pill', { hasText: `${leased} in flight` }).waitFor();
    expect(await page.locator('#groups .group[data-group=shipping]').innerText()).toContain('dead-lettered');
  }, 60_000);

  it('lists the topic with partitions, size, messages, a throughput sparkline and consumer lag; saves screenshots', async () => {
    await page.locator('#tail .msg').first().waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await page.locator('.toast').first().waitFor({ state: 'detached' });
    await page.screenshot({ path: join(artifacts, 'console-topic.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(artifacts, 'console-topic-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    await page.click('a.brand');
    await page.locator('tr[data-topic=orders]').waitFor();
    await api('POST', '/topics', { name: 'payments', partitions: 1 });
    // Traffic between two polls, so the sparklines have something to draw.
    for (let i = 0; i < 3; i++) {
      await api('POST', '/topics/orders/messages/batch', { messages: Array.from({ length: 20 * (i + 1) }, (_, k) => ({ message: `bulk ${k}` })) });
      await api('POST', '/topics/payments/messages', { message: `payment ${i}` });
      await page.waitForTimeout(2100);
    }
    const row = page.locator('tr[data-topic=orders]');
    const cells = await row.locator('td').allInnerTexts();
    expect(cells[0]).toBe('orders');
    expect(cells[1]).toBe('3');
    const stored = (await api('GET', '/topics/orders')).body.message_count;
    expect(cells[2]).toBe(stored.toLocaleString('en-US'));
    expect(cells[3]).toMatch(/\d+(\.\d)? (B|KiB)/);
    expect(cells[4]).toMatch(/\/s$/);
    expect(await row.locator('svg.spark polyline').count()).toBe(1);
    expect(cells[5]).toBe('1'); // billing
    expect(Number(cells[6].replace(/,/g, ''))).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, 'console-topics.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(artifacts, 'console-topics-dark.png'), fullPage: true });
  }, 60_000);

  it('sent the key only as the X-API-Key header, never in a URL, and loaded everything from the broker without errors', () => {
    expect(requests.some((r) => r.url.includes(KEY))).toBe(false);
    const streams = requests.filter((r) => r.url.includes('/stream'));
    expect(streams.length).toBeGreaterThan(0);
    for (const r of streams) expect(r.headers['x-api-key']).toBe(KEY);
    expect(requests.every((r) => r.url.startsWith(t.url) || r.url.startsWith('data:'))).toBe(true);
    expect(pageErrors).toEqual([]);
    expect(failedRequests).toEqual([]);
  });
});
