// `npm run temporal:setup [-- --wait SECONDS]`: registers Vigil's search attributes on
// TEMPORAL_NAMESPACE at TEMPORAL_ADDRESS, connecting the way the worker does (TLS, client
// certificate, API key: platform/temporal-connection.ts). Idempotent: run it once per namespace,
// before the worker, and again whenever you like. Prints one line per attribute; exits 0 when all
// are in place, 2 with the reason otherwise. `--wait` keeps trying that long while Temporal or the
// namespace is not there yet (a cluster still starting, as in docker-compose.yml).
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { loadConfig } from './config.ts';
import { temporalConnectionOptions, type TemporalConnectionOptions } from './temporal-connection.ts';
import { ensureSearchAttributes, isNamespaceNotFound } from './temporal-setup.ts';

function fail(why: string): never {
  process.stderr.write(`temporal:setup failed: ${why}\n`);
  process.exit(2);
}
const say = (line: string) => void process.stdout.write(`${line}\n`);

let waitSec = 0;
let options: TemporalConnectionOptions;
let namespace: string;
try {
  const { values } = parseArgs({ options: { wait: { type: 'string', default: '0' } } });
  waitSec = Number(values.wait);
  if (!Number.isFinite(waitSec) || waitSec < 0) fail('--wait takes a number of seconds');
  const cfg = loadConfig();
  options = temporalConnectionOptions(cfg);
  namespace = cfg.temporalNamespace;
} catch (err) {
  fail((err as Error).message);
}

const how = [options.tls && 'TLS', options.tls?.clientCertPair && 'client certificate', options.apiKey && 'API key']
  .filter(Boolean)
  .join(', ');
say(`Temporal ${options.address}${how ? ` (${how})` : ''}, namespace ${namespace}`);

/** Connected, with the namespace there; retried until `--wait` runs out. */
async function reach(): Promise<Connection> {
  const deadline = Date.now() + waitSec * 1000;
  let nextNote = 0;
  for (;;) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect(options);
      await connection.workflowService.describeNamespace({ namespace });
      return connection;
    } catch (err) {
      await connection?.close();
      const why = isNamespaceNotFound(err)
        ? `namespace ${namespace} does not exist (create it first: temporal operator namespace create --namespace ${namespace})`
        : `cannot reach Temporal at ${options.address}: ${(err as Error).message}`;
      if (Date.now() >= deadline) return fail(why);
      if (Date.now() >= nextNote) {
        say(`waiting: ${why}`);
        nextNote = Date.now() + 10_000;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const connection = await reach();
try {
  const r = await ensureSearchAttributes(connection, namespace, { onProgress: say });
  say(`search attributes ready on ${namespace}: ${r.added.length} added, ${r.present.length} already present`);
} catch (err) {
  await connection.close();
  fail((err as Error).message);
}
await connection.close();
