import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// Without VIGIL_JWT_SECRET, `npm start` generates one and keeps it in the data dir, so tokens
// from `npm run token` keep working across restarts.
const file = (dataDir: string) => path.join(dataDir, 'dev-jwt-secret');

export function readDevSecret(dataDir: string): string | undefined {
  return existsSync(file(dataDir)) ? readFileSync(file(dataDir), 'utf8').trim() : undefined;
}

/** The dev secret kept in `dataDir`, generated and written there the first time. */
export function ensureDevSecret(dataDir: string): string {
  const existing = readDevSecret(dataDir);
  if (existing) return existing;
  const fresh = randomBytes(32).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file(dataDir), fresh, { mode: 0o600 });
  return fresh;
}
