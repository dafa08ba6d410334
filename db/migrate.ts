import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from 'postgres-migrations';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Applies db/migrations/N_name.sql in order, each once (postgres-migrations keeps the record). */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const applied = await migrate({ client }, MIGRATIONS, { logger: () => {} });
    return applied.map((m) => m.name);
  } finally {
    await client.end();
  }
}
