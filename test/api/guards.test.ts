/**
 * Finding 1 (auth): with a key set, every route but the public few needs it, reads included,
 * and the key is checked before the body is parsed; cross-origin and rebinding writes are
 * refused even without a key.
 */
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeApp, removeFakeDirs } from './helpers/fakes.ts';

const KEY = 'guard-test-key';
afterAll(removeFakeDirs);

describe('API key', () => {
  const api = fakeApp({ server: { apiKey: KEY } });
  const doc = { path: 'notes/a.md', text: '# A\n\nsecret text' };

  it('guards every read route: documents list and get, analytics, the dashboard and its script', async () => {
    const up = await request(api.app).post('/v1/documents').set('Authorization', `Bearer ${KEY}`).send(doc);
    expect(up.status).toBe(201);
    const id = up.body.documents[0].id as string;
    for (const p of [
      '/v1/documents',
      `/v1/documents/${id}`,
      '/v1/analytics',
      '/analytics',
      '/analytics/chart.js',
    ]) {
      const r = await request(api.app).get(p);
      expect(r.status, p).toBe(401);
      expect(JSON.stringify(r.body), p).not.toContain('secret text');
      const ok = await request(api.app).get(p).set('Authorization', `Bearer ${KEY}`);
      expect(ok.status, p).not.toBe(401);
    }
  });

  it('leaves /healthz, /readyz, /metrics and /v1/models open', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/v1/models', '/v1/models/ragspec'])
      expect((await request(api.app).get(p)).status, p).toBe(200);
  });

  it('checks the key before the body is parsed: a broken body without a key is 401, not 400', async () => {
    const r = await request(api.app)
      .post('/v1/answer')
      .set('Content-Type', 'application/json')
      .send('{"question": ');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_api_key');
  });
});

describe('writes from web pages (no key set)', () => {
  const api = fakeApp();

  it('refuses a cross-origin text/plain upload (the no-preflight form post) and plants nothing', async () => {
    const r = await request(api.app)
      .post('/v1/documents?path=planted.md')
      .set('Origin', 'http://evil.example')
      .set('Content-Type', 'text/plain')
      .send('planted text');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('cross_origin');
    expect(api.corpus.ingested).toBe(0);
  });

  it('refuses a request whose Host is not a loopback name (DNS rebinding) on a loopback server', async () => {
    const r = await request(api.app)
      .post('/v1/documents?path=planted.md')
      .set('Host', 'rebound.example:8080')
      .set('Origin', 'http://rebound.example:8080')
      .set('Content-Type', 'text/plain')
      .send('planted text');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('host_not_allowed');
    expect(api.corpus.ingested).toBe(0);
  });

  it('still takes same-origin and non-browser uploads', async () => {
    const plain = await request(api.app)
      .post('/v1/documents?path=ok.md')
      .set('Content-Type', 'text/plain')
      .send('fine');
    expect(plain.status).toBe(201);
    const host = '127.0.0.1:8080';
    const same = await request(api.app)
      .post('/v1/documents?path=ok2.md')
      .set('Host', host)
      .set('Origin', `http://${host}`)
      .set('Content-Type', 'text/plain')
      .send('fine');
    expect(same.status).toBe(201);
  });
});
