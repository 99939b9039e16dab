/**
 * The PostgreSQL store's failures a user meets first — a bad URL, a refused connection, a
 * database or schema that is not there — each give one line naming the fix: as a
 * RagspecError from the library, and as one stderr line (no stack) from the CLI.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { openPgCorpus } from '../../src/retrieval/pg/corpus.ts';
import { RagspecError } from '../../src/util/errors.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { runCli } from './helpers.ts';

let pgs: TestPostgres;
let refusedUrl: string;

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function failure(url: string, opts: { readOnly?: boolean } = {}): Promise<RagspecError> {
  const err = await openPgCorpus(url, opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RagspecError);
  const line = (err as RagspecError).oneLine();
  expect(line).not.toContain('\n');
  expect(line).not.toMatch(/ at .*\.(ts|js):\d+/);
  return err as RagspecError;
}

function withDb(url: string, db: string, query = ''): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  u.search = query;
  return u.toString();
}

beforeAll(async () => {
  pgs = await startTestPostgres();
  refusedUrl = `postgres://ragspec@127.0.0.1:${await closedPort()}/ragspec`;
}, 120_000);

afterAll(async () => pgs?.stop(), 60_000);

describe('PostgreSQL store errors are one line that names the fix', () => {
  it('a bad URL', async () => {
    for (const url of ['postgres://a b@@:x/', 'postgres://127.0.0.1:5432/']) {
      const e = await failure(url);
      expect(e).toMatchObject({ code: 'bad_database_url', kind: 'bad_input' });
      expect(e.oneLine()).toContain('postgres://USER:PASSWORD@HOST:5432/DATABASE');
    }
  });

  it('a refused connection', async () => {
    const e = await failure(refusedUrl);
    expect(e).toMatchObject({ code: 'database_refused', kind: 'unavailable' });
    expect(e.oneLine()).toMatch(
      /cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ \(connection refused\) — start PostgreSQL/,
    );
  });

  it('a database that does not exist', async () => {
    const e = await failure(withDb(pgs.adminUrl, 'ragspec_no_such_db'));
    expect(e).toMatchObject({ code: 'database_missing' });
    expect(e.oneLine()).toContain('createdb ragspec_no_such_db');
  });

  it('a missing schema: an empty database opened read-only, or a search_path schema that is not there', async () => {
    const empty = await pgs.createDatabase('empty');
    const e = await failure(empty, { readOnly: true });
    expect(e).toMatchObject({ code: 'schema_missing' });
    expect(e.oneLine()).toMatch(/holds no ragspec schema .* run `npx ragspec ingest --store/);

    const other = await pgs.createDatabase('path');
    const e2 = await failure(
      withDb(other, new URL(other).pathname.slice(1), '?options=-c%20search_path%3Dnosuch'),
    );
    expect(e2).toMatchObject({ code: 'schema_missing' });
    expect(e2.oneLine()).toContain('CREATE SCHEMA');
  });

  it('the CLI prints each as one line on stderr, without a stack, and exits 1', () => {
    for (const [args, expected] of [
      [['ingest', '--store', refusedUrl, '--stats'], /connection refused\) — start PostgreSQL/],
      [['ingest', '--store', 'mysql://x/y', '--stats'], /--store takes a PostgreSQL URL/],
      [['ingest', '--store', withDb(pgs.adminUrl, 'ragspec_no_such_db'), '--stats'], /createdb/],
    ] as const) {
      const r = runCli([...args]);
      expect(r.status).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
    }
  });

  it('`ragspec serve` with RAGSPEC_DATABASE_URL on a refused port says so in one line', () => {
    const r = runCli(['serve', '--port', '0'], { RAGSPEC_DATABASE_URL: refusedUrl });
    expect(r.status).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot connect to PostgreSQL/);
  });

  it('storage.kind "postgres" without a URL is a config error naming RAGSPEC_DATABASE_URL', () => {
    expect(() => loadConfig({ env: {}, overrides: { storage: { kind: 'postgres' } } })).toThrow(
      /needs storage\.url \(or RAGSPEC_DATABASE_URL\)/,
    );
    const c = loadConfig({ env: { RAGSPEC_DATABASE_URL: 'postgres://u@h/db' } });
    expect(c.storage).toMatchObject({ kind: null, url: 'postgres://u@h/db' });
  });
});
