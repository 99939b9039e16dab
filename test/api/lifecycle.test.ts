/**
 * Concurrency and lifecycle: disconnect cancels the generation within one step (shown by
 * /metrics), a full queue answers 429 with Retry-After, the per-request timeout, SIGTERM-style
 * draining, and analytics surviving a restart.
 */
import http from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationBackend } from '../../src/api/deps.ts';
import type { RunningServer } from '../../src/api/server.ts';
import { sharedBackend, testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';
import { loadConfig } from '../../src/config/load.ts';
import { CorpusAdapter } from '../../src/api/corpus-adapter.ts';
import { startServer } from '../../src/api/server.ts';
import { createLogger } from '../../src/api/app.ts';
import { openCorpus } from '../../src/retrieval/index.ts';
import { metricValue, waitFor } from './helpers/metrics.ts';
import { parseStrictSse, rawPost } from './helpers/sse.ts';

/** The model keeps counting for hundreds of tokens: there is time to act mid-generation. */
const LONG = { question: 'Write the numbers from 1 to 200 separated by commas.', max_tokens: 400, top_k: 0 };

let backend: GenerationBackend;
let dataDir: string;

beforeAll(async () => {
  dataDir = tmpDataDir('lifecycle');
  await makeTestCorpus(dataDir);
  backend = await sharedBackend();
});

afterAll(async () => {
  await (await testBackend()).close?.();
  removeTmpDirs();
});

/** Open a streaming answer and resolve once `n` delta events arrived; returns the live request. */
function openStream(
  url: string,
  body: object,
  n: number,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; seen: string[] }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify({ ...body, stream: true });
    const seen: string[] = [];
    const req = http.request(
      `${url}/v1/answer`,
      { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let buf = '';
        let resolved = false;
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            seen.push(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
          if (!resolved && seen.filter((e) => e.includes('"delta"')).length >= n) {
            resolved = true;
            resolve({ req, res, seen });
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => (seen.length ? undefined : reject(e)));
    req.end(data);
  });
}

describe('readiness', () => {
  it('/readyz is 503 and generation routes answer 503 until the model and index are in', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const config = loadConfig({
      env: {},
      overrides: { server: { port: 0 }, storage: { dataDir }, log: { level: 'silent' } },
    });
    const srv = await startServer({
      config,
      logger: createLogger('silent'),
      load: async (state) => {
        await gate;
        state.corpus = new CorpusAdapter(await openCorpus(dataDir));
        state.backend = backend;
      },
    });
    try {
      expect((await request(srv.url).get('/healthz')).status).toBe(200);
      const r = await request(srv.url).get('/readyz');
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ status: 'loading', model: false, index: false });
      const a = await request(srv.url).post('/v1/answer').send({ question: 'What does npm ci do?' });
      expect(a.status).toBe(503);
      expect(a.body.error).toMatchObject({ type: 'service_unavailable', code: 'not_ready' });
      expect(a.headers['retry-after']).toBe('5');
      release();
      await srv.ready;
      expect((await request(srv.url).get('/readyz')).status).toBe(200);
    } finally {
      release();
      await srv.shutdown();
    }
  });
});

describe('one server', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startTestServer({ dataDir, backend, overrides: { server: { queueSize: 0 } } });
  });
  afterAll(async () => {
    await srv?.shutdown('test done');
  });

  it('a client disconnect stops the worker within one step and the next request is served', async () => {
    const cancelledBefore = await metricValue(srv.url, 'ragspec_generation_cancelled_total', {
      reason: 'client_closed',
    });
    const { req } = await openStream(srv.url, LONG, 3);
    req.destroy(); // the client goes away mid-generation
    await waitFor(
      async () =>
        (await metricValue(srv.url, 'ragspec_generation_cancelled_total', { reason: 'client_closed' })) >
        cancelledBefore,
      'the cancellation to be counted',
    );
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 0,
      'the worker to go idle',
    );
    expect(await metricValue(srv.url, 'ragspec_cancel_steps_after_abort')).toBeLessThanOrEqual(1);
    const gens = await metricValue(srv.url, 'ragspec_generations_total', { finish_reason: 'cancelled' });
    expect(gens).toBeGreaterThanOrEqual(1);
    const next = await request(srv.url)
      .post('/v1/answer')
      .send({ question: 'What does npm ci do?', max_tokens: 6 });
    expect(next.status).toBe(200);
  });

  it('a disconnect before the answer is sent (non-streaming) cancels too', async () => {
    const before = await metricValue(srv.url, 'ragspec_generation_cancelled_total', {
      reason: 'client_closed',
    });
    const ctrl = new AbortController();
    const p = fetch(`${srv.url}/v1/answer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(LONG),
      signal: ctrl.signal,
    }).catch((e: unknown) => e);
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 1,
      'the generation to start',
    );
    ctrl.abort();
    await p;
    await waitFor(
      async () =>
        (await metricValue(srv.url, 'ragspec_generation_cancelled_total', { reason: 'client_closed' })) >
        before,
      'the cancellation to be counted',
    );
    expect(await metricValue(srv.url, 'ragspec_cancel_steps_after_abort')).toBeLessThanOrEqual(1);
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 0,
      'the worker to go idle',
    );
  });

  it('a disconnect during prefill stops the generation before its first token', async () => {
    const before = await metricValue(srv.url, 'ragspec_generation_cancelled_total', {
      reason: 'client_closed',
    });
    const ctrl = new AbortController();
    // A long prompt (about 3k tokens) so prefill takes many forward chunks.
    const question = `${'Here is some background about package managers and lockfiles. '.repeat(200)}What does npm ci do?`;
    const p = fetch(`${srv.url}/v1/answer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ question, top_k: 0, max_tokens: 50 }),
      signal: ctrl.signal,
    }).catch((e: unknown) => e);
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 1,
      'the generation to start',
    );
    ctrl.abort();
    await p;
    await waitFor(
      async () =>
        (await metricValue(srv.url, 'ragspec_generation_cancelled_total', { reason: 'client_closed' })) >
        before,
      'the cancellation to be counted',
    );
    expect(await metricValue(srv.url, 'ragspec_cancel_steps_after_abort')).toBe(0);
    const recent = (await request(srv.url).get('/v1/analytics?window=1h')).body.recent as {
      question: string;
      finish_reason: string;
      completion_tokens: number;
    }[];
    const mine = recent.find((r) => r.question.startsWith('Here is some background'))!;
    expect(mine.finish_reason).toBe('cancelled');
    expect(mine.completion_tokens).toBe(0);
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 0,
      'the worker to go idle',
    );
  });

  it('a full queue answers 429 with Retry-After', async () => {
    const { req } = await openStream(srv.url, LONG, 1); // occupies the only worker; queue size is 0
    const r = await request(srv.url)
      .post('/v1/answer')
      .send({ question: 'What does npm ci do?', max_tokens: 4 });
    expect(r.status).toBe(429);
    expect(r.body.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const c = await request(srv.url)
      .post('/v1/chat/completions')
      .send({ model: 'ragspec', messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(c.status).toBe(429);
    expect(await metricValue(srv.url, 'ragspec_rejected_requests_total', { reason: 'queue_full' })).toBe(2);
    req.destroy();
    await waitFor(
      async () => (await metricValue(srv.url, 'ragspec_worker_busy')) === 0,
      'the worker to go idle',
    );
  });
});

describe('timeouts', () => {
  it('a generation past the per-request timeout gets 504 and the worker moves on', async () => {
    const srv = await startTestServer({ dataDir, backend, overrides: { server: { requestTimeoutMs: 100 } } });
    try {
      const r = await request(srv.url).post('/v1/answer').send(LONG);
      expect(r.status).toBe(504);
      expect(r.body.error.type).toBe('timeout_error');
      expect(await metricValue(srv.url, 'ragspec_generation_cancelled_total', { reason: 'timeout' })).toBe(1);
      expect(await metricValue(srv.url, 'ragspec_cancel_steps_after_abort')).toBeLessThanOrEqual(1);
    } finally {
      await srv.shutdown();
    }
  });
});

describe('draining and restart', () => {
  it('shutdown refuses new work with 503, lets the in-flight stream finish, and analytics survive a restart', async () => {
    const a = await startTestServer({
      dataDir,
      backend,
      overrides: { server: { shutdownGraceMs: 600_000 } },
    });
    const first = await request(a.url)
      .post('/v1/answer')
      .send({ question: 'What does npm ci do?', max_tokens: 8 });
    expect(first.status).toBe(200);
    const inflight = rawPost(a.url, '/v1/answer', { ...LONG, max_tokens: 24, stream: true });
    await waitFor(async () => (await metricValue(a.url, 'ragspec_worker_busy')) === 1, 'the stream to start');
    const closing = a.shutdown('SIGTERM (test)');
    const refused = await request(a.url).post('/v1/answer').send({ question: 'hello?' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('shutting_down');
    expect((await request(a.url).get('/readyz')).status).toBe(503);
    const done = await inflight;
    expect(parseStrictSse(done.body).done).toBe(true); // finished, not cut
    await closing;

    const b = await startTestServer({ dataDir, backend });
    try {
      const an = await request(b.url).get('/v1/analytics?window=all');
      expect(an.status).toBe(200);
      const ids = an.body.recent.map((r: { id: string }) => r.id);
      expect(ids).toContain(first.body.id);
      expect(an.body.requests).toBeGreaterThanOrEqual(2);
    } finally {
      await b.shutdown();
    }
  });
});
