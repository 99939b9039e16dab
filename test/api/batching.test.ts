/**
 * The server with a batching backend: up to its `concurrency` generations run at once through
 * the worker (the rest queue as before), and the batched steps and queue waits reach /metrics.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { GenerationBackend } from '../../src/api/deps.ts';
import type { GenerationRequest, GenerationResult } from '../../src/engine/types.ts';
import { FakeBackend, FakeCorpus, fakeStats, removeFakeDirs, startFakeServer } from './helpers/fakes.ts';
import { metricValue, waitFor } from './helpers/metrics.ts';

afterAll(removeFakeDirs);

/** Holds every generation until `open()`; reports one batched step per generation. */
class BatchingBackend extends FakeBackend implements GenerationBackend {
  readonly concurrency = 3;
  inFlight = 0;
  maxInFlight = 0;
  private listeners: ((t: { requests: number; rows: number; forwards: number }) => void)[] = [];
  private release!: () => void;
  private gate = new Promise<void>((r) => (this.release = r));
  onBatchStep(l: (t: { requests: number; rows: number; forwards: number }) => void): void {
    this.listeners.push(l);
  }
  open(): void {
    this.release();
  }
  override async generate(_req?: GenerationRequest): Promise<GenerationResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await this.gate;
    for (const l of this.listeners) l({ requests: this.inFlight, rows: 2 * this.inFlight, forwards: 1 });
    this.inFlight--;
    const stats = { ...fakeStats(), batch: { queueWaitMs: 0, meanRequests: 3, meanRows: 6 } };
    return { text: 'ok.', tokens: [1, 2], finishReason: 'stop', copiedSpans: [], stats };
  }
}

describe('server with continuous batching', () => {
  it('runs up to the backend’s concurrency at once, queues the rest, and exports batch metrics', async () => {
    const backend = new BatchingBackend();
    const srv = await startFakeServer({}, async (state) => {
      state.corpus = new FakeCorpus();
      state.backend = backend;
    });
    await srv.ready;
    const ask = () =>
      fetch(`${srv.url}/v1/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'What does npm ci do?' }),
      });
    const replies = Array.from({ length: 4 }, ask);
    await waitFor(async () => backend.inFlight === 3, 'three generations in flight');
    expect(await metricValue(srv.url, 'ragspec_queue_depth')).toBe(1);
    expect(await metricValue(srv.url, 'ragspec_worker_busy')).toBe(3);
    backend.open();
    const res = await Promise.all(replies);
    expect(res.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(backend.maxInFlight).toBe(3);
    expect(await metricValue(srv.url, 'ragspec_batch_size_count')).toBe(4);
    expect(await metricValue(srv.url, 'ragspec_batch_rows_sum')).toBeGreaterThan(0);
    expect(await metricValue(srv.url, 'ragspec_queue_wait_seconds_count')).toBe(4);
    await srv.shutdown('test done');
  });
});
