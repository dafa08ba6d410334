// The operator console in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core)
// against the real stack: gateway, worker, dispatcher, Postgres and Temporal. Screenshots of each
// view land in test-artifacts/console/ (not committed).
import { inject } from 'vitest';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWorkflowId } from '../../workflows/ids.ts';
import { EventType, STATUSES } from '../../workflows/model.ts';
import { startDispatcher, type RunningDispatcher } from '../../workers/dispatcher.ts';
import { createHarness, eventually, QUIET_WINDOWS, setRule, type Harness, type RunningWorker } from '../harness.ts';
import { launchChromium, screenshot } from './browser.ts';
import { rawClient, startGateway, type RawClient, type TestGateway } from './gateway-helpers.ts';

const TEMPORAL_UI = 'http://temporal-ui.test:8233';

describe('operator console in a real browser', () => {
  let h: Harness;
  let w: RunningWorker;
  let gw: TestGateway;
  let dispatcher: RunningDispatcher;
  let browser: Browser;
  let page: Page;
  const sockets: RawClient[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  const agents = ['c-ana', 'c-ben', 'c-cat'];

  const shot = (name: string) => screenshot(page, 'console', name);
  const api = async (path: string, role: 'admin' | 'supervisor' = 'admin') => {
    const r = await fetch(`${gw.http}${path}`, {
      headers: { authorization: `Bearer ${await gw.token('console-test', role)}` },
    });
    return r.json();
  };
  /** An admin's write; answers the status and body. */
  const send = async (method: string, path: string, body: unknown) => {
    const r = await fetch(`${gw.http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await gw.token('console-test', 'admin')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  };
  /** Clicks the view tab with this label, through the DOM (the nav re-renders under the pointer). */
  const openTab = (p: Page, label: string) =>
    p.$$eval('nav[aria-label="Views"] button', (bs, l) => bs.find((b) => b.textContent === l)?.click(), label);
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
    h = await createHarness('console');
    // Windows long enough that nothing changes by itself while the test looks. The fleet part (one
    // rule for both: a second one would change which rule people get) is short, for the Fleet view:
    // MISSING after 2 s without a heartbeat, the whole ladder within 2 s more.
    await setRule(h, 'default', {
      windows: QUIET_WINDOWS,
      fleet: {
        heartbeatSec: 1,
        missingAfterBeats: 2,
        limits: { cpu: 0.9 },
        ladder: [
          { step: 'restart', afterSec: 0 },
          { step: 'replace', afterSec: 1 },
          { step: 'alert', afterSec: 1 },
        ],
        stepTimeoutSec: 2,
        stepAttempts: 1,
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
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
  });

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
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
    // A good value saves a new version, and the parts the form does not show (fleet) are kept.
    const before = (await api('/v1/rules')).rules.find((r: { ruleId: string }) => r.ruleId === 'default');
    await page.click('#idleAfterNoTaskSec', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type('#idleAfterNoTaskSec', '3600');
    await page.click('.rule-editor button[type="submit"]');
    await page.waitForFunction(
      (v) => document.querySelector('main.admin [role="status"]')?.textContent === `Saved default as version ${v}.`,
      { timeout: 10_000 },
      before.version + 1,
    );
    const after = (await api('/v1/rules')).rules.find((r: { ruleId: string }) => r.ruleId === 'default');
    expect(after).toMatchObject({ version: before.version + 1, windows: before.windows, fleet: before.fleet });
    expect(after.fleet.missingAfterBeats).toBe(2);
  });

  it('simulates the rule being edited over the recorded activity and shows the summary the API has', async () => {
    // The agents connected and sent work status at the start, seconds ago: a 1 s ABNORMAL window
    // (the reminder must not come after it) replays that activity into transitions the rule in
    // force (2 h) never made, once the range ends 2 s after the last of it.
    await new Promise((r) => setTimeout(r, 2000));
    await openTab(page, 'Rules');
    await page.waitForSelector('table.rules button');
    await page.$$eval('table.rules button', (bs) => bs.find((b) => b.textContent === 'default')?.click());
    await page.waitForFunction(() => document.querySelector('.rule-editor h3')?.textContent === 'Rule default');
    for (const [field, value] of [
      ['remindAfterNoActionSec', '1'],
      ['abnormalAfterNoActionSec', '1'],
    ] as const) {
      await page.click(`#${field}`, { count: 3 });
      await page.keyboard.press('Backspace');
      await page.type(`#${field}`, value);
    }
    await page.$eval('.rule-editor button.simulate-open', (b) => (b as HTMLElement).click());
    await page.waitForSelector('#sim-from');
    // The range defaults to the last 8 hours, to the second.
    const range = await page.$$eval('#sim-from, #sim-to', (es) => es.map((e) => (e as HTMLInputElement).value));
    const span = new Date(range[1]!).getTime() - new Date(range[0]!).getTime();
    expect(span).toBe(8 * 3_600_000);
    expect(Math.abs(Date.now() - new Date(range[1]!).getTime())).toBeLessThan(60_000);
    await page.$eval('.simulate button.sim-start', (b) => (b as HTMLElement).click());
    await page.waitForFunction(
      () =>
        document.querySelector('.simulation[data-state="done"]')?.textContent?.includes('Agents in the tenant') ??
        false,
      { timeout: 60_000 },
    );
    const id = await page.$eval('.simulation', (e) => e.getAttribute('data-simulation'));
    const sim = await api(`/v1/rules/simulations/${id}`);
    expect(sim.state).toBe('done');
    const r = sim.result;
    expect(r).toMatchObject({ ruleId: 'default', from: new Date(range[0]!).toISOString() });
    for (const k of ['tenant', 'affected', 'simulated', 'changed']) {
      expect(await text(`.simulation [data-k="${k}"]`), k).toBe(String(r.agents[k]));
    }
    expect(r.agents.affected).toBeGreaterThanOrEqual(agents.length);
    const cells = (table: string, status: string) =>
      page.$$eval(`.simulation table.${table} tr[data-status="${status}"] td`, (tds) =>
        tds.map((td) => `${td.getAttribute('data-col')}=${(td as HTMLElement).innerText}`),
      );
    for (const s of STATUSES) {
      const t = r.transitions[s];
      const a = r.agentsInto[s];
      expect(await cells('sim-transitions', s), s).toEqual([
        `current=${t.current}`,
        `proposed=${t.proposed}`,
        `agents-current=${a.current}`,
        `agents-proposed=${a.proposed}`,
      ]);
    }
    const m = r.minutes.ABNORMAL;
    expect(await cells('sim-minutes', 'ABNORMAL')).toEqual([
      `current=${m.current}`,
      `proposed=${m.proposed}`,
      `delta=${m.delta > 0 ? '+' : ''}${m.delta}`,
    ]);
    // A 1 s window flags people the rule in force (2 h) never did, and the page lists them.
    expect(r.transitions.ABNORMAL.proposed).toBeGreaterThan(r.transitions.ABNORMAL.current);
    expect(m.delta).toBeGreaterThan(0);
    const shown = await page.$$eval('.simulation table.sim-sample tr[data-agent]', (rs) =>
      rs.map((x) => x.getAttribute('data-agent')),
    );
    expect(shown).toEqual(r.sample.map((x: { agentId: string }) => x.agentId));
    await shot('simulate');
    // A sample agent opens the drawer.
    const first = shown[0]!;
    await page.$eval(`.simulation tr[data-agent="${first}"] button`, (b) => (b as HTMLElement).click());
    await page.waitForFunction((a) => document.querySelector('#drawer-h')?.textContent === a, {}, first);
    // Escape closes it once the drawer has taken the focus (its key handler is in place by then).
    await page.waitForFunction(() => !!document.activeElement?.closest('.drawer'));
    await page.keyboard.press('Escape');
    await page.waitForSelector('.drawer', { hidden: true });
    // Nothing was saved: the simulation leaves the rule as it was.
    expect(
      (await api('/v1/rules')).rules.find((x: { ruleId: string }) => x.ruleId === 'default').windows,
    ).toMatchObject({
      abnormalAfterNoActionSec: 7200,
    });
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

  it('shows the fleet: counts per health state, the instances not HEALTHY, the recovery steps; an admin sets a hook', async () => {
    // Two instances of this tenant, beating over websockets: i-hot reports cpu above its limit
    // (0.9), i-quiet beats once and then goes silent, through MISSING and the ladder to FAILED.
    const beats = new Map<string, number>();
    const beat = (c: RawClient, id: string, cpu: number) => {
      const seq = (beats.get(id) ?? 0) + 1;
      beats.set(id, seq);
      c.send({
        type: 'events',
        events: [{ reqId: `${id}-${seq}`, type: EventType.HEARTBEAT, ts: Date.now(), data: { seq, metrics: { cpu } } }],
      });
    };
    for (const [id, cpu] of [
      ['i-quiet', 0.2],
      ['i-hot', 0.97],
    ] as const) {
      const r = await send('PUT', `/v1/agents/${id}`, { kind: 'service', displayName: `Instance ${id.slice(2)}` });
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      const c = await rawClient(gw.ws);
      c.send({ type: 'hello', token: await gw.token(id, 'instance'), deviceId: `${id}-host`, modules: [] });
      await c.next('welcome');
      sockets.push(c);
      beat(c, id, cpu);
      if (id === 'i-hot') timers.push(setInterval(() => beat(c, id, cpu), 400));
    }

    await openTab(page, 'Fleet');
    expect(await page.$eval('nav[aria-label="Views"] button:nth-child(5)', (b) => b.textContent)).toBe('Fleet');
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-instance="i-quiet"] td[data-col="state"]')?.textContent === 'FAILED' &&
        document.querySelector('tr[data-instance="i-hot"] td[data-col="state"]')?.textContent === 'DEGRADED' &&
        document.querySelectorAll('table.recoveries tr[data-agent="i-quiet"]').length === 3,
      { timeout: 30_000 },
    );
    // The tiles say what the API says, all six states; MISSING and FAILED stand out.
    const health = await api('/v1/fleet/health');
    expect(health.counts).toEqual({ HEALTHY: 0, DEGRADED: 1, MISSING: 0, RECOVERING: 0, FAILED: 1, DEREGISTERED: 0 });
    for (const [s, n] of Object.entries(health.counts)) {
      expect(await text(`.fleet .tile[data-health="${s}"] .count`), s).toBe(String(n));
    }
    expect(await page.$eval('.tile[data-health="FAILED"]', (e) => e.className)).toMatch(/\balarm\b/);
    expect(await page.$eval('.tile[data-health="MISSING"]', (e) => e.className)).toMatch(/\balarming\b/);
    // The rows: cause, last heartbeat, seq and metrics; the degraded one's metrics marked.
    expect(await text('tr[data-instance="i-quiet"] td[data-col="cause"]')).toContain('RECOVERY_EXHAUSTED');
    expect(await text('tr[data-instance="i-quiet"] td[data-col="beat"]')).toMatch(/ago$/);
    expect(await text('tr[data-instance="i-quiet"] td[data-col="metrics"]')).toContain('cpu 0.2');
    expect(await text('tr[data-instance="i-hot"] td[data-col="cause"]')).toContain('METRICS');
    expect(await text('tr[data-instance="i-hot"] td[data-col="metrics"]')).toContain('cpu 0.97');
    expect(await page.$eval('tr[data-instance="i-hot"] td[data-col="metrics"]', (e) => e.className)).toBe('over');
    // The ladder ran without hooks: each step recorded as such.
    const steps = await page.$$eval('table.recoveries tr[data-agent="i-quiet"]', (rs) =>
      rs.map((r) => `${r.getAttribute('data-step')} ${r.querySelector('.outcome')?.textContent}`),
    );
    expect(steps.sort()).toEqual(['alert no hook', 'replace no hook', 'restart no hook']);

    // The drawer copes with an instance: its health from the workflow, no status to set.
    await page.$eval('tr[data-instance="i-hot"] button', (b) => (b as HTMLElement).click());
    await page.waitForFunction(() => document.querySelector('#drawer-h')?.textContent === 'i-hot');
    await page.waitForSelector('.drawer [data-live][data-kind="service"]', { timeout: 20_000 });
    expect(await page.$eval('.drawer [data-metric="cpu"]', (e) => e.className)).toBe('metric over');
    expect(await text('.drawer [data-live]')).toMatch(/MISSING in \d+:\d\d unless it beats/);
    expect(await text('.drawer .facts')).not.toContain('Open tasks');
    expect(await page.$('.drawer .status-form')).toBeNull();
    await shot('fleet-drawer');
    await page.keyboard.press('Escape');
    await page.waitForSelector('.drawer', { hidden: true });

    // An admin sets the restart hook: without a secret a new hook is refused on that field.
    await page.waitForSelector('form.hook-form');
    await page.select('form.hook-form select[name="step"]', 'restart');
    await page.type('#hook-url', 'https://93.184.216.34/hook');
    await page.$eval('form.hook-form button[type="submit"]', (b) => (b as HTMLElement).click());
    await page.waitForSelector('#hook-secret-error', { timeout: 10_000 });
    expect(await text('#hook-secret-error')).toMatch(/secret: required/);
    expect(await page.$eval('#hook-secret', (e) => e.getAttribute('aria-invalid'))).toBe('true');
    expect((await api('/v1/fleet/hooks')).hooks).toEqual([]);
    await page.type('#hook-secret', 'fleet-console-secret-0123');
    await page.$eval('form.hook-form button[type="submit"]', (b) => (b as HTMLElement).click());
    await page.waitForFunction(
      () => document.querySelector('table.hooks tr[data-step="restart"]')?.textContent?.includes('93.184.216.34'),
      { timeout: 10_000 },
    );
    expect(await page.$('#hook-secret-error')).toBeNull();
    expect((await api('/v1/fleet/hooks')).hooks).toEqual([
      { step: 'restart', url: 'https://93.184.216.34/hook', enabled: true, updatedAt: expect.any(String) },
    ]);
    await shot('fleet');
    await page.setViewport({ width: 768, height: 1024 });
    expect(await overflow(), 'wider than a tablet').toEqual({ page: 0, culprits: [] });
    await shot('fleet-tablet');
    await page.setViewport({ width: 1280, height: 720 });

    // A supervisor reads the same view, without the hooks.
    const other = await browser.newPage();
    await other.goto(`${gw.http}/console/#token=${await gw.token('console-sup', 'supervisor')}`);
    await other.waitForSelector('nav[aria-label="Views"] button');
    await openTab(other, 'Fleet');
    await other.waitForSelector('tr[data-instance="i-hot"]', { timeout: 20_000 });
    expect(await other.$('form.hook-form')).toBeNull();
    await other.close();

    // i-hot leaves, so no recovery step (now with a hook) runs for it once its beats stop.
    for (const t of timers.splice(0)) clearInterval(t);
    const bye = await send('POST', '/v1/fleet/instances/i-hot/deregister', { reason: 'test over' });
    expect(bye.status, JSON.stringify(bye.body)).toBe(200);
  });
});
