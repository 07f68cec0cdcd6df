/**
 * The dashboard in a real headless Chromium against the whole product (API +
 * worker + delivery) and a loopback receiver: log in through the form, watch
 * a task complete, open it, resend its callback, then save the screenshot
 * used by the README (docs/img/dashboard.png).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';

const CHROMIUM = '/usr/bin/chromium';

/**
 * What the page functions below use of the browser's globals: this file is
 * type-checked without the DOM library, and the page's CSP forbids string
 * expressions (no 'unsafe-eval'), so they are functions over this shape.
 */
interface PageGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
}
// The README's screenshot is rewritten only on request (UPDATE_SCREENSHOTS=1),
// so a test run does not leave the working tree modified.
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? new URL('../../docs/img/dashboard.png', import.meta.url)
  : pathToFileURL(join(tmpdir(), `taskhook-dashboard-${process.pid}.png`));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * The screenshot should show what an hour of traffic looks like, not a
 * single spike: the last 60 minutes get plausible counters (HINCRBY) in the
 * same hashes the finish and record scripts write, on top of what the
 * test's own tasks add to the current minute.
 */
async function seedHistory(client: Redis, prefix: string): Promise<void> {
  const now = Math.floor(Date.now() / 60_000);
  const p = client.pipeline();
  for (let i = 0; i < 60; i += 1) {
    const m = now - i;
    const wave = Math.sin((m % 60) / 6) + 1;
    const key = `${prefix}:stats:${m}`;
    const debugDone = Math.round(18 + 10 * wave);
    const imageDone = Math.round(8 + 6 * Math.cos((m % 60) / 9) + 6);
    const videoDone = Math.round(2 + 2 * wave);
    const failed = i % 11 === 3 ? 3 : i % 7 === 0 ? 1 : 0;
    const fields: Record<string, number> = {
      'debug:completed': debugDone,
      'debug:failed': failed,
      'image:completed': imageDone,
      'video:completed': videoDone,
      'audio:completed': Math.round(2 + wave),
      'type:debug.echo:n': debugDone,
      'type:debug.echo:le10': debugDone - 2,
      'type:debug.echo:le50': 2,
      'type:image.resize:n': imageDone,
      'type:image.resize:le250': Math.round(imageDone * 0.6),
      'type:image.resize:le500': imageDone - Math.round(imageDone * 0.6) - 1,
      'type:image.resize:le1000': 1,
      'type:video.transcode:n': videoDone,
      'type:video.transcode:le5000': Math.max(0, videoDone - 1),
      'type:video.transcode:le10000': 1,
      'cb:delivered': debugDone + imageDone + videoDone - (i % 13 === 5 ? 4 : 0),
      'cb:retry': i % 13 === 5 ? 4 : i % 5 === 0 ? 1 : 0,
      'cb:failed': i % 13 === 5 ? 1 : 0,
    };
    for (const [field, n] of Object.entries(fields)) if (n > 0) p.hincrby(key, field, n);
    p.pexpire(key, 7_200_000);
  }
  await p.exec();
}

describe('dashboard in a browser', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let client: Redis;
  let stack: Stack;
  let receiver: Receiver;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is required for the dashboard browser test and was not found at ${CHROMIUM}. Install it with: apt-get install -y chromium`);
    }
    redis = await startRedis();
    client = redis.client();
    receiver = await startReceiver();
    stack = await startStack({ redisUrl: redis.url, env: { WORKER_CONCURRENCY: '2' } });
    await seedHistory(client, stack.config.REDIS_PREFIX);
    // A plain launch runs in a fresh temporary profile that Playwright removes on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // CSP violations and script errors show up here: the page must have none.
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
    await receiver?.close();
    client?.disconnect();
    await redis?.destroy();
  });

  async function submit(body: Record<string, unknown>): Promise<string> {
    const r = await stack.post('/api/v1/tasks', body);
    expect(r.status).to.equal(202);
    return r.json.task_id as string;
  }

  it('logs in, follows a task to its callback, resends it, and saves the screenshot', async () => {
    await page.goto(`${stack.url}/dashboard`);
    await page.fill('#api_key', API_KEY);
    await Promise.all([page.waitForURL(`${stack.url}/dashboard`), page.click('button[type="submit"]')]);
    await page.waitForSelector('.queue-card[data-queue="debug"]');

    await submit({ task_type: 'debug.fail', task_data: { message: 'upstream returned 502' }, metadata: { order_id: 7 } });
    const id = await submit({
      task_type: 'debug.echo',
      task_data: { hello: 'world' },
      callback_url: `${receiver.url}/hook`,
      metadata: { order_id: 42, note: '<img src=x onerror=alert(1)>' },
    });
    await page.waitForSelector(`tr[data-task="${id}"] .badge.completed`, { timeout: 15_000 });
    // Work for the screenshot: the debug queue runs 2 at once, so two sleeps run and one waits.
    for (let i = 0; i < 3; i += 1) await submit({ task_type: 'debug.sleep', task_data: { ms: 30_000 } });

    await page.click(`tr[data-task="${id}"] a`);
    await page.waitForSelector(`[data-task-id="${id}"]`);
    await page.waitForSelector('li.attempt[data-outcome="delivered"]', { timeout: 10_000 });
    expect(await page.locator('li.attempt').count()).to.equal(1);
    // User input is rendered as text, never as markup.
    expect(await page.locator('pre.json').allTextContents()).to.satisfy((texts: string[]) => texts.some((t) => t.includes('<img src=x onerror=alert(1)>')));
    expect(await page.locator('img').count()).to.equal(0);

    await receiver.waitFor(1);
    await page.click('button[data-action="resend callback"]');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('li.attempt[data-outcome="delivered"]').length === 2, undefined, { timeout: 10_000 });
    const received = await receiver.waitFor(2);
    expect(received).to.have.length(2);
    expect(received[1]?.headers['webhook-id']).to.equal(received[0]?.headers['webhook-id']);
    expect(received[1]?.json.task_id).to.equal(id);

    // Back to the overview: wait until a worker shows its running tasks (heartbeats are every 5 s) and the charts drew.
    await page.click('a.brand');
    await page.waitForSelector('.worker-task .progress', { timeout: 12_000 });
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as PageGlobals).document;
      return doc.querySelectorAll('.chart canvas').length === 3 && doc.querySelectorAll('svg.spark').length === 4;
    });
    await page.waitForSelector(`tr[data-task="${id}"] .cb .badge.delivered`);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('.toast.show').length === 0, undefined, { timeout: 6000 });
    await page.waitForTimeout(400); // the toast's fade-out
    mkdirSync(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });

    const png = readFileSync(SCREENSHOT);
    if (!process.env.UPDATE_SCREENSHOTS) rmSync(SCREENSHOT, { force: true });
    expect(png.subarray(1, 4).toString('latin1')).to.equal('PNG');
    expect(png.readUInt32BE(16)).to.equal(1280); // width from the IHDR chunk
    expect(png.length).to.be.greaterThan(30_000).and.lessThan(3_000_000);
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
