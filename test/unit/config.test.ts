import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARIABLES, loadConfig, requireSettings } from '../../platform/config.ts';
import { ensureDevSecret, readDevSecret } from '../../platform/dev-secret.ts';

const SECRET = 'a-secret-of-at-least-16-characters';

describe('configuration', () => {
  it('leaves the JWT secret undefined when VIGIL_JWT_SECRET is unset, instead of inventing one', () => {
    expect(loadConfig({}).jwtSecret).toBeUndefined();
    expect(loadConfig({ VIGIL_JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET);
    expect(() => loadConfig({ VIGIL_JWT_SECRET: 'short' })).toThrow(/VIGIL_JWT_SECRET must be at least 16 characters/);
  });

  it('requireSettings names every unset variable a process needs, and passes when they are set', () => {
    const bare = loadConfig({});
    expect(() => requireSettings(bare, 'jwtSecret')).toThrow(
      new ConfigError('VIGIL_JWT_SECRET is required (npm start sets it)'),
    );
    expect(() => requireSettings(bare, 'databaseUrl', 'temporalAddress', 'jwtSecret')).toThrow(
      new ConfigError('DATABASE_URL, TEMPORAL_ADDRESS and VIGIL_JWT_SECRET are required (npm start sets them)'),
    );
    const partial = loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/vigil', VIGIL_JWT_SECRET: SECRET });
    expect(() => requireSettings(partial, 'databaseUrl', 'temporalAddress', 'jwtSecret')).toThrow(
      new ConfigError('TEMPORAL_ADDRESS is required (npm start sets it)'),
    );
    const full = loadConfig({
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/vigil',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      VIGIL_JWT_SECRET: SECRET,
    });
    requireSettings(full, 'databaseUrl', 'temporalAddress', 'jwtSecret');
    expect([full.databaseUrl, full.temporalAddress, full.jwtSecret]).toEqual([
      'postgres://u@127.0.0.1:5432/vigil',
      '127.0.0.1:7233',
      SECRET,
    ]);
  });

  it('reads the Temporal dev-server port and the SDK log level from the environment, validated', () => {
    expect(loadConfig({})).toMatchObject({ temporalPort: 7233, temporalLogLevel: 'WARN', logLevel: 'info' });
    expect(loadConfig({ TEMPORAL_PORT: '17233', TEMPORAL_LOG_LEVEL: 'ERROR', LOG_LEVEL: 'warn' })).toMatchObject({
      temporalPort: 17233,
      temporalLogLevel: 'ERROR',
      logLevel: 'warn',
    });
    expect(() => loadConfig({ TEMPORAL_PORT: 'seventy' })).toThrow(ConfigError);
    expect(() => loadConfig({ TEMPORAL_LOG_LEVEL: 'LOUD' })).toThrow(/TEMPORAL_LOG_LEVEL/);
  });

  it('takes the Temporal Web UI URL for the console from VIGIL_TEMPORAL_UI_URL, else localhost on TEMPORAL_UI_PORT', () => {
    expect(loadConfig({}).temporalUiUrl).toBe('http://localhost:8233');
    expect(loadConfig({ TEMPORAL_UI_PORT: '18233' }).temporalUiUrl).toBe('http://localhost:18233');
    expect(loadConfig({ VIGIL_TEMPORAL_UI_URL: 'https://temporal.example.com/ui/' }).temporalUiUrl).toBe(
      'https://temporal.example.com/ui',
    );
    for (const bad of ['temporal.example.com', 'javascript:alert(1)', 'ftp://temporal.example.com'])
      expect(() => loadConfig({ VIGIL_TEMPORAL_UI_URL: bad }), bad).toThrow(/VIGIL_TEMPORAL_UI_URL/);
  });

  it('puts the machine-wide cache under $XDG_CACHE_HOME, else $HOME/.cache, of the environment it is given', () => {
    expect(loadConfig({ HOME: '/home/u' }).cacheDir).toBe('/home/u/.cache/vigil');
    expect(loadConfig({ HOME: '/home/u', XDG_CACHE_HOME: '/var/cache/u' }).cacheDir).toBe('/var/cache/u/vigil');
    expect(loadConfig({ HOME: '/home/u', XDG_CACHE_HOME: '', VIGIL_CACHE_DIR: '/opt/vigil-cache' }).cacheDir).toBe(
      '/opt/vigil-cache',
    );
  });

  it('documents every variable it reads in the README configuration table', () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('\n## Configuration\n'),
      readme.indexOf('\n## ', readme.indexOf('\n## Configuration\n') + 1),
    );
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    const undocumented = ENV_VARIABLES.filter(
      (v) => !rows.some((r) => r.startsWith(`| \`${v}\``) || r.includes(`$${v}`)),
    );
    expect(undocumented).toEqual([]);
  });

  it('is the only module of the platform that reads a variable (passing the whole environment to a child is no read)', () => {
    const root = path.join(import.meta.dirname, '..', '..');
    const offenders: string[] = [];
    for (const dir of ['platform', 'gateway', 'workers', 'activities', 'db']) {
      for (const f of fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        const file = path.join(dir, f);
        if (!file.endsWith('.ts') || file === path.join('platform', 'config.ts')) continue;
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        for (const m of text.matchAll(/process\.env\s*(\.\s*\w+|\[)/g)) offenders.push(`${file}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('dev secret', () => {
  it('is generated once and kept in the data dir', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-dev-secret-'));
    try {
      expect(readDevSecret(dir)).toBeUndefined();
      const first = ensureDevSecret(dir);
      expect(first.length).toBeGreaterThanOrEqual(32);
      expect(ensureDevSecret(dir)).toBe(first);
      expect(readDevSecret(dir)).toBe(first);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
