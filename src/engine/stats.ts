/**
 * Per-step and per-request counters in vLLM's vocabulary: drafts (steps that verified at
 * least one draft token), draft tokens, accepted tokens, accepted per position, mean
 * acceptance length = 1 + accepted / drafts.
 */
import type { StepDrafts } from '../drafting/planner.ts';
import type { DraftSourceKind, GenerationStats, SourceStats } from './types.ts';

/** One step: the planner's draft counts, and what the step emitted. */
export interface StepRecord extends StepDrafts {
  /** Tokens this step emitted (accepted + bonus, fewer when a stop rule cut it). */
  emitted: number;
}

export class StatsCollector {
  promptTokens = 0;
  steps = 0;
  drafts = 0;
  draftTokens = 0;
  acceptedTokens = 0;
  readonly bySource: Partial<Record<DraftSourceKind, SourceStats>> = {};
  readonly acceptedPerPosition: number[] = [];
  readonly acceptanceLengths: number[] = [];
  readonly treeSizes: number[] = [];
  readonly time = { prefill: 0, draft: 0, verify: 0 };
  /** Set by the Scheduler: ms from submission to a batch slot. */
  queueWaitMs: number | null = null;
  private readonly batched = { steps: 0, requests: 0, rows: 0 };
  private readonly t0 = performance.now();

  /** A decode step run in a batch of `requests` requests and `rows` rows (padding excluded). */
  batchStep(requests: number, rows: number): void {
    this.batched.steps++;
    this.batched.requests += requests;
    this.batched.rows += rows;
  }

  step(r: StepRecord): void {
    this.steps++;
    this.treeSizes.push(r.treeSize);
    this.acceptanceLengths[r.emitted] = (this.acceptanceLengths[r.emitted] ?? 0) + 1;
    if (r.treeSize === 0) return;
    this.drafts++;
    this.draftTokens += r.treeSize;
    this.acceptedTokens += r.accepted;
    for (let i = 0; i < r.accepted; i++) this.acceptedPerPosition[i] = (this.acceptedPerPosition[i] ?? 0) + 1;
    for (const [kind, n] of Object.entries(r.draftBySource) as [DraftSourceKind, number][]) {
      const s = (this.bySource[kind] ??= { drafts: 0, draftTokens: 0, acceptedTokens: 0 });
      s.drafts++;
      s.draftTokens += n;
      s.acceptedTokens += r.acceptedBySource[kind] ?? 0;
    }
  }

  private batchStats(): NonNullable<GenerationStats['batch']> {
    const n = Math.max(1, this.batched.steps);
    return {
      queueWaitMs: this.queueWaitMs ?? 0,
      meanRequests: this.batched.requests / n,
      meanRows: this.batched.rows / n,
    };
  }

  finish(completionTokens: number): GenerationStats {
    const total = performance.now() - this.t0;
    const other = Math.max(0, total - this.time.prefill - this.time.draft - this.time.verify);
    const decodeMs = total - this.time.prefill;
    for (let i = 0; i < this.acceptanceLengths.length; i++) this.acceptanceLengths[i] ??= 0;
    return {
      promptTokens: this.promptTokens,
      completionTokens,
      steps: this.steps,
      drafts: this.drafts,
      draftTokens: this.draftTokens,
      acceptedTokens: this.acceptedTokens,
      bySource: this.bySource,
      acceptedPerPosition: this.acceptedPerPosition,
      acceptanceLengths: this.acceptanceLengths,
      treeSizes: this.treeSizes,
      tokensPerStep: this.steps > 0 ? completionTokens / this.steps : 0,
      meanAcceptanceLength: this.drafts > 0 ? 1 + this.acceptedTokens / this.drafts : 1,
      timeMs: { total, prefill: this.time.prefill, draft: this.time.draft, verify: this.time.verify, other },
      decodeTokensPerSecond: decodeMs > 0 ? (completionTokens * 1000) / decodeMs : 0,
      ...(this.queueWaitMs === null ? {} : { batch: this.batchStats() }),
    };
  }
}
