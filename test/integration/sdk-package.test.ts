// The workbench SDK as a workbench team gets it: `npm pack` of the workspace (which runs the
// package's build), installed from the tarball into an empty project, type-checked as that team's
// TypeScript, used from Node against the real gateway, and its browser bundles loaded. The browser
// side in a real Chromium is workbench-example.test.ts.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type * as Sdk from '../../sdk/index.ts';
import { createHarness, type Harness, type RunningWorker } from '../harness.ts';
import { startGateway, type TestGateway } from './gateway-helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NAME = '@vigil/workbench-sdk';

describe('the workbench SDK package', () => {
  let tmp: string;
  let consumer: string;
  /** The installed package's directory in the consumer project. */
  let installed: string;
  let packed: { name: string; version: string; files: { path: string }[] };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-sdk-'));
    const { stdout } = await run('npm', ['pack', '-w', NAME, '--json', '--pack-destination', tmp], {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    });
    packed = JSON.parse(stdout)[0];
    consumer = path.join(tmp, 'workbench-app');
    await fs.mkdir(consumer);
    await fs.writeFile(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'workbench-app', private: true, type: 'module' }),
    );
    const tarball = path.join(
      tmp,
      (await fs.readdir(tmp)).find((f) => f.endsWith('.tgz'))!,
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: consumer });
    installed = path.join(consumer, 'node_modules', ...NAME.split('/'));
  }, 180_000);

  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('packs its build and README, versioned with the wire protocol', async () => {
    const { PROTOCOL_VERSION } = await import('../../sdk/protocol.ts');
    expect(packed.name).toBe(NAME);
    // MAJOR.MINOR is the protocol the package speaks; the patch is the SDK's own.
    expect(packed.version).toMatch(new RegExp(`^${PROTOCOL_VERSION.replace('.', '\\.')}\\.\\d+$`));
    const files = packed.files.map((f) => f.path);
    for (const f of [
      'README.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/browser/vigil-workbench.js',
      'dist/browser/vigil-workbench.global.js',
    ]) {
      expect(files).toContain(f);
    }
    // Built output only: no sources, no build scripts.
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(await fs.readFile(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.version).toBe(packed.version);
  });

  it("serves a workbench team's TypeScript with real types", async () => {
    await fs.writeFile(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2022', 'DOM'],
          types: [],
        },
        files: ['app.ts'],
      }),
    );
    // Each @ts-expect-error must meet an error: with `any` types they would be unused, and tsc fails.
    await fs.writeFile(
      path.join(consumer, 'app.ts'),
      [
        "import { WorkbenchClient, EventType, WORK_STATUSES, type StatusSnapshot } from '@vigil/workbench-sdk';",
        "const client = new WorkbenchClient({ url: 'wss://vigil.example/v1/ws', token: () => 'jwt' });",
        "const off = client.on('status', (s: StatusSnapshot) => console.log(s.status, s.since));",
        'client.captureDom(document);',
        "client.ticket(EventType.TICKET_OPENED, 'T-1');",
        'client.setWorkStatus(WORK_STATUSES[1]);',
        '// @ts-expect-error not an event the client emits',
        "client.on('no-such-event', () => {});",
        '// @ts-expect-error not a status an agent may set itself',
        "client.setWorkStatus('ABNORMAL');",
        'off();',
        'void client.stop();',
        '',
      ].join('\n'),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', consumer]).catch((e: { stdout: string; code: number }) => e);
    expect('stdout' in r ? r.stdout : '').toBe('');
  });

  it('loads its browser bundles: a module and a classic script that defines VigilWorkbench', async () => {
    const esm = (await import(
      pathToFileURL(path.join(installed, 'dist/browser/vigil-workbench.js')).href
    )) as typeof Sdk;
    const main = (await import(
      pathToFileURL(createRequire(path.join(consumer, 'x.js')).resolve(NAME)).href
    )) as typeof Sdk;
    expect(Object.keys(esm).sort()).toEqual(Object.keys(main).sort());
    expect(esm.PROTOCOL_VERSION).toBe(main.PROTOCOL_VERSION);
    // A context with only what a browser has and the SDK uses when it loads.
    const context: { VigilWorkbench?: typeof Sdk; TextEncoder: typeof TextEncoder } = { TextEncoder };
    vm.runInNewContext(
      await fs.readFile(path.join(installed, 'dist/browser/vigil-workbench.global.js'), 'utf8'),
      context,
    );
    expect(Object.keys(context.VigilWorkbench ?? {}).sort()).toEqual(Object.keys(main).sort());
    expect(typeof context.VigilWorkbench?.WorkbenchClient).toBe('function');
  });

  describe('installed, from Node against the real gateway', () => {
    let h: Harness;
    let w: RunningWorker;
    let gw: TestGateway;

    beforeAll(async () => {
      h = await createHarness('sdk-package');
      w = await h.startWorker();
      gw = await startGateway(h);
    });
    afterAll(async () => {
      await gw?.close();
      await w?.stop();
      await h?.close();
    });

    it('connects, is welcomed with the status, and gets a receipt for a click', async () => {
      const sdk = (await import(
        pathToFileURL(createRequire(path.join(consumer, 'x.js')).resolve(NAME)).href
      )) as typeof Sdk;
      const client = new sdk.WorkbenchClient({
        url: gw.ws,
        token: await gw.token('pkg-ana'),
        WebSocket,
      });
      try {
        const welcomed = new Promise<Sdk.Welcome>((resolve) => client.on('welcome', resolve));
        client.start();
        const welcome = await welcomed;
        expect(welcome.agentId).toBe('pkg-ana');
        expect(welcome.v).toBe(sdk.PROTOCOL_VERSION);
        const receipt = new Promise<Sdk.Receipt>((resolve) =>
          client.on('receipt', (r) => r.accepted.includes(reqId) && resolve(r)),
        );
        const reqId = client.click();
        await receipt;
        expect(client.unackedCount).toBe(0);
      } finally {
        await client.stop();
      }
    });
  });
});
