/**
 * Continuous batching (issue 11): the Scheduler runs the steps of up to `maxBatch` requests
 * together. Each tick
 *   1. admits waiting requests into free batch slots (between steps, so a long answer never
 *      holds back a new question's prefill);
 *   2. takes one part from every decoding request (fairness: no decoding request waits more
 *      than one tick): the draft tree its planner sizes knowing the batch's other rows (the
 *      budget's cost curve is in rows); and the next prefill chunks of the prefilling
 *      requests, oldest first, within a per-tick budget (`prefillChunksPerTick`, default 1).
 *      A prefill on this CPU is compute-bound, so running every admitted request's chunk in
 *      lockstep costs the same rows as running them one after another, but delays every
 *      first token until the last prompt is in; oldest first, the first request decodes
 *      (beside the later prefills) after its own prefill, as in vLLM's chunked prefill;
 *   3. runs the parts as batched target forwards (onnx/batch-forward.ts): one, or two split
 *      by row count (prefill chunks apart from decode trees) when padding would cost more;
 *   4. hands each request its logits: the same `Generation.finish` as the single-request loop
 *      (verify, keep, emit, observe), so batching cannot change an output.
 * A request that is cancelled, times out or finishes leaves at the end of its tick: its slot
 * is free and it costs no rows from the next tick on.
 */
import type { BatchPart, BatchedLM, CausalLM, KvCache } from '../model/types.ts';
import { Generation, checkPrompt, type LoopOptions, type LoopResult, type StepForward } from './loop.ts';
import { prefillChunks, type PrefillChunk } from './prefill.ts';
import type { GenerationCallbacks } from './types.ts';

/**
 * A forward's fixed cost, in padded rows of a batched forward. Measured (docs/BENCHMARKS.md,
 * Batching): one B = 8 forward of 1 row per slot costs 78 ms, of 8 rows 396 ms, so a row costs
 * ~5.7 ms and the fixed part ~32 ms ≈ 6 rows.
 */
export const FORWARD_COST_ROWS = 6;

export interface TickInfo {
  /** Requests with a part in this tick. */
  requests: number;
  /** Rows of those parts (padding excluded). */
  rows: number;
  /** Of those parts, prefill chunks (the rest are decode trees). */
  prefillChunks: number;
  forwards: number;
  ms: number;
}

export interface SchedulerOptions {
  maxBatch: number;
  /** Prefill chunk per tick (default 128 tokens). */
  prefillChunk?: number;
  /**
   * Prefill chunks per tick, given to the oldest prefilling requests first (default 1;
   * 0: every prefilling request runs a chunk every tick, in lockstep).
   */
  prefillChunksPerTick?: number;
  onTick?: (t: TickInfo) => void;
}

interface Member {
  o: LoopOptions;
  gen: Generation;
  submittedAt: number;
  resolve: (r: LoopResult) => void;
  reject: (e: unknown) => void;
  cache: KvCache | null;
  /** While prefilling: the prompt's chunks, and how many have run. */
  chunks: PrefillChunk[] | null;
  chunksDone: number;
  prefillMs: number;
  /** Rows of its decode tree in the last tick (0: it was prefilling). */
  rows: number;
}

interface Part {
  m: Member;
  part: BatchPart;
  /** A decode step (absent: a prefill chunk). */
  step?: StepForward;
}

export class Scheduler {
  readonly batch: BatchedLM;
  private readonly waiting: Member[] = [];
  private readonly active: Member[] = [];
  private running = false;
  private lastLoad = { rows: 0, requests: 0 };

  constructor(
    readonly target: CausalLM,
    private readonly opts: SchedulerOptions,
  ) {
    if (!target.newBatch || !target.capabilities.batch)
      throw new Error('Scheduler: this target cannot run batches (capabilities.batch)');
    this.batch = target.newBatch(opts.maxBatch);
  }

  /** Requests in a batch slot now / waiting for one. */
  get activeCount(): number {
    return this.active.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Generate through the batch: same contract and result as `runLoop`. */
  submit(o: LoopOptions, cb: GenerationCallbacks = {}): Promise<LoopResult> {
    try {
      checkPrompt(o.target, o.promptTokens);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<LoopResult>((resolve, reject) => {
      const gen = new Generation(o, cb);
      const m: Member = {
        o,
        gen,
        submittedAt: performance.now(),
        resolve,
        reject,
        cache: null,
        chunks: null,
        chunksDone: 0,
        prefillMs: 0,
        rows: 0,
      };
      this.waiting.push(m);
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.drive().finally(() => {
      this.running = false;
      if (this.waiting.length > 0 || this.active.length > 0) this.kick();
    });
  }

  private async drive(): Promise<void> {
    while (this.waiting.length > 0 || this.active.length > 0) {
      try {
        await this.tick();
      } catch (err) {
        // A failed forward fails the requests in the batch, never the scheduler.
        for (const m of [...this.active]) this.leave(m, err);
      }
    }
  }

  private async tick(): Promise<void> {
    const t0 = performance.now();
    // 1. Admit waiting requests into free slots (one cancelled while waiting leaves at once).
    for (const m of this.waiting.filter((w) => w.gen.aborted())) {
      this.waiting.splice(this.waiting.indexOf(m), 1);
      this.admit(m);
    }
    while (this.waiting.length > 0 && this.batch.free > 0) this.admit(this.waiting.shift()!);

    // 2. One part per decoding request; prefill chunks oldest first, within the budget
    // (active is in admission order). A cancelled prefill still gets its turn to leave.
    const parts: Part[] = [];
    const load = this.lastLoad;
    const budget = this.opts.prefillChunksPerTick ?? 1;
    let prefills = 0;
    for (const m of [...this.active]) {
      if (m.chunks && m.chunksDone < m.chunks.length && !m.gen.aborted() && budget > 0) {
        if (prefills >= budget) continue;
        prefills++;
      }
      try {
        const part = await this.partOf(m, load);
        if (part) parts.push(part);
        else this.leave(m);
      } catch (err) {
        this.leave(m, err);
      }
    }

    // 3. Batched forwards, grouped by rows; 4. each request takes its logits.
    const groups = groupByRows(
      parts,
      (p) => p.part.tokens.length,
      (p) => this.batch.slotOf(p.part.cache),
    );
    const rows = parts.reduce((a, p) => a + p.part.tokens.length, 0);
    for (const group of groups) {
      const t = performance.now();
      const logits = await this.batch.forward(group.map((p) => p.part));
      const ms = performance.now() - t;
      group.forEach((p, i) => {
        p.m.rows = p.step ? p.part.tokens.length : 0;
        if (!p.step) {
          p.m.prefillMs += ms;
          return;
        }
        try {
          p.m.gen.stats.batchStep(parts.length, rows);
          p.m.gen.finish(p.step, logits[i]!, ms);
        } catch (err) {
          this.leave(p.m, err);
        }
      });
    }
    for (const p of parts) if (p.step && p.m.gen.done && this.active.includes(p.m)) this.leave(p.m);
    // The budget's view of the next tick: decode trees share a forward, prefill chunks run apart.
    const decoding = parts.filter((p) => p.step);
    this.lastLoad = {
      rows: decoding.reduce((a, p) => a + p.part.tokens.length, 0),
      requests: decoding.length,
    };
    this.opts.onTick?.({
      requests: parts.length,
      rows,
      prefillChunks: parts.length - decoding.length,
      forwards: groups.length,
      ms: performance.now() - t0,
    });
  }

  /** A slot for `m`, holding the prefix cache's rows when the prompt starts with them. */
  private admit(m: Member): void {
    m.gen.stats.queueWaitMs = performance.now() - m.submittedAt;
    if (m.gen.aborted()) {
      // Cancelled while waiting: it never takes a slot.
      m.resolve(m.gen.result());
      return;
    }
    const prefix = m.o.promptTokens.slice(0, -1);
    try {
      const hit = m.o.prefixCache?.lookup(prefix) ?? null;
      m.cache = this.batch.newCache(hit?.cache);
      m.chunks = [
        ...prefillChunks(prefix, hit?.length ?? 0, m.o.prefillChunk ?? this.opts.prefillChunk ?? 128),
      ];
    } catch (err) {
      m.reject(err);
      return;
    }
    this.active.push(m);
  }

  /** `m`'s part of this tick, or null when its generation is over. */
  private async partOf(m: Member, load: { rows: number; requests: number }): Promise<Part | null> {
    const cache = m.cache!;
    if (m.chunks) {
      const c = m.gen.aborted() ? undefined : m.chunks[m.chunksDone++];
      if (c) {
        return {
          m,
          part: { tokens: c.tokens, positions: c.positions, mask: null, cache, logitRows: c.logitRows },
        };
      }
      // Prefill done (or cancelled): the first decode step can run in this same tick.
      m.chunks = null;
      if (!m.gen.aborted()) m.o.prefixCache?.store(m.o.promptTokens.slice(0, -1), cache);
      m.gen.startDecode(cache, m.prefillMs);
    }
    const others = m.rows > 0 ? 1 : 0; // m was one of last tick's decoding requests
    const step = await m.gen.plan({
      rows: Math.max(0, load.rows - m.rows),
      requests: Math.max(0, load.requests - others),
    });
    if (!step) return null;
    return { m, step, part: { tokens: step.tokens, positions: step.positions, mask: step.mask, cache } };
  }

  /** `m` leaves the batch: its slot is free for the next tick. */
  private leave(m: Member, err?: unknown): void {
    const i = this.active.indexOf(m);
    if (i < 0) return;
    this.active.splice(i, 1);
    if (m.cache) this.batch.release(m.cache);
    if (err !== undefined) m.reject(err);
    else m.resolve(m.gen.result());
  }
}

/**
 * Forwards of one tick. A batched forward runs the slot range of its parts, each slot padded
 * to the largest part, so its cost is ~(slots in range × S_max) rows plus FORWARD_COST_ROWS.
 * One forward over every part, or two split at a row count (prefill chunks of ~128 rows apart
 * from decode trees of a few), whichever costs fewer rows.
 */
export function groupByRows<T>(
  parts: readonly T[],
  rowsOf: (p: T) => number,
  slotOf: (p: T) => number,
): T[][] {
  if (parts.length === 0) return [];
  const cost = (g: readonly T[]): number => {
    if (g.length === 0) return 0;
    const slots = g.map(slotOf);
    const range = Math.max(...slots) - Math.min(...slots) + 1;
    return range * Math.max(...g.map(rowsOf)) + FORWARD_COST_ROWS;
  };
  let best: T[][] = [[...parts]];
  let bestCost = cost(parts);
  for (const t of new Set(parts.map(rowsOf))) {
    const big = parts.filter((p) => rowsOf(p) > t);
    const small = parts.filter((p) => rowsOf(p) <= t);
    if (big.length === 0 || small.length === 0) continue;
    const c = cost(big) + cost(small);
    if (c < bestCost) {
      bestCost = c;
      best = [big, small];
    }
  }
  return best;
}
