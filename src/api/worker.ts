/**
 * One model worker: up to `concurrency` generations run at once (1 by default: the target
 * model is a single onnxruntime session; with continuous batching the engine joins that many
 * generations' steps into shared forwards), the rest wait in a bounded queue. A full queue — or one whose
 * expected wait (moving average of job time × jobs ahead) already exceeds the request
 * timeout — is refused at once with 429 + Retry-After instead of letting latency grow
 * without bound or turning into 504s later.
 *
 * Every job gets one AbortSignal that fires on client disconnect or on the per-request
 * timeout (counted from submission, queue wait included). A job aborted while still
 * waiting never reaches the model.
 */
import { QueueFullError, RequestTimeoutError, ServiceUnavailableError } from './errors.ts';
import type { Metrics } from './metrics.ts';

export type Job<T> = (signal: AbortSignal) => Promise<T>;

/** Abort reasons the worker sets, so callers can tell them apart. */
export const ABORT_CLIENT = 'client_closed';
export const ABORT_TIMEOUT = 'timeout';

interface Waiting {
  start: () => void;
  cancel: (err: unknown) => void;
}

export class ClientClosedError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientClosedError';
  }
}

export class ModelWorker {
  private readonly queue: Waiting[] = [];
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Moving average of completed job durations, for Retry-After and admission. */
  private avgJobMs = 2000;

  constructor(
    private readonly opts: {
      queueSize: number;
      timeoutMs: number;
      metrics?: Metrics;
      /**
       * The timeout bounds only the wait in the queue: a job that has started runs to its end
       * (document writes, which must not answer 504 after they committed).
       */
      timeoutWaitOnly?: boolean;
      /** Jobs that may run at once (read at each admission: the model may load later); default 1. */
      concurrency?: () => number;
    },
  ) {}

  private get slots(): number {
    return Math.max(1, this.opts.concurrency?.() ?? 1);
  }

  get depth(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running > 0;
  }

  /** Refuse new jobs (SIGTERM); queued and running ones go on. */
  close(): void {
    this.closed = true;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Run `job` when the worker is free. Throws QueueFullError synchronously-ish (before any
   * waiting) when the queue is full, so a route can still answer 429.
   */
  run<T>(job: Job<T>, clientSignal?: AbortSignal): Promise<T> {
    if (this.closed)
      return Promise.reject(new ServiceUnavailableError('server is shutting down', 'shutting_down', 5));
    // Gone before it was queued (it left during retrieval): it takes no slot at all.
    if (clientSignal?.aborted) return Promise.reject(new ClientClosedError());
    if (this.running >= this.slots) {
      // Refuse at the door rather than accept work that would only time out in the queue:
      // when the queue is full, or when the expected wait alone exceeds the timeout.
      const expectedWaitMs = (this.avgJobMs * (this.queue.length + 1)) / this.slots;
      const full = this.queue.length >= this.opts.queueSize;
      if (full || expectedWaitMs >= this.opts.timeoutMs) {
        this.opts.metrics?.rejected.inc({ reason: full ? 'queue_full' : 'expected_wait' });
        return Promise.reject(
          new QueueFullError(Math.max(1, Math.ceil(expectedWaitMs / 1000)), this.queue.length),
        );
      }
    }
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(ABORT_TIMEOUT), this.opts.timeoutMs);
    const onClient = () => ctrl.abort(ABORT_CLIENT);
    if (clientSignal) {
      if (clientSignal.aborted) ctrl.abort(ABORT_CLIENT);
      else clientSignal.addEventListener('abort', onClient, { once: true });
    }
    const cleanup = () => {
      clearTimeout(timer);
      clientSignal?.removeEventListener('abort', onClient);
    };
    const abortError = () =>
      ctrl.signal.reason === ABORT_TIMEOUT
        ? new RequestTimeoutError(this.opts.timeoutMs)
        : new ClientClosedError();

    return new Promise<T>((resolve, reject) => {
      let entry: Waiting | null = null;
      const queuedAt = Date.now();
      const execute = () => {
        if (this.opts.timeoutWaitOnly) clearTimeout(timer);
        this.running++;
        this.opts.metrics?.queueWait.observe((Date.now() - queuedAt) / 1000);
        this.syncGauges();
        const t0 = Date.now();
        let p: Promise<T>;
        try {
          p = ctrl.signal.aborted ? Promise.reject(abortError()) : job(ctrl.signal);
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (v) => (ctrl.signal.reason === ABORT_TIMEOUT ? reject(abortError()) : resolve(v)),
          (e) => reject(ctrl.signal.aborted ? abortError() : e),
        ).finally(() => {
          cleanup();
          this.avgJobMs = 0.8 * this.avgJobMs + 0.2 * (Date.now() - t0);
          this.running--;
          this.next();
        });
      };
      if (this.running < this.slots) {
        execute();
        return;
      }
      entry = {
        start: execute,
        cancel: (err) => {
          cleanup();
          reject(err);
        },
      };
      this.queue.push(entry);
      this.syncGauges();
      // Leave the queue as soon as the request is cancelled: it never reaches the model.
      const leave = () => {
        const i = entry ? this.queue.indexOf(entry) : -1;
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.syncGauges();
          entry!.cancel(abortError());
        }
      };
      // A listener added to a signal that has already fired never runs: check first.
      if (ctrl.signal.aborted) leave();
      else ctrl.signal.addEventListener('abort', leave, { once: true });
    });
  }

  private next(): void {
    while (this.running < this.slots && this.queue.length > 0) this.queue.shift()!.start();
    this.syncGauges();
    if (this.running > 0 || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private syncGauges(): void {
    this.opts.metrics?.queueDepth.set(this.queue.length);
    this.opts.metrics?.workerBusy.set(this.running);
  }
}
