/**
 * Every malformed request gets a 4xx with the OpenAI error envelope — never a 5xx, never a
 * stack trace — with its pinned `code` and `param`, and the server keeps answering
 * afterwards. The checker is shown to fail on responses with a planted wrong field.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';
import { envelopeProblems, malformedRequests, type BadRequest } from './helpers/malformed.ts';

const KEY = 'test-key-123';
let srv: RunningServer;

beforeAll(async () => {
  const dataDir = tmpDataDir('validation');
  await makeTestCorpus(dataDir);
  srv = await startTestServer({
    dataDir,
    backend: testBackend,
    overrides: { server: { apiKey: KEY }, generation: { maxTokensCap: 8192 } },
  });
});

afterAll(async () => {
  await srv?.shutdown('test done');
  removeTmpDirs();
});

function send(r: BadRequest) {
  const agent = request(srv.url);
  let req =
    r.method === 'GET'
      ? agent.get(r.path)
      : r.method === 'DELETE'
        ? agent.delete(r.path)
        : agent.post(r.path);
  const auth = r.auth ?? 'good';
  if (auth === 'good') req = req.set('Authorization', `Bearer ${KEY}`);
  if (auth === 'wrong') req = req.set('Authorization', 'Bearer nope');
  if (r.raw !== undefined) return req.set('Content-Type', r.contentType ?? 'application/json').send(r.raw);
  if (r.body !== undefined) return req.send(r.body as object);
  return req;
}

describe('malformed requests', () => {
  const cases = malformedRequests();

  it('has at least 30 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it('answers every one with the expected 4xx, code and param, and none with a 5xx', async () => {
    const statuses: Record<string, number> = {};
    const problems: Record<string, string[]> = {};
    for (const c of cases) {
      const res = await send(c);
      statuses[c.name] = res.status;
      const p = envelopeProblems(c, res);
      if (p.length) problems[c.name] = p;
    }
    expect(problems).toEqual({});
    expect(Object.values(statuses).filter((s) => s >= 500)).toEqual([]);
  });

  it('the checker refuses a wrong param, a wrong code and a missing envelope', async () => {
    const c = cases.find((x) => x.name === 'answer: top_k negative')!;
    const res = await send(c);
    expect(envelopeProblems(c, res)).toEqual([]);
    // planted: the same response naming another field, or with another code
    const wrongParam = { ...res, body: { error: { ...res.body.error, param: 'question' } } };
    expect(envelopeProblems(c, wrongParam)).toEqual(['param "question", want "top_k"']);
    const noCode = { ...res, body: { error: { ...res.body.error, code: null } } };
    expect(envelopeProblems(c, noCode)).toEqual(['code null, want "invalid_value"']);
    expect(envelopeProblems(c, { ...res, body: { message: 'x' } })).toHaveLength(1);
  });

  it('names the numbers when the prompt does not fit the context window', async () => {
    const c = malformedRequests().find((x) => x.code === 'context_length_exceeded')!;
    const res = await send(c);
    expect(res.body.error.message).toMatch(/prompt is \d+ tokens .* context window is \d+ tokens/);
  });

  it('still answers afterwards', async () => {
    expect((await request(srv.url).get('/healthz')).status).toBe(200);
    const res = await request(srv.url)
      .post('/v1/answer')
      .set('Authorization', `Bearer ${KEY}`)
      .send({ question: 'What does npm ci do?', max_tokens: 8 });
    expect(res.status).toBe(200);
    expect(typeof res.body.answer).toBe('string');
    const metrics = (await request(srv.url).get('/metrics')).text;
    expect(metrics).not.toMatch(/ragspec_http_requests_total\{[^}]*status="5\d\d"/);
  });
});
