// The operator console in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core)
// against the real stack: gateway, worker, dispatcher, Postgres and Temporal. Screenshots of each
// view land in test-artifacts/console/ (not committed).
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { inject } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWorkflowId } from '../../workflows/ids.ts';
import { STATUSES } from '../../workflows/model.ts';
import { startDispatcher, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { createHarness, eventually, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const ARTIFACTS = new URL('../../test-artifacts/console/', import.meta.url);
/** Debian's package puts it here; VIGIL_CHROMIUM points elsewhere (`.ci/run` installs the package when it is missing). */
const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const TEMPORAL_UI = 'http://temporal-ui.test:8233';

describe('operator console in a real browser', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  let dispatcher: RunningDispatcher;
  let browser: Browser;
  let page: Page;
  const sockets: RawClient[] = [];
  const agents = ['c-ana', 'c-ben', 'c-cat'];

  const shot = async (name: string) => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
  };
  const api = async (path: string, role: 'admin' | 'supervisor' = 'admin') => {
    const r = await fetch(`${gw.http}${path}`, {
      headers: { authorization: `Bearer ${await gw.token('console-test', role)}` },
    });
    return r.json();
  };
  const text = (selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);
  const rowStatus = (agentId: string) =>
    page
      .$eval(`tr[data-agent="${agentId}"] td[data-col="status"]`, (e) => (e as HTMLElement).innerText)
      .catch(() => '');

  /** How far the page reaches past the viewport, and what does: wide tables scroll inside their own box (.table-wrap), the page itself must not. */
  const overflow = () =>
    page.evaluate(() => ({
      page: document.documentElement.scrollWidth - window.innerWidth,
      culprits: Array.from(document.querySelectorAll('body *'))
        .filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    }));

  /** Connects an agent's workbench over the websocket and sends one work-status event. */
  const connect = async (agentId: string) => {
    const c = await rawClient(gw.ws);
    c.send({ type: 'hello', token: await gw.token(agentId), deviceId: `${agentId}-pc`, modules: [] });
    await c.next('welcome');
    sockets.push(c);
    return c;
  };
  const workStatus = (c: RawClient, status: string) =>
    c.send({ type: 'events', events: [{ reqId: `ws-${Math.random()}`, type: 2, ts: Date.now(), data: { status } }] });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set VIGIL_CHROMIUM`,
      );
    }
    h = await createHarness('console');
    // Windows long enough that nothing changes by itself while the test looks.
    await setRule(h, 'default', {
      windows: {
        idleAfterNoTaskSec: 3600,
        remindAfterNoActionSec: 3600,
        abnormalAfterNoActionSec: 7200,
        offlineAfterAbnormalSec: 3600,
      },
    });
    w = await h.startWorker();
    dispatcher = await startDispatcher({
      pool: h.pool,
      databaseUrl: inject('databaseUrl'),
      lanes: { webhooks: false },
    });
    // Input health judged every second, so the Input view has its business lines soon.
    gw = await startGateway(h, { inputFlushMs: 500, inputEvalMs: 1000 }, { temporalUiUrl: TEMPORAL_UI });
    for (const [i, a] of agents.entries()) {
      await fetch(`${gw.http}/v1/agents/${a}`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${await gw.token('console-test', 'admin')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          displayName: `Agent ${a.slice(2)}`,
          businessLine: i < 2 ? 'retail' : 'claims',
          skillGroups: ['voice'],
        }),
      });
      await connect(a);
    }
    // ONLINE → BUSY for one of them, so the floor has more than one status.
    workStatus(sockets[1]!, 'BUSY');
    await eventually(async () => (await api(`/v1/agents/${agents[1]}`)).status === 'BUSY', 20_000, 'c-ben BUSY');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
  });

  afterAll(async () => {
    await browser?.close();
    for (const s of sockets) s.socket.close();
    await gw?.close();
    await dispatcher?.stop();
    await w?.stop();
    await h?.close();
  });

  it('logs in from the printed link and shows the floor with the counts the API has', async () => {
    await page.goto(`${gw.http}/console/#token=${await gw.token('console-test', 'admin')}`);
    await page.waitForSelector('tr[data-agent="c-ana"]');
    // The token left the address bar for session storage.
    expect(page.url()).toBe(`${gw.http}/console/`);
    const floor = await api('/v1/floor');
    for (const s of STATUSES) {
      expect(await text(`.tile[data-status="${s}"] .count`), s).toBe(String(floor.byStatus[s]));
    }
    expect(floor.byStatus.BUSY).toBeGreaterThanOrEqual(1);
    expect(await text('.groups')).toContain('retail');
    await shot('floor');
    // A tablet width still fits without sideways scrolling of the page.
    await page.setViewport({ width: 768, height: 1024 });
    expect(await overflow(), 'wider than a tablet').toEqual({ page: 0, culprits: [] });
    await shot('floor-tablet');
    await page.setViewport({ width: 1280, height: 720 });
  });

  it('shows a status change made over the websocket within 2 s of its commit, without a reload', async () => {
    await page.waitForSelector('.live-live');
    expect(await rowStatus('c-ana')).toMatch(/^ONLINE/);
    const sent = Date.now();
    workStatus(sockets[0]!, 'BUSY');
    await page.waitForFunction(
      () => document.querySelector('tr[data-agent="c-ana"] td[data-col="status"]')?.textContent?.startsWith('BUSY'),
      { timeout: 20_000 },
    );
    const shown = Date.now();
    const committed = Date.parse((await api('/v1/agents/c-ana')).since);
    console.log(`console live update: commit→row ${shown - committed} ms, frame→row ${shown - sent} ms`);
    expect(shown - committed).toBeLessThanOrEqual(2000);
  });

  it('opens an agent from the keyboard, links its workflow in the Temporal UI, and commits a supervisor override', async () => {
    await page.focus('tr[data-agent="c-cat"] button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-temporal-link]');
    const href = await page.$eval('[data-temporal-link]', (a) => a.getAttribute('href'));
    const workflowId = agentWorkflowId(h.tenant, 'c-cat');
    expect(href).toBe(`${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
    await expect(h.client.workflow.getHandle(workflowId).describe()).resolves.toBeTruthy();
    await page.waitForSelector('[data-live]');
    await page.select('.status-form select[name="status"]', 'OFFLINE');
    await page.type('.status-form input[name="reason"]', 'end of shift');
    await page.click('.status-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('.notice')?.textContent?.includes('Committed: OFFLINE'), {
      timeout: 20_000,
    });
    const after = await api('/v1/agents/c-cat');
    expect(after).toMatchObject({ status: 'OFFLINE', cause: 'SUPERVISOR' });
    await shot('drawer');
    await page.keyboard.press('Escape');
    await page.waitForSelector('.drawer', { hidden: true });
  });

  it("shows HCM's rejection and its reason in the timeline", async () => {
    // HCM commits only agents of its own region: this one now belongs to another region.
    await h.pool.query(`UPDATE agents SET region = 'elsewhere' WHERE tenant = $1 AND agent_id = 'c-ana'`, [h.tenant]);
    // Clicked through the DOM, not at coordinates: the floor re-sorts as c-cat's override arrives, and a
    // click at a row's old position would open another agent.
    await page.$eval('tr[data-agent="c-ana"] button', (b) => b.click());
    await page.waitForFunction(() => document.querySelector('#drawer-h')?.textContent === 'c-ana');
    await page.waitForSelector('.status-form');
    await page.select('.status-form select[name="status"]', 'ONLINE');
    await page.click('.status-form button[type="submit"]');
    await page.waitForFunction(
      () => document.querySelector('.status-form .error')?.textContent?.includes('REGION_NOT_OWNER'),
      { timeout: 20_000 },
    );
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.timeline tr[data-kind="reject"]')).some((r) =>
          r.textContent?.includes('BUSY→ONLINE: REGION_NOT_OWNER'),
        ),
      { timeout: 20_000 },
    );
    await shot('drawer-rejection');
    await page.keyboard.press('Escape');
  });

  it("shows a rule edit's bad value on its field", async () => {
    await page.click('nav[aria-label="Views"] button:nth-child(2)');
    await page.waitForSelector('table.rules button');
    await page.click('table.rules button');
    await page.waitForSelector('#idleAfterNoTaskSec');
    await page.click('#idleAfterNoTaskSec', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type('#idleAfterNoTaskSec', '0');
    expect(await page.$eval('#idleAfterNoTaskSec', (e) => (e as HTMLInputElement).value)).toBe('0');
    await page.click('.rule-editor button[type="submit"]');
    await page.waitForSelector('#idleAfterNoTaskSec-error, .rule-editor .error', { timeout: 10_000 });
    expect(await page.$eval('.rule-editor', (e) => e.querySelector<HTMLElement>('.error')?.innerText ?? '')).toBe('');
    expect(await text('#idleAfterNoTaskSec-error')).toMatch(/idleAfterNoTaskSec/);
    expect(await page.$eval('#idleAfterNoTaskSec', (e) => e.getAttribute('aria-invalid'))).toBe('true');
    await shot('rules');
    // Nothing was saved: the rule keeps its version.
    expect(
      (await api('/v1/rules')).rules.find((r: { ruleId: string }) => r.ruleId === 'default').windows.idleAfterNoTaskSec,
    ).toBe(3600);
  });

  it('shows input health per business line; an admin forces degrade on for one with a reason, then gives it back to auto', async () => {
    type Scope = { businessLine: string; state: string; forced: string | null; forcedBy: string | null };
    const scope = async (line: string): Promise<Scope | undefined> =>
      (await api('/v1/health/input')).scopes.find((s: Scope) => s.businessLine === line);
    const state = () => text('tr[data-line="retail"] td[data-col="state"]').catch(() => '');
    const form = 'form.override-form[data-line="retail"]';
    await page.$eval('nav[aria-label="Views"] button:nth-child(4)', (b) => (b as HTMLElement).click());
    // The evaluator writes a verdict for each line with connected agents.
    await page.waitForSelector('tr[data-line="retail"]', { timeout: 20_000 });
    await page.waitForSelector('tr[data-line="claims"]');
    expect(await state()).not.toMatch(/forced/);
    expect(await text('table.scopes')).not.toContain('whole tenant');

    // Open the line's form (through the DOM: the table refreshes under the pointer). Without a reason
    // the form refuses on the field and sends nothing.
    await page.$eval('tr[data-line="retail"] button.override', (b) => (b as HTMLElement).click());
    await page.waitForSelector('#ovr-retail-reason');
    await page.select(`${form} select[name="mode"]`, 'on');
    await page.$eval(`${form} button[type="submit"]`, (b) => (b as HTMLElement).click());
    await page.waitForSelector('#ovr-retail-reason-error');
    expect(await text('#ovr-retail-reason-error')).toMatch(/reason is required/);
    expect(await page.$eval('#ovr-retail-reason', (e) => e.getAttribute('aria-invalid'))).toBe('true');
    expect((await scope('retail'))?.forced).toBeNull();

    await page.type('#ovr-retail-reason', 'upstream cutover');
    await page.$eval(`${form} button[type="submit"]`, (b) => (b as HTMLElement).click());
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-line="retail"] td[data-col="state"]')?.textContent === 'forced on' &&
        document.querySelector('table.input-log')?.textContent?.includes('upstream cutover'),
      { timeout: 20_000 },
    );
    expect(await page.$(form)).toBeNull();
    expect(await text('tr[data-line="retail"]')).toContain('admin:console-test');
    // The other line is untouched; the API agrees, with who and why.
    expect(await text('tr[data-line="claims"] td[data-col="state"]')).not.toMatch(/forced/);
    expect(await scope('retail')).toMatchObject({
      state: 'forced on',
      holding: true,
      forced: 'on',
      forcedBy: 'admin:console-test',
      forcedReason: 'upstream cutover',
    });
    expect((await api('/v1/health/input')).log[0]).toMatchObject({
      businessLine: 'retail',
      change: 'forced on',
      actor: 'admin:console-test',
      reason: 'upstream cutover',
    });
    await shot('input');
    await page.setViewport({ width: 768, height: 1024 });
    expect(await overflow(), 'wider than a tablet').toEqual({ page: 0, culprits: [] });
    await shot('input-tablet');
    await page.setViewport({ width: 1280, height: 720 });

    // Back to the evaluator: the form offers 'auto' for a forced line.
    await page.$eval('tr[data-line="retail"] button.override', (b) => (b as HTMLElement).click());
    await page.waitForSelector('#ovr-retail-reason');
    expect(await page.$eval(`${form} select[name="mode"]`, (e) => e.value)).toBe('auto');
    await page.type('#ovr-retail-reason', 'cutover done');
    await page.$eval(`${form} button[type="submit"]`, (b) => (b as HTMLElement).click());
    await page.waitForFunction(
      () =>
        !document.querySelector('tr[data-line="retail"] td[data-col="state"]')?.textContent?.startsWith('forced') &&
        document.querySelector('table.input-log')?.textContent?.includes('cutover done'),
      { timeout: 20_000 },
    );
    // Leaving a forced hold starts the recovery grace, as after an automatic recovery.
    expect(await scope('retail')).toMatchObject({
      forced: null,
      state: expect.stringMatching(/^(recovering|healthy)$/),
    });
    expect((await api('/v1/health/input')).log[0]).toMatchObject({
      businessLine: 'retail',
      change: 'automatic',
      actor: 'admin:console-test',
      reason: 'cutover done',
    });

    // A supervisor reads the same view and is offered no override.
    const other = await browser.newPage();
    await other.goto(`${gw.http}/console/#token=${await gw.token('console-sup', 'supervisor')}`);
    await other.waitForSelector('nav[aria-label="Views"] button');
    await other.$$eval('nav[aria-label="Views"] button', (bs) => bs.find((b) => b.textContent === 'Input')?.click());
    await other.waitForSelector('tr[data-line="retail"]', { timeout: 20_000 });
    expect(await other.$('button.override')).toBeNull();
    expect(await other.$('form.override-form')).toBeNull();
    await other.close();
  });

  it('lists webhooks for an admin, and refuses an agent token outright (no status change on offer)', async () => {
    await page.click('nav[aria-label="Views"] button:nth-child(3)');
    await page.waitForSelector('table.webhooks');
    // Create one through the form (a public address: private ones are refused), then disable it.
    await page.type('#wh-id', 'console-hook');
    await page.type('#wh-url', 'https://93.184.216.34/hook');
    await page.type('#wh-secret', 'console-test-secret-0123456789');
    await page.click('.webhook-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('table.webhooks')?.textContent?.includes('console-hook'));
    await page.click('table.webhooks tbody tr button');
    await eventually(
      async () =>
        (await api('/v1/webhooks')).webhooks.find((x: { id: string }) => x.id === 'console-hook')?.enabled === false,
      10_000,
      'console-hook disabled',
    );
    await page.waitForFunction(() =>
      document.querySelector('table.webhooks tbody tr')?.textContent?.includes('disabled'),
    );
    await shot('webhooks');

    const other = await browser.newPage();
    await other.goto(`${gw.http}/console/#token=${await gw.token('c-ana', 'agent')}`);
    await other.waitForSelector('.login .error');
    expect(await other.$eval('.login .error', (e) => (e as HTMLElement).innerText)).toMatch(
      /agent token cannot use the console/,
    );
    expect(await other.$('.status-form')).toBeNull();
    await other.close();
  });
});
