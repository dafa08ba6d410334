import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { temporalConnectionOptions, type TemporalConnectionOptions } from '../../platform/temporal-connection.ts';

// The same options object goes to both SDK connections: this fails to compile if one stops taking it.
const _forClient = (o: TemporalConnectionOptions): ConnectionOptions => o;
const _forWorker = (o: TemporalConnectionOptions): NativeConnectionOptions => o;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-tls-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const pem = (name: string, label: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `-----BEGIN ${label}-----\n${Buffer.from(name).toString('base64')}\n-----END ${label}-----\n`);
  return file;
};
const CA = pem('ca.pem', 'CERTIFICATE');
const CERT = pem('client.pem', 'CERTIFICATE');
const KEY = pem('client.key', 'PRIVATE KEY');
const ADDRESS = 'vigil.a1b2c.tmprl.cloud:7233';
const options = (env: Record<string, string>) =>
  temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: ADDRESS, ...env }));

describe('Temporal connection options', () => {
  it('connects in plain text by default (the dev server), with nothing but the address', () => {
    expect(options({})).toEqual({ address: ADDRESS });
    expect(options({ TEMPORAL_TLS: 'off' })).toEqual({ address: ADDRESS });
    // Empty values (`VAR=` in a compose file) count as unset.
    expect(options({ TEMPORAL_TLS: '', TEMPORAL_TLS_CA: '', TEMPORAL_API_KEY: '' })).toEqual({ address: ADDRESS });
  });

  it('TEMPORAL_TLS=on: TLS with the system trust store', () => {
    expect(options({ TEMPORAL_TLS: 'on' })).toEqual({ address: ADDRESS, tls: {} });
  });

  it('a CA file and a server name turn TLS on by themselves', () => {
    expect(options({ TEMPORAL_TLS_CA: CA, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' })).toEqual({
      address: ADDRESS,
      tls: { serverRootCACertificate: fs.readFileSync(CA), serverNameOverride: 'temporal.internal' },
    });
  });

  it('mTLS: the client certificate and key, read from their files', () => {
    const o = options({ TEMPORAL_TLS_CERT: CERT, TEMPORAL_TLS_KEY: KEY, TEMPORAL_TLS_CA: CA });
    expect(o).toEqual({
      address: ADDRESS,
      tls: {
        serverRootCACertificate: fs.readFileSync(CA),
        clientCertPair: { crt: fs.readFileSync(CERT), key: fs.readFileSync(KEY) },
      },
    });
    // Relative paths are taken from the working directory, as every other path setting.
    const rel = path.relative(process.cwd(), CERT);
    expect(options({ TEMPORAL_TLS_CERT: rel, TEMPORAL_TLS_KEY: KEY }).tls?.clientCertPair?.crt).toEqual(
      fs.readFileSync(CERT),
    );
  });

  it('an API key (Temporal Cloud) implies TLS, and refuses to go out in plain text', () => {
    expect(options({ TEMPORAL_API_KEY: 'cloud-api-key' })).toEqual({
      address: ADDRESS,
      tls: {},
      apiKey: 'cloud-api-key',
    });
    expect(() => options({ TEMPORAL_API_KEY: 'cloud-api-key', TEMPORAL_TLS: 'off' })).toThrow(
      new ConfigError('invalid configuration:\n  TEMPORAL_TLS: off, but TEMPORAL_API_KEY needs TLS'),
    );
  });

  it('names the variable whose file is missing, unreadable or not PEM', () => {
    const notPem = path.join(dir, 'ca.der');
    fs.writeFileSync(notPem, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
    expect(() => options({ TEMPORAL_TLS_CA: path.join(dir, 'nope.pem') })).toThrow(
      new ConfigError(`TEMPORAL_TLS_CA: cannot read ${path.join(dir, 'nope.pem')} (no such file)`),
    );
    expect(() => options({ TEMPORAL_TLS_CA: dir })).toThrow(
      new ConfigError(`TEMPORAL_TLS_CA: cannot read ${dir} (is a directory)`),
    );
    expect(() => options({ TEMPORAL_TLS_CA: notPem })).toThrow(
      new ConfigError(`TEMPORAL_TLS_CA: ${notPem} is not a PEM file (no -----BEGIN line)`),
    );
    expect(() => options({ TEMPORAL_TLS_CERT: CERT, TEMPORAL_TLS_KEY: path.join(dir, 'gone.key') })).toThrow(
      /^TEMPORAL_TLS_KEY: cannot read .*gone\.key \(no such file\)$/,
    );
  });

  it('wants a client certificate and its key together', () => {
    expect(() => options({ TEMPORAL_TLS_CERT: CERT })).toThrow(
      /TEMPORAL_TLS_CERT: a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
    );
    expect(() => options({ TEMPORAL_TLS_KEY: KEY })).toThrow(
      /TEMPORAL_TLS_KEY: a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
    );
  });

  it('refuses TLS settings without TEMPORAL_ADDRESS (the dev server npm start runs is plain text)', () => {
    expect(() => loadConfig({ TEMPORAL_API_KEY: 'k' })).toThrow(/TEMPORAL_API_KEY: TLS needs TEMPORAL_ADDRESS/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'on' })).toThrow(/TEMPORAL_TLS: TLS needs TEMPORAL_ADDRESS/);
    expect(loadConfig({ TEMPORAL_TLS: 'off' }).temporalTls).toBeUndefined();
    expect(() => temporalConnectionOptions(loadConfig({}))).toThrow(
      new ConfigError('TEMPORAL_ADDRESS is required (npm start sets it)'),
    );
  });
});
