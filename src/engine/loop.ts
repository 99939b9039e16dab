/**
 * The speculative decoding loop, as numbered steps (after transformers' assisted decoding).
 * Every mode runs through it; `ar` is the loop with no draft sources (a root-only tree, one
 * token per step), so AR and speculative decoding share the sampler, the stop rules and the
 * streaming code and can only differ in speed. Drafting policy lives in the DraftPlanner.
 *
 * The per-request steps live in `Generation` (plan → [forward] → verify, keep, emit, observe),
 * once: `runLoop` runs its forward alone, the Scheduler (scheduler.ts) runs the forwards of
 * several requests in one batch and calls the same two methods around it.
 */
import { DraftPlanner, type BatchLoad } from '../drafting/planner.ts';
import type { DraftTree } from '../drafting/tree.ts';
import type { CausalLM, KvCache, Logits } from '../model/types.ts';
import { verifyTree } from '../verify/accept.ts';
import { Rng, randomSeed } from '../verify/rng.ts';
import { RagspecError } from '../util/errors.ts';
import type { TokenCopy } from './attribution.ts';
import { OutputText } from './output.ts';
import { prefill } from './prefill.ts';
import type { PrefixCache } from './prefix-cache.ts';
import { StatsCollector } from './stats.ts';
import type { FinishReason, GenerationCallbacks, GenerationStats, SamplingSettings } from './types.ts';

/** The verifier: `verifyTree` unless a test injects a double. */
export type Verifier = typeof verifyTree;

export interface LoopOptions {
  target: CausalLM;
  tokenizer: { decode(ids: readonly number[]): string };
  eosIds: readonly number[];
  /** Prompt tokens (at least one). */
  promptTokens: readonly number[];
  maxTokens: number;
  sampling: SamplingSettings;
  stop?: readonly string[];
  /** The request's drafting policy (default: no sources, i.e. plain AR). */
  planner?: DraftPlanner;
  /** Prefill in chunks of this many tokens so cancellation is checked in between (default 128). */
  prefillChunk?: number;
  /** Reuse the KV cache of a previous prompt that shares a prefix with this one. */
  prefixCache?: PrefixCache;
  /** Default `verifyTree`. */
  verify?: Verifier;
}

export interface LoopResult {
  tokens: number[];
  text: string;
  finishReason: FinishReason;
  /** [T] per output token: the passage token it was copied from, or null. */
  copies: (TokenCopy | null)[];
  stats: GenerationStats;
  seed: number;
}

/** The forward a planned step needs (a `CausalLM.forward` call, or one part of a batch). */
export interface StepForward {
  tree: DraftTree;
  tokens: readonly number[]; // [N]
  positions: readonly number[]; // [N]
  /** [N, P+N], or null: a chain is just causal. */
  mask: Float32Array | null;
}

/** The prompt must be non-empty and leave room in the context window. */
export function checkPrompt(target: CausalLM, prompt: readonly number[]): void {
  const ctxLimit = target.config.contextLength;
  if (prompt.length === 0)
    throw new RagspecError('the prompt is empty', { code: 'bad_request', kind: 'bad_input' });
  if (prompt.length >= ctxLimit) {
    throw new RagspecError(`the prompt has ${prompt.length} tokens; the model's context holds ${ctxLimit}`, {
      code: 'context_length',
      kind: 'bad_input',
      hint: 'shorten the prompt or retrieve fewer passages',
    });
  }
}

export async function runLoop(o: LoopOptions, cb: GenerationCallbacks = {}): Promise<LoopResult> {
  checkPrompt(o.target, o.promptTokens);
  const gen = new Generation(o, cb);

  // 1. Prefill all prompt tokens but the last (the root of the first tree), cancellable.
  const t0 = performance.now();
  const chunk = o.prefillChunk ?? 128;
  const cache = await prefill(o.target, o.promptTokens, {
    chunk,
    prefixCache: o.prefixCache,
    aborted: gen.aborted,
  });
  gen.startDecode(cache, performance.now() - t0);

  for (;;) {
    const step = await gen.plan();
    if (!step) break;
    // 4. Forward: one target forward over the whole tree (tree positions, tree mask).
    const t = performance.now();
    const logits = await o.target.forward(step.tokens, step.positions, step.mask, cache); // [N, V]
    gen.finish(step, logits, performance.now() - t);
  }
  return gen.result();
}

/** One request's decode state and its steps 2-8 (step 4, the forward, is the caller's). */
export class Generation {
  readonly stats = new StatsCollector();
  readonly seed: number;
  private readonly planner: DraftPlanner;
  private readonly verify: Verifier;
  private readonly rng: Rng;
  private readonly output: OutputText;
  private readonly copies: (TokenCopy | null)[] = [];
  private readonly context: number[];
  private kv: KvCache | null = null;
  readonly aborted = (): boolean => this.cb.signal?.aborted === true;

  constructor(
    private readonly o: LoopOptions,
    private readonly cb: GenerationCallbacks = {},
  ) {
    this.planner = o.planner ?? new DraftPlanner();
    this.verify = o.verify ?? verifyTree;
    this.stats.promptTokens = o.promptTokens.length;
    this.seed = o.sampling.seed ?? randomSeed();
    this.rng = new Rng(this.seed);
    const rules = { maxTokens: o.maxTokens, eosIds: o.eosIds, stop: o.stop ?? [] };
    this.output = new OutputText(o.tokenizer, rules, cb.onText);
    this.context = [...o.promptTokens];
  }

  /** The KV cache holding every prompt token but the last (after prefill). */
  get cache(): KvCache {
    if (!this.kv) throw new RagspecError('generation: plan before prefill', { code: 'internal' });
    return this.kv;
  }

  get done(): boolean {
    return this.output.done;
  }

  startDecode(cache: KvCache, prefillMs: number): void {
    this.kv = cache;
    this.stats.time.prefill = prefillMs;
  }

  /**
   * Steps 2-3 of the next step: the draft tree to verify and the forward it needs, or null
   * when the generation is over (a stop rule, cancelled, out of context). `batch`: the rows
   * and requests of the other requests in the same forward (the budget's cost curve is in rows).
   */
  async plan(batch?: BatchLoad): Promise<StepForward | null> {
    const { o, output } = this;
    const cache = this.cache;
    const ctxLimit = o.target.config.contextLength;
    if (output.done) return null;
    // 2. Cancellation is checked once per step (a step is one target forward).
    if (this.aborted()) {
      output.cancel();
      return null;
    }
    const past = cache.length; // = context.length - 1: the root is not cached yet
    const room = ctxLimit - past - 1;
    if (room < 0) {
      output.finishReason = 'length';
      return null;
    }

    // 3. Plan: the draft tree within the context room and the tokens still allowed.
    const tDraft = performance.now();
    const tree = await this.planner.plan(
      { tokens: this.context, promptLength: o.promptTokens.length, sampling: o.sampling },
      {
        maxDepth: Math.min(o.maxTokens - output.tokens.length - 1, room),
        maxNodes: room,
        eosIds: o.eosIds,
        chainOnly: !o.target.capabilities.treeMask,
        batch,
      },
    );
    this.stats.time.draft += performance.now() - tDraft;
    const mask = tree.isChain ? null : tree.mask(past); // [N, P+N]; a chain is just causal
    return { tree, tokens: tree.tokens, positions: tree.positions(past), mask };
  }

  /** Steps 5-8 after the step's forward (`forwardMs`: its time, shared by a batch). */
  finish(step: StepForward, logits: Logits, forwardMs: number): void {
    const { tree } = step;
    const { output, context, copies } = this;
    const tVerify = performance.now();
    // 5. Verify: the accepted path and the bonus token.
    // (penalties see each node's own path; recycling sources want the accepted rows' top-k)
    const result = this.verify(tree, logits, this.o.sampling, this.rng, {
      context: { tokens: this.context, promptLength: this.o.promptTokens.length },
      topK: this.planner.topK,
    });

    // 6. Keep the accepted branch (root + accepted nodes) in the target KV cache.
    this.cache.keep([0, ...result.path]);
    this.stats.time.verify += forwardMs + performance.now() - tVerify;

    // 7. Emit accepted tokens then the bonus token, one at a time through the stop rules.
    const emitted = [...result.accepted, result.bonus];
    let pushed = 0;
    for (let i = 0; i < emitted.length && !output.done; i++, pushed++) {
      const before = output.tokens.length;
      output.push(emitted[i]!);
      if (output.tokens.length === before) continue; // EOS: not part of the output
      const origin = i < result.path.length ? tree.origins[result.path[i]!] : null;
      const prov = origin?.provenance;
      copies.push(
        prov?.kind === 'passage' ? { passageId: prov.passageId, token: prov.offset + origin!.index } : null,
      );
      context.push(emitted[i]!);
    }

    // 8. Observe: feedback to the sources and the budget; per-step stats.
    const stats = this.stats;
    stats.step({ ...this.planner.observe(tree, result, context), emitted: pushed });
    this.cb.onStep?.({ index: stats.steps - 1, emitted: pushed, treeSize: tree.draftCount });
  }

  /** The outcome (a generation stopped before its end counts as cancelled). */
  result(): LoopResult {
    const { output } = this;
    if (output.finishReason === null) output.cancel();
    return {
      tokens: output.tokens,
      text: output.text,
      finishReason: output.finishReason!,
      copies: this.copies,
      stats: this.stats.finish(output.tokens.length),
      seed: this.seed,
    };
  }
}
