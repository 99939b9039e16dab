/**
 * A real PostgreSQL for tests. With RAGSPEC_TEST_DATABASE_URL set (CI starts a cluster and
 * sets it), each test file gets fresh databases on that server. Otherwise a throwaway
 * cluster is made with Debian's PostgreSQL 15 binaries (initdb + pg_ctl, as the `postgres`
 * user when running as root) in a temp folder, and stopped by `stop()`. When neither works
 * the helper FAILS with how to install PostgreSQL; it never skips.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const INSTALL_HINT =
  'install PostgreSQL 15 (Debian: apt-get install postgresql-15) so /usr/lib/postgresql/15/bin/initdb exists, ' +
  'or set RAGSPEC_TEST_DATABASE_URL to a server where this user may CREATE DATABASE';

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

export interface TestPostgres {
  /** A URL of the server's maintenance database (postgres). */
  adminUrl: string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(tag?: string): Promise<string>;
  /** Drops the databases made here; stops the cluster when this helper started it. */
  stop(): Promise<void>;
}

function findBin(name: string): string | null {
  for (const d of BIN_DIRS) if (fs.existsSync(path.join(d, name))) return path.join(d, name);
  const w = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return w.status === 0 ? w.stdout.trim() : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary, as the postgres user when we are root (initdb refuses root). */
function runPg(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0)
    throw new Error(
      `${path.basename(bin)} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout).trim().slice(-400)} — ${INSTALL_HINT}`,
    );
}

async function startCluster(): Promise<{ url: string; stop: () => void }> {
  const initdb = findBin('initdb');
  const pgCtl = findBin('pg_ctl');
  if (!initdb || !pgCtl) throw new Error(`PostgreSQL's initdb/pg_ctl were not found — ${INSTALL_HINT}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-pg-'));
  const data = path.join(root, 'data');
  fs.mkdirSync(data);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', root]);
  fs.chmodSync(root, 0o755);
  runPg(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  runPg(pgCtl, [
    '-D',
    data,
    '-l',
    path.join(root, 'log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-k ${root} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        runPg(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Starts (or connects to) the test server. Call in beforeAll; `stop()` in afterAll. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const given = process.env.RAGSPEC_TEST_DATABASE_URL;
  const cluster = given ? null : await startCluster();
  const adminUrl = given ?? cluster!.url;
  const made: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    try {
      await c.connect();
    } catch (err) {
      throw new Error(`cannot connect to the test PostgreSQL (${(err as Error).message}) — ${INSTALL_HINT}`);
    }
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    adminUrl,
    async createDatabase(tag = 't') {
      const name = `ragspec_${tag.replace(/\W/g, '_').toLowerCase()}_${process.pid}_${made.length}_${Date.now() % 100000}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      made.push(name);
      return withDatabase(adminUrl, name);
    },
    async stop() {
      if (given)
        await admin(async (c) => {
          for (const name of made) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        });
      cluster?.stop();
    },
  };
}
