/**
 * Finding 2 (bounded work per request) through HTTP on the real server wiring, real corpus
 * and embedder, with a stand-in model: the 64 parts × 32,000 characters chat message is
 * refused with a 4xx while /healthz keeps answering.
 */
import http from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { FakeBackend } from './helpers/fakes.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';

let srv: RunningServer;

beforeAll(async () => {
  const dataDir = tmpDataDir('limits');
  await makeTestCorpus(dataDir);
  srv = await startTestServer({ dataDir, backend: new FakeBackend() });
});

afterAll(async () => {
  await srv?.shutdown('test done');
  removeTmpDirs();
});

/** 32,000 characters of words no other part shares. */
function uniquePart(p: number): string {
  const words: string[] = [];
  let n = 0;
  for (let i = 0; n < 31_990; i++) {
    const w = `p${p}w${i.toString(36)}`;
    words.push(w);
    n += w.length + 1;
  }
  return words.join(' ').slice(0, 32_000);
}

function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/chat/completions`,
      { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('one huge chat request', () => {
  it('is refused with a 4xx while /healthz keeps answering', async () => {
    const parts = Array.from({ length: 64 }, (_, i) => ({ type: 'text', text: uniquePart(i) }));
    const body = JSON.stringify({ model: 'ragspec', messages: [{ role: 'user', content: parts }] });
    expect(body.length).toBeGreaterThan(2_000_000);
    const big = post(srv.url, body);
    // Liveness, not a benchmark: the bound is generous (a stalled event loop took minutes).
    const health = await request(srv.url).get('/healthz').timeout(20_000);
    expect(health.status).toBe(200);
    const r = await big;
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(JSON.parse(r.body).error.message).toMatch(/characters/);
    expect((await request(srv.url).get('/healthz')).status).toBe(200);
  });
});
