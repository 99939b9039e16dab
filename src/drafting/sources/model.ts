/**
 * ModelDrafter: a small causal LM that shares the target's tokenizer proposes a chain of γ
 * tokens. Greedy requests get its argmax chain (deterministic drafts); sampled requests get
 * tokens drawn from its distribution q, returned with q so the verifier can apply
 * min(1, p/q) acceptance.
 *
 * KV cache sync: the drafter remembers which tokens its cache holds. Before proposing it
 * keeps the longest common prefix with the current context (rolling back rejected drafts
 * with `truncate`) and runs the missing tokens in one forward, so it is never out of step
 * with what the target accepted, whichever source drafted it.
 */
import { logitsRow, type CausalLM, type KvCache } from '../../model/types.ts';
import { Rng } from '../../verify/rng.ts';
import { argmax, sampleFrom, targetDistribution } from '../../verify/sampling.ts';
import type { DraftBudget, DraftCandidate, DraftContext, DraftOutcome, DraftSource } from '../types.ts';

export interface ModelDrafterOptions {
  /** Name used in provenance and stats, e.g. `self-L6`. */
  name: string;
  /** Longest chain (γ), default 5. */
  gamma?: number;
  eosIds?: readonly number[];
  /** Seed for sampling drafts (default: from the request's seed, else 0). */
  seed?: number;
}

export class ModelDrafter implements DraftSource {
  /** Name used in provenance and stats. */
  readonly name: string;
  /** Running share of drafted tokens accepted. */
  acceptance = 0.5;
  /** Running ms of one `propose` (its sync forward and one forward per draft token); the
   * planner's pay rule weighs it. 0 until measured (so it is asked once). */
  costMs = 0;
  private cache: KvCache;
  /** Tokens whose keys/values are in `cache`, in order. */
  private cached: number[] = [];
  private readonly gamma: number;
  private readonly eos: Set<number>;
  private rng: Rng | null = null;
  /** The last proposal and the context length it continued. */
  private last: { tokens: number[]; at: number } | null = null;

  constructor(
    readonly model: CausalLM,
    opts: ModelDrafterOptions,
  ) {
    this.name = opts.name;
    this.gamma = opts.gamma ?? 5;
    this.eos = new Set(opts.eosIds ?? []);
    this.cache = model.newCache();
    if (opts.seed !== undefined) this.rng = new Rng(opts.seed);
  }

  /**
   * Start a new request (drops the cache). The running acceptance is kept: how well this
   * drafter predicts this target is a property of the pair, learned across requests.
   */
  reset(): void {
    this.cache = this.model.newCache();
    this.cached = [];
    this.rng = null;
    this.last = null;
  }

  /**
   * A drafter over the same model with its own KV cache, for one of several requests decoding
   * at once (continuous batching): a shared cache would re-prefill at every switch between
   * requests. It starts from this drafter's running acceptance.
   */
  fork(): ModelDrafter {
    const d = new ModelDrafter(this.model, { name: this.name, gamma: this.gamma, eosIds: [...this.eos] });
    d.acceptance = this.acceptance;
    return d;
  }

  async propose(ctx: DraftContext, budget: DraftBudget): Promise<DraftCandidate[]> {
    const t0 = performance.now();
    const out = await this.draft(ctx, budget);
    const ms = performance.now() - t0;
    if (out.length > 0) this.costMs = this.costMs === 0 ? ms : 0.8 * this.costMs + 0.2 * ms;
    return out;
  }

  private async draft(ctx: DraftContext, budget: DraftBudget): Promise<DraftCandidate[]> {
    // A drafter that is rarely right drafts less: γ shrinks with its running acceptance.
    const useful = Math.max(1, Math.floor((2 * this.acceptance) / Math.max(0.05, 1 - this.acceptance)) + 1);
    const depth = Math.min(this.gamma, useful, budget.maxDepth, budget.maxTokens);
    if (depth <= 0) return [];
    const tokens = ctx.tokens;
    const room = this.model.config.contextLength - tokens.length;
    if (room <= 0) return [];

    // 1. Sync: keep the common prefix (never the context's last token: its logits are needed).
    let common = 0;
    const max = Math.min(this.cached.length, tokens.length - 1);
    while (common < max && this.cached[common] === tokens[common]) common++;
    if (common < this.cached.length) {
      this.cache.truncate(common);
      this.cached.length = common;
    }
    const missing = tokens.slice(common);
    let logits = await this.model.forward(
      missing,
      missing.map((_, i) => common + i),
      null,
      this.cache,
      { logitRows: [missing.length - 1] },
    );
    this.cached.push(...missing);
    let row = logitsRow(logits, 0);

    // 2. Draft a chain of up to γ tokens, one drafter forward each.
    const sampling = ctx.sampling;
    const greedy = !(sampling.temperature > 0);
    if (!greedy && this.rng === null) this.rng = new Rng((sampling.seed ?? 0) ^ 0x5bd1e995);
    const out: number[] = [];
    const qs: Float32Array[] = [];
    for (let i = 0; i < Math.min(depth, room); i++) {
      let tok: number;
      if (greedy) tok = argmax(row);
      else {
        const q = Float32Array.from(targetDistribution(row, sampling)); // [V]
        tok = sampleFrom(q, this.rng!);
        qs.push(q);
      }
      out.push(tok);
      if (this.eos.has(tok) || i === depth - 1) break;
      logits = await this.model.forward([tok], [this.cached.length], null, this.cache);
      this.cached.push(tok);
      row = logitsRow(logits, 0);
    }
    this.last = { tokens: out, at: tokens.length };
    const cand: DraftCandidate = {
      tokens: out,
      provenance: { kind: 'model', model: this.name },
      confidence: this.acceptance,
      acceptProbs: out.map(() => this.acceptance),
    };
    if (!greedy) cand.q = qs;
    return [cand];
  }

  /**
   * Learn from what the target emitted, whether or not the drafts made it into the tree (the
   * budget may prune a weak drafter's chain entirely — it must still see that it was wrong).
   */
  observe(outcome: DraftOutcome): void {
    const last = this.last;
    this.last = null;
    if (!last || last.tokens.length === 0) return;
    const emitted = outcome.context.slice(last.at);
    const n = Math.min(last.tokens.length, emitted.length);
    if (n === 0) return;
    let m = 0;
    while (m < n && last.tokens[m] === emitted[m]) m++;
    this.acceptance = 0.7 * this.acceptance + 0.3 * (m / n);
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
