// How every Vigil process reaches Temporal: the options for `Connection.connect` (@temporalio/client:
// the gateway, the dispatcher, `npm run temporal:setup`) and `NativeConnection.connect`
// (@temporalio/worker: the worker), built once from the configuration, so a self-hosted cluster
// with TLS or mTLS, or Temporal Cloud with an API key, is one set of variables for all of them.
import fs from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError, requireSettings, type Config } from './config.ts';

/** What both SDK connections take (their option types agree on these three fields). */
export interface TemporalConnectionOptions {
  address: string;
  /** Absent: plain connections (the dev server). */
  tls?: TLSConfig;
  /** Sent as `Authorization: Bearer …`; only ever with `tls`. */
  apiKey?: string;
}

/**
 * The connection options for TEMPORAL_ADDRESS with the configured TLS and API key. Reads the
 * certificate files now, so a wrong path or a file that is not PEM stops start-up with a
 * ConfigError naming the variable, instead of a TLS handshake failing later with a Rust error.
 */
export function temporalConnectionOptions(cfg: Config): TemporalConnectionOptions {
  requireSettings(cfg, 'temporalAddress');
  const address = cfg.temporalAddress;
  const t = cfg.temporalTls;
  if (!t) return { address };
  const tls: TLSConfig = {};
  if (t.caFile) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_CA', t.caFile);
  if (t.certFile && t.keyFile) {
    tls.clientCertPair = {
      crt: readPem('TEMPORAL_TLS_CERT', t.certFile),
      key: readPem('TEMPORAL_TLS_KEY', t.keyFile),
    };
  }
  if (t.serverName) tls.serverNameOverride = t.serverName;
  return cfg.temporalApiKey ? { address, tls, apiKey: cfg.temporalApiKey } : { address, tls };
}

/** The contents of a PEM file named by `variable`, or a ConfigError saying what is wrong with it. */
function readPem(variable: string, file: string): Buffer {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'is a directory'
            : e.message;
    throw new ConfigError(`${variable}: cannot read ${file} (${why})`);
  }
  if (!pem.includes('-----BEGIN '))
    throw new ConfigError(`${variable}: ${file} is not a PEM file (no -----BEGIN line)`);
  return pem;
}
