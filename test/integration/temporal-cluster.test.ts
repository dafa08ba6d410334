// Vigil on a Temporal that is not its own dev server. A namespace without Vigil's search
// attributes, as a self-hosted cluster or Temporal Cloud hands it out: /readyz names what is
// missing, `npm run temporal:setup` (ensureSearchAttributes) registers it, and the platform is ready
// on it; fresh namespaces on the shared dev server, so its `default` namespace (registered with the
// attributes by flags) is never changed. And TLS: mTLS through a relay that demands a client
// certificate, with the options every process builds from the configuration.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildGateway } from '../../gateway/server.ts';
import { signToken } from '../../platform/auth.ts';
import { loadConfig } from '../../platform/config.ts';
import { temporalConnectionOptions } from '../../platform/temporal-connection.ts';
import {
  ensureSearchAttributes,
  missingSearchAttributes,
  SearchAttributeSetupError,
} from '../../platform/temporal-setup.ts';
import { createAgentWorker } from '../../workers/agent-worker.ts';
import { AGENT_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
import { createHarness, eventually, type Harness } from '../harness.ts';
import { SECRET } from './gateway-helpers.ts';
import { makeTestPki, startTlsRelay, type TestPki, type TlsRelay } from './tls-relay.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NAMES = Object.values(AGENT_SEARCH_ATTRIBUTES).map((k) => k.name);
const SETUP_SCRIPT = 'platform/temporal-setup-main.ts';

let h: Harness;
const cleanups: (() => Promise<void>)[] = [];

/** A namespace of its own on the dev server, once every service knows it (the namespace cache refreshes). */
async function freshNamespace(what: string): Promise<string> {
  const namespace = `vigil-${what}-${randomUUID().slice(0, 8)}`;
  await h.client.connection.workflowService.registerNamespace({
    namespace,
    // protobufjs writes a plain number into the int64 that the generated type calls Long.
    workflowExecutionRetentionPeriod: { seconds: (24 * 3600) as never },
  });
  await eventually(
    async () => {
      await h.client.connection.operatorService.listSearchAttributes({ namespace });
      await h.client.connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: 'probe' },
        taskQueueType: 1,
      });
      return true;
    },
    60_000,
    `namespace ${namespace} to be known`,
  );
  return namespace;
}

/** A gateway on `namespace` whose log lines are kept. */
async function gatewayOn(namespace: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = buildGateway({
    pool: h.pool,
    temporal: new Client({ connection: h.client.connection, namespace }),
    namespace,
    taskQueue: h.taskQueue,
    jwtSecret: SECRET,
    log: pino({ level: 'warn' }, sink),
  });
  await app.ready();
  cleanups.push(() => app.close());
  return { app, lines };
}

interface SetupRun {
  /** What it has printed on stdout so far. */
  out(): string;
  done: Promise<{ code: number | null; out: string; err: string }>;
}

/** `npm run temporal:setup` as a process of its own, against the dev server (or what `env` says). */
function startSetup(namespace: string, env: Record<string, string> = {}, args: string[] = []): SetupRun {
  const child = spawn(process.execPath, ['--import', 'tsx', SETUP_SCRIPT, ...args], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: namespace, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, out, err })),
  );
  return { out: () => out, done };
}
const runSetup = (namespace: string, env: Record<string, string> = {}) => startSetup(namespace, env).done;

beforeAll(async () => {
  h = await createHarness('temporal-setup');
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await h?.close();
});

describe('search attributes on a namespace of a real cluster', () => {
  let namespace: string;
  let before: Awaited<ReturnType<typeof gatewayOn>>;

  beforeAll(async () => {
    namespace = await freshNamespace('setup');
  });

  it('/readyz of a gateway on a namespace without them is 503 and names every missing one', async () => {
    expect(await missingSearchAttributes(h.client.connection, namespace)).toEqual([
      { name: 'AgentStatus', want: 'Keyword', found: undefined },
      { name: 'Tenant', want: 'Keyword', found: undefined },
      { name: 'BusinessLine', want: 'Keyword', found: undefined },
      { name: 'SkillGroups', want: 'KeywordList', found: undefined },
    ]);
    before = await gatewayOn(namespace);
    const r = await before.app.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({
      ready: false,
      checks: { postgres: 'ok', temporal: 'ok', worker: 'down', searchAttributes: 'down' },
      missing: NAMES,
    });
    expect(before.lines).toContainEqual(
      expect.objectContaining({
        msg: 'readyz: search attributes missing; npm run temporal:setup registers them',
        namespace,
        missing: NAMES.map((n) => `${n} (missing)`),
      }),
    );
  });

  it('ensureSearchAttributes (npm run temporal:setup) registers them, and a second run adds nothing', async () => {
    const said: string[] = [];
    const first = await ensureSearchAttributes(h.client.connection, namespace, { onProgress: (l) => said.push(l) });
    expect(first).toEqual({ present: [], added: NAMES });
    expect(said).toEqual([
      'AgentStatus: added (Keyword)',
      'Tenant: added (Keyword)',
      'BusinessLine: added (Keyword)',
      'SkillGroups: added (KeywordList)',
    ]);
    // It resolves only once the namespace lists them.
    expect(await missingSearchAttributes(h.client.connection, namespace)).toEqual([]);

    said.length = 0;
    const second = await ensureSearchAttributes(h.client.connection, namespace, { onProgress: (l) => said.push(l) });
    expect(second).toEqual({ present: NAMES, added: [] });
    expect(said).toEqual(NAMES.map((n) => `${n}: present`));
  });

  it('then /readyz is ready, with a worker, and agent workflows upsert the attributes', async () => {
    // The first gateway trusts its last look for 30 s (probes do not ask Temporal each time).
    expect((await before.app.inject({ url: '/readyz' })).json()).toMatchObject({
      checks: { searchAttributes: 'down' },
      missing: NAMES,
    });

    const nc = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await createAgentWorker({
      connection: nc,
      namespace,
      taskQueue: h.taskQueue,
      workflowBundle: { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') },
      pool: h.pool,
      region: 'local',
    });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nc.close();
    });

    const after = await gatewayOn(namespace);
    const ready = await eventually(
      async () => {
        const r = await after.app.inject({ url: '/readyz' });
        return r.statusCode === 200 && r.json();
      },
      30_000,
      'a ready gateway on the set-up namespace',
    );
    expect(ready).toEqual({
      ready: true,
      checks: { postgres: 'ok', temporal: 'ok', worker: 'ok', searchAttributes: 'ok' },
    });

    // What used to fail every workflow task on such a namespace: the upsert of AgentStatus & co.
    const token = await signToken(SECRET, { tenant: h.tenant, sub: 'setup-a1', role: 'agent' }, 600);
    const put = await after.app.inject({
      method: 'PUT',
      url: '/v1/agents/setup-a1/status',
      headers: { authorization: `Bearer ${token}` },
      payload: { status: 'BUSY' },
    });
    expect(put.statusCode).toBe(200);
    const client = new Client({ connection: h.client.connection, namespace });
    await eventually(
      async () => {
        for await (const wf of client.workflow.list({
          query: `AgentStatus = 'BUSY' AND Tenant = '${h.tenant}'`,
        })) {
          return wf.workflowId;
        }
        return undefined;
      },
      30_000,
      'the agent workflow listed by its search attributes',
    );
  });
});

describe('npm run temporal:setup', () => {
  it('is the script this test runs', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts['temporal:setup']).toBe(`tsx ${SETUP_SCRIPT}`);
  });

  it('registers the attributes on TEMPORAL_NAMESPACE, says which, and exits 0; run again, finds them present', async () => {
    const namespace = await freshNamespace('cli');
    const first = await runSetup(namespace);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out.trim().split('\n')).toEqual([
      `Temporal ${inject('temporalAddress')}, namespace ${namespace}`,
      'AgentStatus: added (Keyword)',
      'Tenant: added (Keyword)',
      'BusinessLine: added (Keyword)',
      'SkillGroups: added (KeywordList)',
      `search attributes ready on ${namespace}: 4 added, 0 already present`,
    ]);
    const again = await runSetup(namespace);
    expect(again.code).toBe(0);
    expect(again.out).toContain('AgentStatus: present\nTenant: present\nBusinessLine: present\nSkillGroups: present\n');
    expect(again.out).toContain(`search attributes ready on ${namespace}: 0 added, 4 already present`);
  });

  it('--wait: waits for a namespace that is still being created (docker-compose.yml), then registers', async () => {
    const namespace = `vigil-later-${randomUUID().slice(0, 8)}`;
    const run = startSetup(namespace, {}, ['--wait', '60']);
    await eventually(async () => run.out().includes('waiting: '), 30_000, 'temporal:setup to wait');
    await h.client.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: { seconds: (24 * 3600) as never },
    });
    const r = await run.done;
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`waiting: namespace ${namespace} does not exist`);
    expect(r.out).toContain(`search attributes ready on ${namespace}: 4 added, 0 already present`);
  });

  it('exits 2 with the reason when the namespace does not exist', async () => {
    const r = await runSetup(`vigil-nowhere-${randomUUID().slice(0, 8)}`);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^temporal:setup failed: namespace vigil-nowhere-\w+ does not exist \(create it first/);
  });

  it('refuses an attribute registered with another type, naming it, and adds nothing', async () => {
    const namespace = await freshNamespace('wrong');
    await h.client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: { SkillGroups: 2 }, // Keyword, where the workflow upserts a KeywordList
    });
    await eventually(
      async () => (await missingSearchAttributes(h.client.connection, namespace)).some((p) => p.found),
      30_000,
      'the wrong-typed attribute to be listed',
    );
    expect(await missingSearchAttributes(h.client.connection, namespace)).toEqual([
      { name: 'AgentStatus', want: 'Keyword', found: undefined },
      { name: 'Tenant', want: 'Keyword', found: undefined },
      { name: 'BusinessLine', want: 'Keyword', found: undefined },
      { name: 'SkillGroups', want: 'KeywordList', found: 'Keyword' },
    ]);
    const err = await ensureSearchAttributes(h.client.connection, namespace).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SearchAttributeSetupError);
    expect((err as Error).message).toMatch(/^SkillGroups is registered as Keyword, Vigil needs KeywordList\. /);
    expect((await missingSearchAttributes(h.client.connection, namespace)).map((p) => p.name)).toEqual(NAMES);

    const g = await gatewayOn(namespace);
    expect((await g.app.inject({ url: '/readyz' })).json()).toMatchObject({
      checks: { searchAttributes: 'down' },
      missing: NAMES,
    });
  });
});

describe('TLS: mTLS to a cluster that demands a client certificate', () => {
  let pki: TestPki;
  let relay: TlsRelay;
  let dir: string;
  /** The settings a deployment would set, pointing at the relay. */
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-pki-'));
    pki = makeTestPki(dir);
    relay = await startTlsRelay(inject('temporalAddress'), pki);
    env = {
      TEMPORAL_ADDRESS: relay.address,
      TEMPORAL_TLS_CA: pki.caFile,
      TEMPORAL_TLS_CERT: pki.clientCertFile,
      TEMPORAL_TLS_KEY: pki.clientKeyFile,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
    };
  });

  afterAll(async () => {
    await relay?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the client connection (gateway, dispatcher) and the native one (worker) both get through', async () => {
    const options = temporalConnectionOptions(loadConfig(env));
    const connection = await Connection.connect(options);
    try {
      expect(await missingSearchAttributes(connection, 'default')).toEqual([]);
    } finally {
      await connection.close();
    }
    const nc = await NativeConnection.connect(options);
    try {
      const ns = await nc.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await nc.close();
    }
    expect(relay.clients.length).toBeGreaterThanOrEqual(2);
    expect(new Set(relay.clients)).toEqual(new Set(['vigil-worker']));
  });

  it('is refused without the client certificate, in plain text, or without the server name', async () => {
    const attempts = {
      'no client certificate': { ...env, TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '' },
      'plain text': { TEMPORAL_ADDRESS: relay.address },
      'no server name (the certificate does not name 127.0.0.1)': { ...env, TEMPORAL_TLS_SERVER_NAME: '' },
    };
    for (const [what, e] of Object.entries(attempts)) {
      const failed = await Connection.connect({ ...temporalConnectionOptions(loadConfig(e)), connectTimeout: 3000 })
        .then(async (c) => {
          await c.close();
          return false;
        })
        .catch(() => true);
      expect(failed, what).toBe(true);
    }
  });

  it('npm run temporal:setup connects with the same settings', async () => {
    const r = await runSetup('default', env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Temporal ${relay.address} (TLS, client certificate), namespace default\n`);
    expect(r.out).toContain(`search attributes ready on default: 0 added, 4 already present`);
  });
});
