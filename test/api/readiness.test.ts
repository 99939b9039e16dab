/**
 * Finding 6 (readiness is not true): the index and the embedder are opened before /readyz
 * says 200; a damaged index is a 503 with Retry-After whose body names no path; a failed
 * load is tried again (not cached), and a later attempt can succeed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCorpusService } from '../../src/api/runtime.ts';
import type { RunningServer } from '../../src/api/server.ts';
import { openCorpus } from '../../src/retrieval/index.ts';
import { embedderDir } from '../helpers/assets.ts';
import { FakeBackend, removeFakeDirs, startFakeServer } from './helpers/fakes.ts';
import { makeTestCorpus, removeTmpDirs, tmpDataDir } from './helpers/harness.ts';

let dataDir: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  dataDir = tmpDataDir('readiness');
  await makeTestCorpus(dataDir);
});

afterAll(async () => {
  for (const s of servers) await s.shutdown('test done');
  removeTmpDirs();
  removeFakeDirs();
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 50));
}

describe('a damaged index', () => {
  it('is 503 with Retry-After on /readyz, names no path, and a repaired index is picked up by a retry', async () => {
    const file = fs.readdirSync(dataDir).find((f) => /^index-\d+\.hnsw$/.test(f))!;
    const full = path.join(dataDir, file);
    const good = fs.readFileSync(full);
    fs.writeFileSync(full, good.subarray(0, Math.floor(good.length / 2))); // truncated
    const logLines: string[] = [];
    const srv = await startFakeServer(
      { server: { loadRetryMs: 100 } },
      async (state) => {
        state.corpus = await openCorpusService(dataDir);
        state.backend = new FakeBackend();
      },
      logLines,
    );
    servers.push(srv);
    await expect(srv.ready).rejects.toThrow();
    const r = await request(srv.url).get('/readyz');
    expect(r.status).toBe(503);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.body.status).toBe('failed');
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(dataDir);
    expect(text).not.toContain(os.tmpdir());
    expect(text).not.toMatch(/"\/|\s\/[a-z]/); // no absolute path of any kind
    expect(logLines.join('\n')).toContain(file); // the operator's log has the details

    fs.writeFileSync(full, good); // repaired: the next attempt works
    await until(async () => (await request(srv.url).get('/readyz')).status === 200);
    expect((await request(srv.url).post('/v1/answer').send({ question: 'npm ci' })).status).toBe(200);
  });
});

describe('the embedder', () => {
  it('is loaded before ready, and a failed load is tried again on the next call', async () => {
    const linkDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-emb-'));
    const link = path.join(linkDir, 'embedder');
    const corpus = await openCorpus(dataDir, { embedderDir: link, readOnly: true });
    try {
      await expect(corpus.embedder()).rejects.toThrow();
      fs.symlinkSync(embedderDir(), link); // the model arrives
      await expect(corpus.embedder()).resolves.toBeTruthy();
    } finally {
      await corpus.close();
      fs.rmSync(linkDir, { recursive: true, force: true });
    }
  });
});
