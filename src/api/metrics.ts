/**
 * Prometheus metrics (prom-client), one registry per app so tests can run several apps.
 * Speculative-decoding counters follow vLLM's shape, labelled by draft source:
 * drafts, draft tokens, accepted tokens, accepted per position, target forwards.
 */
import client from 'prom-client';
import type { GenerationStats } from '../engine/types.ts';

export class Metrics {
  readonly registry = new client.Registry();

  readonly httpRequests = new client.Counter({
    name: 'ragspec_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new client.Histogram({
    name: 'ragspec_http_request_duration_seconds',
    help: 'HTTP request latency (until the response ends)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'ragspec_queue_depth',
    help: 'Generations waiting for the model worker',
    registers: [this.registry],
  });
  readonly workerBusy = new client.Gauge({
    name: 'ragspec_worker_busy',
    help: 'Generations the model worker is running (at most batching.maxBatch; 0 when idle)',
    registers: [this.registry],
  });
  readonly queueWait = new client.Histogram({
    name: 'ragspec_queue_wait_seconds',
    help: 'Time a generation waited in the queue before the model worker took it',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly batchRequests = new client.Histogram({
    name: 'ragspec_batch_size',
    help: 'Requests per batched step (continuous batching: one scheduler tick)',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64],
    registers: [this.registry],
  });
  readonly batchRows = new client.Histogram({
    name: 'ragspec_batch_rows',
    help: 'Rows (draft tree nodes and prefill tokens, padding excluded) per batched step',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly batchForwards = new client.Counter({
    name: 'ragspec_batch_forwards_total',
    help: 'Batched target forwards (a step runs one or more, grouped by row count)',
    registers: [this.registry],
  });
  readonly rejected = new client.Counter({
    name: 'ragspec_rejected_requests_total',
    help: 'Generations refused before running (queue_full, draining, not_ready)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly generations = new client.Counter({
    name: 'ragspec_generations_total',
    help: 'Finished generations by decode mode and finish reason',
    labelNames: ['mode', 'finish_reason'] as const,
    registers: [this.registry],
  });
  readonly cancelled = new client.Counter({
    name: 'ragspec_generation_cancelled_total',
    help: 'Generations stopped because the client went away or the request timed out',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly stepsAfterAbort = new client.Gauge({
    name: 'ragspec_cancel_steps_after_abort',
    help: 'Target steps the worker ran after the last cancellation signal (0 or 1 means it stopped within one step)',
    registers: [this.registry],
  });
  readonly stepsAfterAbortMax = new client.Gauge({
    name: 'ragspec_cancel_steps_after_abort_max',
    help: 'Largest number of steps run after any cancellation signal since start',
    registers: [this.registry],
  });
  readonly completionTokens = new client.Counter({
    name: 'ragspec_completion_tokens_total',
    help: 'Tokens generated',
    registers: [this.registry],
  });
  readonly promptTokens = new client.Counter({
    name: 'ragspec_prompt_tokens_total',
    help: 'Prompt tokens prefilled',
    registers: [this.registry],
  });

  readonly drafts = new client.Counter({
    name: 'ragspec_spec_decode_num_drafts_total',
    help: 'Steps that carried a draft, by draft source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly draftTokens = new client.Counter({
    name: 'ragspec_spec_decode_num_draft_tokens_total',
    help: 'Draft tokens proposed, by draft source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly acceptedTokens = new client.Counter({
    name: 'ragspec_spec_decode_num_accepted_tokens_total',
    help: 'Draft tokens the target accepted, by draft source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly acceptedPerPos = new client.Counter({
    name: 'ragspec_spec_decode_num_accepted_tokens_per_pos_total',
    help: 'Steps whose draft was accepted at this depth',
    labelNames: ['position'] as const,
    registers: [this.registry],
  });
  readonly targetForwards = new client.Counter({
    name: 'ragspec_spec_decode_target_forwards_total',
    help: 'Target forwards (prefill + one per step)',
    registers: [this.registry],
  });
  readonly treeSize = new client.Histogram({
    name: 'ragspec_spec_decode_tree_size',
    help: 'Draft tree size (nodes) per step',
    buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'ragspec_' });
  }

  /** Fold one finished generation into the counters. */
  recordGeneration(mode: string, finishReason: string, s: GenerationStats): void {
    this.generations.inc({ mode, finish_reason: finishReason });
    this.completionTokens.inc(s.completionTokens);
    this.promptTokens.inc(s.promptTokens);
    this.targetForwards.inc(s.steps + (s.promptTokens > 0 ? 1 : 0));
    for (const [source, st] of Object.entries(s.bySource)) {
      if (!st) continue;
      this.drafts.inc({ source }, st.drafts);
      this.draftTokens.inc({ source }, st.draftTokens);
      this.acceptedTokens.inc({ source }, st.acceptedTokens);
    }
    s.acceptedPerPosition.forEach((n, i) => {
      if (n > 0) this.acceptedPerPos.inc({ position: String(i) }, n);
    });
    for (const t of s.treeSizes) this.treeSize.observe(t);
  }

  /** One batched step (scheduler tick) of the engine. */
  recordBatchStep(t: { requests: number; rows: number; forwards: number }): void {
    if (t.requests === 0) return;
    this.batchRequests.observe(t.requests);
    this.batchRows.observe(t.rows);
    this.batchForwards.inc(t.forwards);
  }

  recordStepsAfterAbort(n: number): void {
    this.stepsAfterAbort.set(n);
    if (n > (this.maxAfterAbort ?? -1)) {
      this.maxAfterAbort = n;
      this.stepsAfterAbortMax.set(n);
    }
  }
  private maxAfterAbort: number | undefined;
}
