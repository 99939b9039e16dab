/**
 * Every endpoint through HTTP on the real server wiring: /v1/answer (JSON and SSE), chat
 * completions (exact OpenAI shapes, include_usage), models, documents, analytics, metrics,
 * health, plus log redaction.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';
import { parseStrictSse, rawPost } from './helpers/sse.ts';

const KEY = 'secret-key-for-tests';
let srv: RunningServer;
const logLines: string[] = [];
const auth = { Authorization: `Bearer ${KEY}` };
const QUESTION = 'What does npm ci do?';

beforeAll(async () => {
  const dataDir = tmpDataDir('server');
  await makeTestCorpus(dataDir);
  srv = await startTestServer({
    dataDir,
    backend: testBackend,
    overrides: { server: { apiKey: KEY } },
    logLines,
  });
});

afterAll(async () => {
  await srv?.shutdown('test done');
  removeTmpDirs();
});

describe('health', () => {
  it('healthz and readyz answer 200 once loaded', async () => {
    expect((await request(srv.url).get('/healthz')).body).toEqual({ status: 'ok' });
    const r = await request(srv.url).get('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ready', model: true, index: true });
  });
});

describe('POST /v1/answer', () => {
  it('answers with citations, usage and speculative stats', async () => {
    const r = await request(srv.url)
      .post('/v1/answer')
      .set(auth)
      .send({ question: QUESTION, max_tokens: 16, top_k: 2 });
    expect(r.status).toBe(200);
    const b = r.body;
    expect(typeof b.answer).toBe('string');
    expect(b.answer.length).toBeGreaterThan(0);
    expect(b.citations).toHaveLength(2);
    for (const c of b.citations) {
      expect(Object.keys(c)).toEqual(
        expect.arrayContaining(['doc', 'title', 'passage_id', 'text', 'copied_spans']),
      );
      expect(Array.isArray(c.copied_spans)).toBe(true);
      // every copied span is really text of its passage and of the answer
      for (const s of c.copied_spans) {
        expect(b.answer.slice(s.answer_start, s.answer_end)).toBe(s.text);
      }
    }
    expect(b.citations[0].doc).toBe('commands/npm-ci.md');
    expect(b.usage.completion_tokens).toBeGreaterThan(0);
    expect(b.usage.total_tokens).toBe(b.usage.prompt_tokens + b.usage.completion_tokens);
    expect(b.speculative).toMatchObject({
      steps: expect.any(Number),
      draft_tokens: expect.any(Number),
      accepted_tokens: expect.any(Number),
    });
    expect(b.speculative.by_source).toBeTypeOf('object');
    expect(b.speculative.tokens_per_step).toBeGreaterThan(0);
  });

  it('top_k 0 turns retrieval off', async () => {
    const r = await request(srv.url)
      .post('/v1/answer')
      .set(auth)
      .send({ question: QUESTION, max_tokens: 8, top_k: 0 });
    expect(r.status).toBe(200);
    expect(r.body.citations).toEqual([]);
  });

  it('streams token deltas then one final event, with byte-exact SSE framing', async () => {
    const body = { question: QUESTION, max_tokens: 16, top_k: 2, stream: true };
    const raw = await rawPost(srv.url, '/v1/answer', body, auth);
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const { events, done } = parseStrictSse(raw.body);
    expect(done).toBe(true);
    const typed = events as { type: string; text?: string; answer?: string; citations?: unknown[] }[];
    expect(typed[0]!.type).toBe('start');
    const final = typed[typed.length - 1]!;
    expect(final.type).toBe('done');
    const deltas = typed.slice(1, -1);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.every((e) => e.type === 'delta')).toBe(true);
    expect(deltas.map((e) => e.text).join('')).toBe(final.answer);
    expect(final.citations).toHaveLength(2);
    // The same request without streaming gives the same answer (greedy).
    const plain = await request(srv.url)
      .post('/v1/answer')
      .set(auth)
      .send({ ...body, stream: false });
    expect(plain.body.answer).toBe(final.answer);
  });
});

describe('POST /v1/chat/completions', () => {
  const base = { model: 'ragspec', messages: [{ role: 'user', content: QUESTION }], max_tokens: 16 };

  it('returns the exact chat.completion shape', async () => {
    const r = await request(srv.url).post('/v1/chat/completions').set(auth).send(base);
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.id).toMatch(/^chatcmpl-/);
    expect(b.object).toBe('chat.completion');
    expect(b.model).toBe('ragspec');
    expect(Number.isInteger(b.created)).toBe(true);
    expect(b.choices).toHaveLength(1);
    expect(b.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: expect.any(String), refusal: null },
      logprobs: null,
      finish_reason: expect.stringMatching(/^(stop|length)$/),
    });
    expect(b.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
    });
    expect(b.ragspec.citations.length).toBeGreaterThan(0); // retrieval is on by default
  });

  it('retrieval: false turns retrieval off for the request', async () => {
    const on = await request(srv.url).post('/v1/chat/completions').set(auth).send(base);
    const off = await request(srv.url)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ ...base, retrieval: false });
    expect(off.status).toBe(200);
    expect(off.body.ragspec.citations).toEqual([]);
    expect(off.body.usage.prompt_tokens).toBeLessThan(on.body.usage.prompt_tokens);
  });

  it('streams chat.completion.chunk events with a usage chunk before [DONE]', async () => {
    const raw = await rawPost(
      srv.url,
      '/v1/chat/completions',
      { ...base, stream: true, stream_options: { include_usage: true } },
      auth,
    );
    expect(raw.status).toBe(200);
    const { events, done } = parseStrictSse(raw.body);
    expect(done).toBe(true);
    type Chunk = {
      id: string;
      object: string;
      choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null }[];
      usage?: unknown;
    };
    const chunks = events as Chunk[];
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const usage = chunks[chunks.length - 1]!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
    });
    const finish = chunks[chunks.length - 2]!;
    expect(finish.choices[0]!.delta).toEqual({});
    expect(finish.choices[0]!.finish_reason).toMatch(/^(stop|length)$/);
    const middle = chunks.slice(0, -2);
    expect(middle.every((c) => c.choices[0]!.finish_reason === null && c.usage === null)).toBe(true);
    const text = middle.map((c) => c.choices[0]!.delta.content ?? '').join('');
    const plain = await request(srv.url).post('/v1/chat/completions').set(auth).send(base);
    expect(text).toBe(plain.body.choices[0].message.content);
  });

  it('without include_usage, no usage chunk and no usage field', async () => {
    const raw = await rawPost(srv.url, '/v1/chat/completions', { ...base, stream: true }, auth);
    const { events } = parseStrictSse(raw.body);
    const chunks = events as { choices: unknown[]; usage?: unknown }[];
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
  });
});

describe('GET /v1/models', () => {
  it('lists the model and is public', async () => {
    const r = await request(srv.url).get('/v1/models');
    expect(r.status).toBe(200);
    expect(r.body.object).toBe('list');
    expect(r.body.data.map((m: { id: string }) => m.id)).toContain('ragspec');
    const one = await request(srv.url).get('/v1/models/ragspec');
    expect(one.body).toEqual({
      id: 'ragspec',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'ragspec',
    });
  });
});

describe('documents', () => {
  it('lists, ingests (JSON and text), gets and deletes', async () => {
    const list = await request(srv.url).get('/v1/documents').set(auth);
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(3);
    const before = list.body.total as number;

    const up = await request(srv.url).post('/v1/documents').set(auth).send({
      path: 'notes/lockfiles.md',
      title: 'Lockfiles',
      text: '# Lockfiles\n\nA lockfile pins every dependency to an exact version so installs repeat.',
    });
    expect(up.status).toBe(201);
    expect(up.body.added).toBe(1);
    const id = up.body.documents[0].id as string;
    expect(up.body.documents[0].path).toBe('notes/lockfiles.md');

    const txt = await request(srv.url)
      .post('/v1/documents?path=notes/plain.txt&title=Plain')
      .set(auth)
      .set('Content-Type', 'text/plain')
      .send('Plain text about npm audit fixing vulnerabilities.');
    expect(txt.status).toBe(201);

    const got = await request(srv.url).get(`/v1/documents/${id}`).set(auth);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, path: 'notes/lockfiles.md', title: 'Lockfiles' });
    expect(got.body.text).toContain('pins every dependency');
    expect((await request(srv.url).get('/v1/documents?prefix=notes/').set(auth)).body.total).toBe(2);

    // The new passage is retrievable through the answer endpoint.
    const ans = await request(srv.url)
      .post('/v1/answer')
      .set(auth)
      .send({ question: 'What does a lockfile pin?', top_k: 1, max_tokens: 4, path_prefix: 'notes/' });
    expect(ans.body.citations[0].doc).toMatch(/^notes\//);

    const del = await request(srv.url).delete(`/v1/documents/${id}`).set(auth);
    expect(del.body).toEqual({ id, object: 'document', deleted: true });
    expect((await request(srv.url).get(`/v1/documents/${id}`).set(auth)).status).toBe(404);
    expect((await request(srv.url).get('/v1/documents').set(auth)).body.total).toBe(before + 1);
  });
});

describe('analytics and metrics', () => {
  it('GET /v1/analytics summarises the generations so far', async () => {
    const r = await request(srv.url).get('/v1/analytics?window=1h').set(auth);
    expect(r.status).toBe(200);
    const a = r.body;
    expect(a.requests).toBeGreaterThanOrEqual(5);
    for (const k of [
      'by_source',
      'mean_acceptance_length',
      'acceptance_length_histogram',
      'accepted_per_position',
      'tree_sizes',
      'tokens_per_target_forward',
      'decode_tokens_per_second',
      'estimated_speedup',
      'recent',
    ])
      expect(a, k).toHaveProperty(k);
    expect(a.tokens_per_target_forward).toBeGreaterThan(0);
    expect(a.recent.length).toBeGreaterThan(0);
    expect(a.acceptance_length_histogram.reduce((x: number, y: number) => x + y, 0)).toBe(a.steps);
  });

  it('GET /metrics exposes request, queue and spec-decode series', async () => {
    const r = await request(srv.url).get('/metrics');
    expect(r.status).toBe(200);
    for (const name of [
      'ragspec_http_requests_total',
      'ragspec_http_request_duration_seconds',
      'ragspec_queue_depth',
      'ragspec_spec_decode_num_drafts_total',
      'ragspec_spec_decode_num_draft_tokens_total',
      'ragspec_spec_decode_num_accepted_tokens_total',
      'ragspec_spec_decode_num_accepted_tokens_per_pos_total',
      'ragspec_spec_decode_target_forwards_total',
    ])
      expect(r.text, name).toContain(`# TYPE ${name}`);
    expect(r.text).toMatch(
      /ragspec_http_requests_total\{method="POST",route="\/v1\/answer",status="200"\} \d+/,
    );
    expect(r.text).toMatch(/ragspec_spec_decode_target_forwards_total [1-9]/);
    // hybrid answers over retrieved passages proposed drafts, labelled by source
    expect(r.text).toMatch(
      /ragspec_spec_decode_num_draft_tokens_total\{source="(passage|prompt|output|model)"\} [1-9]/,
    );
    expect(r.text).toMatch(/ragspec_queue_depth 0/);
  });
});

describe('logs', () => {
  it('never contain the API key', () => {
    const all = logLines.join('');
    expect(all).toContain('"host"'); // request headers are logged (an allow-list of them)
    expect(all).not.toContain(KEY);
  });
});
