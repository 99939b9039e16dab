/**
 * Stateless replicas on one real PostgreSQL: replica A is its own server process
 * (test/api/helpers/pg-replica.ts), replica B runs in this process. Shown:
 * - a document POSTed to A is found by a search on B (B's index catches up by generation);
 * - analytics recorded by either replica are aggregated by both, and A's data folder is
 *   never created (nothing a replica needs is on its local disk);
 * - SIGKILLing A in the middle of a multi-commit upload (A commits 16 passages at a time) leaves B serving, the store holding
 *   whole documents only (committed groups), B's index equal to the stored passages, and
 *   the upload finishing through B (committed documents skipped as unchanged).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorpusAdapter } from '../../src/api/corpus-adapter.ts';
import { startServer, type RunningServer } from '../../src/api/server.ts';
import { createLogger } from '../../src/api/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openPgCorpus, type PgCorpus } from '../../src/retrieval/pg/corpus.ts';
import { repoRoot } from '../../src/util/paths.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { sharedEmbedder } from '../retrieval/helpers.ts';
import { FakeBackend } from './helpers/fakes.ts';

let pgs: TestPostgres;
let url: string;
let a: { child: ChildProcess; url: string } | null = null;
let b: RunningServer;
let bCorpus: PgCorpus;
/** Replica A's data folder: it must never be created (a replica keeps nothing on local disk). */
const aDataDir = path.join(os.tmpdir(), `ragspec-replica-a-${process.pid}-never`);

function startReplicaA(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'bin', 'run-ts.js'),
        path.join(repoRoot, 'test', 'api', 'helpers', 'pg-replica.ts'),
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, RAGSPEC_DATABASE_URL: url, RAGSPEC_DATA_DIR: aDataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) =>
      reject(new Error(`replica A exited (${code}) before ready: ${err.slice(-500)}`)),
    );
  });
}

/** A document of `sections` passage-sized sections about `topic`. */
function bigDoc(i: number, sections = 4): { path: string; title: string; text: string } {
  const words = ['lockfile', 'registry', 'workspace', 'tarball', 'semver', 'scope', 'cache', 'audit'];
  const body = Array.from({ length: sections }, (_, s) => {
    const sentence = (k: number) =>
      `Topic ${i} section ${s} sentence ${k} explains how the ${words[(i + s + k) % words.length]} of package ${i}-${s} behaves during an install.`;
    return `## Part ${s}\n\n${Array.from({ length: 9 }, (_, k) => sentence(k)).join(' ')}`;
  }).join('\n\n');
  return { path: `bulk/doc-${i}.md`, title: `Bulk ${i}`, text: `# Bulk ${i}\n\n${body}\n` };
}

async function generation(): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query('SELECT generation FROM corpus_state')).rows[0].generation);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  pgs = await startTestPostgres();
  url = await pgs.createDatabase('replicas');
  const config = loadConfig({
    env: {},
    overrides: { server: { host: '127.0.0.1', port: 0 }, storage: { url }, log: { level: 'silent' } },
  });
  b = await startServer({
    config,
    logger: createLogger('silent'),
    load: async (state) => {
      bCorpus = await openPgCorpus(url, { embedder: await sharedEmbedder() });
      state.corpus = new CorpusAdapter(bCorpus);
      await (state.corpus as CorpusAdapter).open();
      state.backend = new FakeBackend();
    },
  });
  await b.ready;
  a = await startReplicaA();
}, 180_000);

afterAll(async () => {
  a?.child.kill('SIGKILL');
  await b?.shutdown();
  await pgs?.stop();
}, 60_000);

describe('two replicas on one PostgreSQL', () => {
  it('a document POSTed to replica A is found by a search on replica B', async () => {
    const up = await request(a!.url).post('/v1/documents').send({
      path: 'notes/quokka.md',
      title: 'Quokka notes',
      text: '# Quokka\n\nThe quokka flag turns on verbose uploads.\n',
    });
    expect(up.status).toBe(201);
    // B committed nothing and was never told: its next search reads the new generation.
    const hits = await b.state.corpus!.search('quokka flag verbose', { k: 3 });
    expect(hits[0]).toMatchObject({ path: 'notes/quokka.md', title: 'Quokka notes' });
    expect(hits[0]!.scores.dense).not.toBeNull(); // through B's in-memory HNSW index too
    const listed = await request(b.url).get('/v1/documents');
    expect(listed.body.data.map((d: { path: string }) => d.path)).toContain('notes/quokka.md');
  });

  it('analytics from both replicas are aggregated on either one', async () => {
    for (const target of [a!.url, b.url]) {
      const r = await request(target).post('/v1/answer').send({ question: 'What does the quokka flag do?' });
      expect(r.status).toBe(200);
    }
    // Each replica writes its record after answering, fire-and-forget (analytics never
    // delays or fails an answer), and reads flush only their own pending writes: the other
    // replica's record shows up within the delay of one INSERT. Poll, bounded.
    for (const target of [a!.url, b.url]) {
      let requests = 0;
      for (let tries = 0; tries < 50 && requests < 2; tries++) {
        if (tries > 0) await new Promise((r) => setTimeout(r, 100));
        const r = await request(target).get('/v1/analytics?window=1h');
        expect(r.status).toBe(200);
        requests = r.body.requests;
      }
      expect(requests).toBe(2);
    }
    // A uploaded, answered and recorded analytics without touching its local data folder.
    expect(fs.existsSync(aDataDir)).toBe(false);
  });

  it('killing A during a multi-commit upload leaves B serving and the store consistent', async () => {
    const docs = Array.from({ length: 12 }, (_, i) => bigDoc(i));
    const before = await generation();
    // ~48 passages: A commits whole documents in groups of <= 16 passages, so at least
    // three commits; it is killed as soon as the first group is in.
    const upload = request(a!.url)
      .post('/v1/documents')
      .send({ documents: docs })
      .then(
        () => 'answered',
        () => 'cut',
      );
    while ((await generation()) === before) await new Promise((r) => setTimeout(r, 20));
    a!.child.kill('SIGKILL');
    expect(await upload).toBe('cut');
    a = null;

    // B still answers, over HTTP and in search.
    expect((await request(b.url).get('/readyz')).status).toBe(200);
    const ans = await request(b.url).post('/v1/answer').send({ question: 'lockfile of package 3-4' });
    expect(ans.status).toBe(200);

    // Only whole documents: each stored bulk document has all its passages, in order.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    let stored: string[];
    try {
      const rows = (
        await c.query<{ path: string; n: string; ords: number[] }>(
          `SELECT d.path, count(p.id) AS n, array_agg(p.ord ORDER BY p.ord) AS ords
           FROM documents d LEFT JOIN passages p ON p.doc_id = d.id
           WHERE d.path LIKE 'bulk/%' GROUP BY d.path`,
        )
      ).rows;
      stored = rows.map((r) => r.path);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThan(docs.length);
      for (const r of rows) {
        expect(Number(r.n)).toBeGreaterThan(0);
        expect(r.ords).toEqual(r.ords.map((_, i) => i));
      }
    } finally {
      await c.end();
    }
    // B's index holds exactly the stored passages.
    const live = (await bCorpus.denseIndex()).liveLabels().sort((x, y) => x - y);
    expect(live).toEqual(await bCorpus.store.allPassageIds());

    // The same upload through B finishes the job: committed documents are unchanged.
    const again = await request(b.url).post('/v1/documents').send({ documents: docs });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ unchanged: stored.length, added: docs.length - stored.length });
    const hit = await b.state.corpus!.search('Topic 11 section 3 sentence 2', { k: 3, method: 'bm25' });
    expect(hit[0]!.path).toBe('bulk/doc-11.md');
  });
});
