/** The model worker: one job at a time, bounded queue, cancellation while waiting. */
import { describe, expect, it } from 'vitest';
import { QueueFullError, RequestTimeoutError } from '../../src/api/errors.ts';
import { ClientClosedError, ModelWorker } from '../../src/api/worker.ts';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('ModelWorker', () => {
  it('runs up to `concurrency` jobs at once (continuous batching), the rest queue in order', async () => {
    const w = new ModelWorker({ queueSize: 5, timeoutMs: 60_000, concurrency: () => 3 });
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const jobs = gates.map((g, i) =>
      w.run(async () => {
        started.push(i);
        await g.p;
      }),
    );
    expect(started).toEqual([0, 1, 2]);
    expect(w.depth).toBe(1);
    gates[1]!.open();
    await jobs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3]);
    expect(w.depth).toBe(0);
    for (const g of gates) g.open();
    await Promise.all(jobs);
    await w.idle();
    expect(w.busy).toBe(false);
  });

  it('runs jobs one at a time in order', async () => {
    const w = new ModelWorker({ queueSize: 5, timeoutMs: 60_000 });
    const log: string[] = [];
    const g = gate();
    const a = w.run(async () => {
      log.push('a start');
      await g.p;
      log.push('a end');
    });
    const b = w.run(async () => {
      log.push('b');
    });
    expect(w.depth).toBe(1);
    g.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('refuses with QueueFullError (Retry-After) when the queue is full', async () => {
    const w = new ModelWorker({ queueSize: 1, timeoutMs: 60_000 });
    const g = gate();
    const a = w.run(() => g.p);
    const b = w.run(async () => undefined);
    const err = await w.run(async () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect(Number((err as QueueFullError).headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    g.open();
    await Promise.all([a, b]);
  });

  it('a job cancelled while waiting leaves the queue and never runs', async () => {
    const w = new ModelWorker({ queueSize: 2, timeoutMs: 60_000 });
    const g = gate();
    const a = w.run(() => g.p);
    const ctrl = new AbortController();
    let ran = false;
    const b = w.run(async () => {
      ran = true;
    }, ctrl.signal);
    expect(w.depth).toBe(1);
    ctrl.abort();
    await expect(b).rejects.toBeInstanceOf(ClientClosedError);
    expect(w.depth).toBe(0);
    g.open();
    await a;
    await w.idle();
    expect(ran).toBe(false);
  });

  it('a timeout aborts the running job signal and rejects with RequestTimeoutError', async () => {
    const w = new ModelWorker({ queueSize: 0, timeoutMs: 20 });
    const err = await w
      .run((signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('stopped'))))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(w.busy).toBe(false);
  });

  it('refuses when the expected queue wait alone exceeds the timeout', async () => {
    const w = new ModelWorker({ queueSize: 100, timeoutMs: 3000 });
    // Before any job finished the worker assumes 2 s per job: one running + one queued = 4 s > 3 s.
    const g = gate();
    const a = w.run(() => g.p);
    const b = w.run(async () => undefined); // expected wait 2 s: accepted
    const err = await w.run(async () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).headers['Retry-After']).toBe('4');
    g.open();
    await Promise.all([a, b]);
  });
});

describe('ModelWorker and requests cancelled before they are queued (finding 9)', () => {
  it('a request whose client already left takes no queue slot and never runs', async () => {
    const w = new ModelWorker({ queueSize: 1, timeoutMs: 60_000 });
    const g = gate();
    const running = w.run(() => g.p);
    const left = new AbortController();
    left.abort(); // the client left during retrieval
    let ran = false;
    const p = w.run(async () => {
      ran = true;
    }, left.signal);
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    expect(w.depth).toBe(0);
    // The slot is free: a live request still gets in instead of a 429.
    const next = w.run(async () => 'next');
    expect(w.depth).toBe(1);
    g.open();
    await running;
    expect(await next).toBe('next');
    expect(ran).toBe(false);
  });
});
