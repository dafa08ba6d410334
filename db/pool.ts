import pg from 'pg';

// int8 (bigint) columns hold versions and sequence numbers that stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 30_000 });
  // A client's error (e.g. Postgres restarting) must not crash the process: idle clients report
  // to the pool; one checked out mid-transaction reports to itself, and its next query fails instead.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    return await transaction(c, fn);
  } catch (err) {
    // Only a statement Postgres refused leaves the connection usable; anything else (a lost
    // connection, an operator shutdown: classes 08 and 57) and it is not given back for reuse.
    const refused = err instanceof pg.DatabaseError && !/^(08|57)/.test(err.code ?? '');
    if (!refused) broken = err as Error;
    throw err;
  } finally {
    c.release(broken);
  }
}

/** `fn` in one transaction on a client the caller already holds (e.g. one holding a session lock). */
export async function transaction<C extends pg.ClientBase, T>(c: C, fn: (c: C) => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
