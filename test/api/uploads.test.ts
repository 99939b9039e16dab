/**
 * Finding 3 (uploads bypassed the queue and the timeout): document writes wait in a bounded
 * queue — a full one is 429 with Retry-After, a wait past the request timeout is 504 — and a
 * refused upload writes nothing.
 */
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import type { DocumentUpload, IngestOutcome } from '../../src/api/deps.ts';
import { FakeCorpus, fakeApp, removeFakeDirs } from './helpers/fakes.ts';

afterAll(removeFakeDirs);

/** Ingest that holds the writer until the test opens the gate. */
class GatedCorpus extends FakeCorpus {
  open!: () => void;
  gate = new Promise<void>((r) => (this.open = r));
  override async ingest(docs: DocumentUpload[]): Promise<IngestOutcome> {
    await this.gate;
    return super.ingest(docs);
  }
}

function upload(app: import('express').Express, path: string) {
  return request(app).post(`/v1/documents?path=${path}`).set('Content-Type', 'text/plain').send('text');
}

describe('document uploads', () => {
  it('wait in a bounded queue: one writing, ingestQueueSize waiting, the next is 429', async () => {
    const api = fakeApp({ server: { ingestQueueSize: 1 } });
    const corpus = new GatedCorpus();
    api.state.corpus = corpus;
    const first = upload(api.app, 'a.md').then((r) => r);
    await waitUntil(() => api.writes.busy);
    const second = upload(api.app, 'b.md').then((r) => r);
    await waitUntil(() => api.writes.depth === 1);
    const third = await upload(api.app, 'c.md');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toMatch(/^\d+$/);
    corpus.open();
    expect((await first).status).toBe(201);
    expect((await second).status).toBe(201);
    expect(corpus.ingested).toBe(2);
  });

  it('a wait in the queue past the request timeout is 504, and that upload never runs', async () => {
    const api = fakeApp({ server: { requestTimeoutMs: 2500 } });
    const corpus = new GatedCorpus();
    api.state.corpus = corpus;
    const first = upload(api.app, 'a.md').then((r) => r);
    await waitUntil(() => api.writes.busy);
    const second = await upload(api.app, 'b.md');
    expect(second.status).toBe(504);
    corpus.open();
    expect((await first).status).toBe(201); // started before the timeout: runs to its commit
    expect([...corpus.docs.values()].map((d) => d.path)).toEqual(['a.md']);
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
