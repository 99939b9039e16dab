/**
 * Connecting to PostgreSQL: checks the URL before `pg` sees it, opens a pool, proves the
 * connection with one query, and turns what can go wrong into one-line errors that name the
 * fix (bad URL, refused connection, unknown host, missing database, wrong password, missing
 * schema). This is the only file that reads `pg`'s connection error codes.
 */
import pg from 'pg';
import { RagspecError } from '../../util/errors.ts';

export const URL_HINT = 'use postgres://USER:PASSWORD@HOST:5432/DATABASE';
const WHERE_HINT = 'set storage.url in the config, RAGSPEC_DATABASE_URL, or --store';

/** True for the URLs that select the PostgreSQL store. */
export function isPostgresUrl(s: string | undefined | null): boolean {
  return typeof s === 'string' && /^postgres(ql)?:\/\//i.test(s.trim());
}

/** The URL without its password, for logs, stats and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

/** Validates the URL's shape; returns host, port and database for messages. */
export function parsePostgresUrl(url: string): { host: string; port: number; database: string } {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new RagspecError(`"${url.slice(0, 80)}" is not a database URL`, {
      code: 'bad_database_url',
      kind: 'bad_input',
      hint: URL_HINT,
    });
  }
  if (!/^postgres(ql)?:$/i.test(u.protocol))
    throw new RagspecError(`database URL must start with postgres:// (got ${u.protocol}//)`, {
      code: 'bad_database_url',
      kind: 'bad_input',
      hint: URL_HINT,
    });
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database)
    throw new RagspecError('database URL names no database', {
      code: 'bad_database_url',
      kind: 'bad_input',
      hint: URL_HINT,
    });
  return { host: u.hostname || 'localhost', port: Number(u.port || 5432), database };
}

/** One line for a connection-time or query-time failure, with the fix. */
export function describePgError(err: unknown, url: string): RagspecError {
  if (err instanceof RagspecError) return err;
  const e = err as { code?: string; message?: string };
  const { host, port, database } = safeParts(url);
  const at = `PostgreSQL at ${host}:${port}`;
  const mk = (message: string, code: string, hint: string, kind: RagspecError['kind'] = 'unavailable') =>
    new RagspecError(message, { code, hint, kind, cause: err });
  switch (e.code) {
    case 'ECONNREFUSED':
      return mk(
        `cannot connect to ${at} (connection refused)`,
        'database_refused',
        `start PostgreSQL there, or fix the URL (${WHERE_HINT})`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return mk(`cannot resolve the database host "${host}"`, 'database_host', `fix the URL (${WHERE_HINT})`);
    case 'ETIMEDOUT':
      return mk(`connecting to ${at} timed out`, 'database_timeout', 'check the host, port and firewall');
    case '3D000':
      return mk(
        `database "${database}" does not exist on ${at}`,
        'database_missing',
        `create it (createdb ${database}) or fix the URL`,
      );
    case '3F000':
      return mk(
        `the schema named in the URL's search_path does not exist in "${database}"`,
        'schema_missing',
        'create it (CREATE SCHEMA name) or remove search_path from the URL',
        'bad_input',
      );
    case '28P01':
    case '28000':
      return mk(
        `${at} refused the login (${firstLine(e.message)})`,
        'database_auth',
        'check the user and password in the URL',
      );
    case '57P03':
      return mk(`${at} is starting up or shutting down`, 'database_starting', 'retry in a few seconds');
    default:
      return mk(`${at}: ${firstLine(e.message)}`, 'database_error', 'check the database and its logs');
  }
}

function safeParts(url: string): { host: string; port: number; database: string } {
  try {
    return parsePostgresUrl(url);
  } catch {
    return { host: '?', port: 0, database: '?' };
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? 'unknown error').split('\n')[0]!;
}

/**
 * Retrieval runs many short queries; PostgreSQL's JIT compiles one for ~100 ms whenever the
 * planner's estimate is high (e.g. right after a bulk ingest), costing far more than it
 * saves. Added to the URL's own `options`, which `pg` prefers to its config object.
 */
function withSessionSettings(url: string): string {
  const u = new URL(url.trim());
  const own = u.searchParams.get('options');
  u.searchParams.set('options', `${own ? `${own} ` : ''}-c jit=off`);
  return u.toString();
}

/**
 * A pool on `url` whose first connection has been made (so a wrong URL fails here, not
 * on the first query). Idle clients that lose their server are dropped, not thrown.
 */
export async function connectPool(url: string, opts: { max?: number } = {}): Promise<pg.Pool> {
  parsePostgresUrl(url);
  const pool = new pg.Pool({
    connectionString: withSessionSettings(url),
    max: opts.max ?? 8,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener
  // that would crash the process. The next query gets a fresh client (or a clear error).
  pool.on('error', () => undefined);

  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw describePgError(err, url);
  }
  return pool;
}
