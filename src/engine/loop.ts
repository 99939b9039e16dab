/**
 * The speculative decoding loop, as numbered steps (after transformers' assisted decoding).
 * Every mode runs through it; `ar` is the loop with no draft sources (a root-only tree, one
 * token per step), so AR and speculative decoding share the sampler, the stop rules and the
 * streaming code and can only differ in speed. Drafting policy lives in the DraftPlanner.
 */
import { DraftPlanner } from '../drafting/planner.ts';
import type { CausalLM } from '../model/types.ts';
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

export async function runLoop(o: LoopOptions, cb: GenerationCallbacks = {}): Promise<LoopResult> {
  const { target, promptTokens: prompt } = o;
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
  const planner = o.planner ?? new DraftPlanner();
  const verify = o.verify ?? verifyTree;
  const stats = new StatsCollector();
  stats.promptTokens = prompt.length;
  const seed = o.sampling.seed ?? randomSeed();
  const rng = new Rng(seed);
  const rules = { maxTokens: o.maxTokens, eosIds: o.eosIds, stop: o.stop ?? [] };
  const output = new OutputText(o.tokenizer, rules, cb.onText);
  const copies: (TokenCopy | null)[] = [];
  const aborted = (): boolean => cb.signal?.aborted === true;

  // 1. Prefill all prompt tokens but the last (the root of the first tree), cancellable.
  const t0 = performance.now();
  const chunk = o.prefillChunk ?? 128;
  const cache = await prefill(target, prompt, { chunk, prefixCache: o.prefixCache, aborted });
  stats.time.prefill = performance.now() - t0;

  const context: number[] = [...prompt];
  while (!output.done) {
    // 2. Cancellation is checked once per step (a step is one target forward).
    if (aborted()) {
      output.cancel();
      break;
    }
    const past = cache.length; // = context.length - 1: the root is not cached yet
    const room = ctxLimit - past - 1;
    if (room < 0) {
      output.finishReason = 'length';
      break;
    }

    // 3. Plan: the draft tree within the context room and the tokens still allowed.
    const tDraft = performance.now();
    const tree = await planner.plan(
      { tokens: context, promptLength: prompt.length, sampling: o.sampling },
      {
        maxDepth: Math.min(o.maxTokens - output.tokens.length - 1, room),
        maxNodes: room,
        eosIds: o.eosIds,
        chainOnly: !target.capabilities.treeMask,
      },
    );
    stats.time.draft += performance.now() - tDraft;

    // 4. Forward: one target forward over the whole tree (tree positions, tree mask).
    const tVerify = performance.now();
    const mask = tree.isChain ? null : tree.mask(past); // [N, P+N]; a chain is just causal
    const logits = await target.forward(tree.tokens, tree.positions(past), mask, cache); // [N, V]

    // 5. Verify: the accepted path and the bonus token.
    // (penalties see each node's own path; recycling sources want the accepted rows' top-k)
    const result = verify(tree, logits, o.sampling, rng, {
      context: { tokens: context, promptLength: prompt.length },
      topK: planner.topK,
    });

    // 6. Keep the accepted branch (root + accepted nodes) in the target KV cache.
    cache.keep([0, ...result.path]);
    stats.time.verify += performance.now() - tVerify;

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
    stats.step({ ...planner.observe(tree, result, context), emitted: pushed });
    cb.onStep?.({ index: stats.steps - 1, emitted: pushed, treeSize: tree.draftCount });
  }
  if (output.finishReason === null) output.cancel();

  return {
    tokens: output.tokens,
    text: output.text,
    finishReason: output.finishReason!,
    copies,
    stats: stats.finish(output.tokens.length),
    seed,
  };
}
