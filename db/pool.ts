// Connections: the pool every process shares, transactions, and the one `Queryable` type.
import pg from 'pg';

// int8 (bigint) columns hold versions and sequence numbers that stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** What every db/ function takes: a pool, or a client inside the caller's transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;
/** A row as pg returns it; each db/ module maps its rows to typed objects in one place. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- columns are typed by the mapper that reads them
export type Row = Record<string, any>;

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

/** Throws unless Postgres answers (readiness checks). */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/** `fn` inside a savepoint of the caller's transaction: when it throws, only its own writes are undone. */
export async function inSavepoint<T>(c: Queryable, fn: () => Promise<T>): Promise<T> {
  await c.query('SAVEPOINT vigil_sp');
  try {
    const out = await fn();
    await c.query('RELEASE SAVEPOINT vigil_sp');
    return out;
  } catch (err) {
    await c.query('ROLLBACK TO SAVEPOINT vigil_sp');
    throw err;
  }
}

/** Holds the advisory lock `key` until the caller's transaction ends (serialises writers of one kind). */
export async function advisoryXactLock(c: Queryable, key: number): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [key]);
}
