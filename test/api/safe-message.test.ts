/**
 * Finding 7 (errors and logs leak): clients get error text without paths, pids or the
 * server's file names (the log keeps them); the startup banner never prints the API key; only
 * an allow-list of request headers is logged.
 */
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { safeMessage } from '../../src/api/safe-message.ts';
import type { RunningServer } from '../../src/api/server.ts';
import { curlExample } from '../../src/cli/commands/serve.ts';
import { loadConfig } from '../../src/config/load.ts';
import { RagspecError } from '../../src/util/errors.ts';
import { FakeCorpus, fakeApp, removeFakeDirs } from './helpers/fakes.ts';

afterAll(removeFakeDirs);

describe('safeMessage', () => {
  it.each([
    [
      '/srv/ragspec/data/index-3.hnsw: the file is truncated — rebuild it',
      '<path>: the file is truncated — rebuild it',
    ],
    [
      '/srv/data is being written by another ragspec process (pid 4242) — wait',
      '<path> is being written by another ragspec process (another process) — wait',
    ],
    ['cannot load model.onnx from /home/u/.ragspec/models/x', 'cannot load <file> from <path>'],
    ['C:\\Users\\u\\model.gguf: bad magic', '<path> bad magic'],
    ['bad config in ~/ragspec.json', 'bad config in <path>'],
    ['line one\n    at Object.<anonymous> (/srv/app.js:1:1)', 'line one'],
  ])('%s', (input, want) => {
    expect(safeMessage(input)).toBe(want);
  });

  it('keeps our own routes and the documents’ own names readable', () => {
    for (const keep of [
      'no route GET /v1/nothing',
      'the index is still opening — retry when /readyz answers 200',
      'path "notes/a.md" appears twice in one request',
    ])
      expect(safeMessage(keep)).toBe(keep);
  });
});

class LeakyCorpus extends FakeCorpus {
  override async search(): Promise<never> {
    throw new RagspecError('/var/lib/ragspec/data is being written by another ragspec process (pid 31337)', {
      code: 'store_busy',
      kind: 'conflict',
    });
  }
}

describe('the error handler', () => {
  it('sends the safe text to the client and keeps the full text in the log', async () => {
    const api = fakeApp();
    api.state.corpus = new LeakyCorpus();
    const r = await request(api.app).post('/v1/answer').send({ question: 'npm ci' });
    expect(r.status).toBe(409);
    expect(r.body.error.message).not.toMatch(/\/var\/lib|31337/);
    expect(r.body.error.message).toContain('being written by another ragspec process');
    expect(api.logLines.join('\n')).toContain('/var/lib/ragspec/data');
  });
});

describe('logs and banner', () => {
  it('logs only allow-listed headers: no cookies, no custom secrets', async () => {
    const api = fakeApp();
    await request(api.app)
      .get('/healthz')
      .set('User-Agent', 'probe/1.0')
      .set('Cookie', 'session=cookie-secret')
      .set('X-Api-Key', 'custom-header-secret');
    const all = api.logLines.join('\n');
    expect(all).toContain('probe/1.0');
    expect(all).not.toContain('cookie-secret');
    expect(all).not.toContain('custom-header-secret');
  });

  it('the startup banner never prints the API key', () => {
    const key = 'banner-secret-key';
    const config = loadConfig({ env: {}, overrides: { server: { apiKey: key } } });
    const line = curlExample({ url: 'http://127.0.0.1:8080' } as RunningServer, config);
    expect(line).not.toContain(key);
    expect(line).toContain('$RAGSPEC_API_KEY');
  });
});
