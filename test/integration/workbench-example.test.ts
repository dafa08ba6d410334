// The example workbench (examples/workbench/, served at /examples/workbench/) in a real headless
// Chromium against the real stack: the page loads the SDK's browser bundle from the gateway,
// connects with an agent's token, reports its clicks, sets a work status, and shows a supervisor's
// status change that arrives as a push. Screenshots land in test-artifacts/workbench/ (not committed).
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDispatcher, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { createHarness, eventually, QUIET_WINDOWS, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { launchChromium, screenshot } from './browser.ts';
import { startGateway, type TestGateway } from './gateway-helpers.ts';

const AGENT = 'wb-ana';

describe('the example workbench in a real browser', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  let dispatcher: RunningDispatcher;
  let browser: Browser;
  let page: Page;
  /** What the page reported as broken: uncaught errors, console errors (CSP violations land there), failed requests. */
  const problems: string[] = [];

  const shot = (name: string) => screenshot(page, 'workbench', name);
  const agentState = async () => {
    const r = await fetch(`${gw.http}/v1/agents/${AGENT}`, {
      headers: { authorization: `Bearer ${await gw.token('wb-sup', 'supervisor')}` },
    });
    return r.json();
  };
  const text = (id: string) => page.$eval(`#${id}`, (e) => (e as HTMLElement).innerText);
  const count = async (id: string) => Number(await text(id));
  const waitStatus = (status: string) => page.waitForSelector(`#status[data-status="${status}"]`, { timeout: 20_000 });

  beforeAll(async () => {
    h = await createHarness('workbench');
    await setRule(h, 'default', { windows: QUIET_WINDOWS });
    w = await h.startWorker();
    // The push lane delivers committed status changes to the agent's devices.
    dispatcher = await startDispatcher({
      pool: h.pool,
      databaseUrl: inject('databaseUrl'),
      lanes: { webhooks: false },
    });
    gw = await startGateway(h);
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1024, height: 768 });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await dispatcher?.stop();
    await w?.stop();
    await h?.close();
  });

  it('connects with the token from its link and shows the agent ONLINE', async () => {
    await page.goto(`${gw.http}/examples/workbench/#token=${await gw.token(AGENT)}`);
    await page.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
    // The token left the address bar for session storage.
    expect(page.url()).toBe(`${gw.http}/examples/workbench/`);
    expect(await text('agent')).toBe(AGENT);
    await waitStatus('ONLINE');
    // One button per status an agent may set itself.
    const buttons = await page.$$eval('#work-statuses button', (bs) => bs.map((b) => b.textContent));
    expect(buttons).toEqual(['ONLINE', 'BUSY', 'OFFLINE']);
    await eventually(async () => (await agentState()).status === 'ONLINE', 20_000, 'committed ONLINE');
  });

  it('reports its clicks (captureDom), and every one is accepted', async () => {
    await page.waitForFunction(() => document.querySelector('#unacked')?.textContent === '0', { timeout: 20_000 });
    const before = { accepted: await count('accepted'), rejected: await count('rejected') };
    const clickedAt = Date.now();
    for (let i = 0; i < 5; i++) await page.click('#work-h');
    await page.waitForFunction(
      (n) => Number(document.querySelector('#accepted')?.textContent) >= n,
      { timeout: 20_000 },
      before.accepted + 5,
    );
    expect(await count('rejected')).toBe(before.rejected);
    await page.waitForFunction(() => document.querySelector('#unacked')?.textContent === '0', { timeout: 20_000 });
    // Vigil saw the agent act: its last action is one of these clicks.
    await eventually(
      async () => Date.parse((await agentState()).lastActionAt ?? '') >= clickedAt - 1000,
      20_000,
      'lastActionAt moved to the clicks',
    );
  });

  it('opens and completes a ticket with its buttons', async () => {
    await page.click('#ticket-open');
    expect(await text('ticket')).toBe('T-1 open');
    await eventually(async () => (await agentState()).taskCount === 1, 20_000, 'one task open');
    await page.click('#ticket-reply');
    await page.click('#ticket-complete');
    await eventually(async () => (await agentState()).taskCount === 0, 20_000, 'the task completed');
    expect(await count('rejected')).toBe(0);
  });

  it("sets a work status with its buttons, and shows a supervisor's change that arrives as a push", async () => {
    await page.click('#work-statuses button[data-status="BUSY"]');
    await waitStatus('BUSY');
    expect(await page.$eval('#work-statuses button[data-status="BUSY"]', (b) => b.getAttribute('aria-pressed'))).toBe(
      'true',
    );
    // The committed state (GET /v1/agents/:id is served from a 500 ms cache).
    await eventually(async () => (await agentState()).status === 'BUSY', 5_000, 'committed BUSY');

    const r = await fetch(`${gw.http}/v1/agents/${AGENT}/status`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${await gw.token('wb-sup', 'supervisor')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ status: 'ONLINE', reason: 'back to the queue' }),
    });
    expect(r.status).toBe(200);
    const committed = await r.json();
    expect(committed).toMatchObject({ status: 'ONLINE', cause: 'SUPERVISOR' });
    await waitStatus('ONLINE');
    const shown = Date.now();
    console.log(`example workbench: supervisor commit → page ${shown - Date.parse(committed.since)} ms`);
    expect(await text('cause')).toBe('cause SUPERVISOR');
    const feed = await page.$$eval('#feed li[data-topic="status"]', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(feed[0]).toContain('status: ONLINE (SUPERVISOR)');
    expect(feed.some((l) => l.includes('status: BUSY'))).toBe(true);
    // It came over the websocket: the page never fell back to polling.
    expect(await page.$eval('#state', (e) => e.getAttribute('data-state'))).toBe('open');
    await shot('workbench');
  });

  it('keeps its token and device across a reload, and loaded without errors', async () => {
    const device = await text('device');
    await page.reload();
    await page.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
    expect(await text('device')).toBe(device);
    await waitStatus('ONLINE');
    expect(problems).toEqual([]);
  });
});
