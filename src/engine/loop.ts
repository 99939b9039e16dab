/**
 * The speculative decoding loop. Every mode runs through it; `ar` is the loop with no draft
 * sources (a root-only tree, one token per step), so AR and speculative decoding share the
 * sampler, the stop rules and the streaming code and can only differ in speed.
 */
import type { DraftCandidate, DraftContext, DraftSource, Provenance } from '../drafting/types.ts';
import { DraftTree } from '../drafting/tree.ts';
import type { CausalLM } from '../model/types.ts';
import { verifyTree, type VerifyOptions } from '../verify/accept.ts';
import { Rng, randomSeed } from '../verify/rng.ts';
import { RagspecError } from '../util/errors.ts';
import { BudgetPolicy } from './budget.ts';
import { OutputText } from './output.ts';
import { StatsCollector } from './stats.ts';
import type { PrefixCache } from './prefix-cache.ts';
import type { TokenCopy } from './attribution.ts';
import type {
  DraftSourceKind,
  FinishReason,
  GenerationCallbacks,
  GenerationStats,
  SamplingSettings,
} from './types.ts';

/** A draft source with its role: `fallback` sources are asked only when the ones before had
 * nothing to offer or their recent acceptance is below `fallbackBelow`. */
export interface PlannedSource {
  source: DraftSource & { acceptance?: number };
  fallback?: boolean;
}

/** Below this running acceptance a fallback drafter is no longer asked. */
const MIN_FALLBACK_ACCEPTANCE = 0.1;

export interface LoopOptions {
  target: CausalLM;
  tokenizer: { decode(ids: readonly number[]): string };
  eosIds: readonly number[];
  /** Prompt tokens (at least one). */
  promptTokens: readonly number[];
  maxTokens: number;
  sampling: SamplingSettings;
  stop?: readonly string[];
  sources: readonly PlannedSource[];
  budget?: BudgetPolicy;
  /** Ask fallback sources when the primary's running acceptance is below this (default 0.3). */
  fallbackBelow?: number;
  /** Prefill in chunks of this many tokens so cancellation is checked in between (default 128). */
  prefillChunk?: number;
  /** Reuse the KV cache of a previous prompt that shares a prefix with this one. */
  prefixCache?: PrefixCache;
  /** Test-only verifier switches. */
  verify?: VerifyOptions;
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
  const { target } = o;
  const stats = new StatsCollector();
  const seed = o.sampling.seed ?? randomSeed();
  const rng = new Rng(seed);
  const budget = o.budget ?? new BudgetPolicy();
  const output = new OutputText(
    o.tokenizer,
    { maxTokens: o.maxTokens, eosIds: o.eosIds, stop: o.stop ?? [] },
    cb.onText,
  );
  const copies: (TokenCopy | null)[] = [];
  const prompt = o.promptTokens;
  const ctxLimit = target.config.contextLength;
  if (prompt.length === 0)
    throw new RagspecError('the prompt is empty', { code: 'bad_request', status: 400 });
  if (prompt.length >= ctxLimit) {
    throw new RagspecError(`the prompt has ${prompt.length} tokens; the model's context holds ${ctxLimit}`, {
      code: 'context_length',
      status: 400,
      hint: 'shorten the prompt or retrieve fewer passages',
    });
  }
  stats.promptTokens = prompt.length;
  const prefix = prompt.slice(0, -1);
  const hit = o.prefixCache?.lookup(prefix) ?? null;
  const cache = hit?.cache ?? target.newCache();
  const aborted = (): boolean => cb.signal?.aborted === true;

  // 1. Prefill every prompt token but the last, in chunks (cancellation between chunks).
  //    The last prompt token becomes the root of the first draft tree, so the first step
  //    can already accept drafts.
  const t0 = performance.now();
  const chunk = o.prefillChunk ?? 128;
  for (let s = hit?.length ?? 0; s < prefix.length && !aborted(); s += chunk) {
    const e = Math.min(prefix.length, s + chunk);
    const ids = prefix.slice(s, e);
    await target.forward(
      ids,
      ids.map((_, i) => s + i),
      null,
      cache,
    );
  }
  if (!aborted()) o.prefixCache?.store(prefix, cache);
  stats.time.prefill = performance.now() - t0;

  const context: number[] = [...prompt];
  while (!output.done) {
    // 2. Cancellation is checked once per step (a step is one target forward).
    if (aborted()) {
      output.cancel();
      break;
    }
    const past = cache.length; // = context.length - 1: the root is not cached yet
    const remaining = o.maxTokens - output.tokens.length;
    const room = ctxLimit - past - 1;
    if (room < 0) {
      output.finishReason = 'length';
      break;
    }

    // 3. Propose: ask the sources for candidates within this step's budget.
    const tDraft = performance.now();
    const want = budget.next();
    const maxDepth = Math.max(0, Math.min(want.maxDepth, remaining - 1, room));
    const candidates: DraftCandidate[] = [];
    const sourceOf = new Map<Provenance, DraftSource>();
    if (maxDepth > 0) {
      const dctx: DraftContext = {
        tokens: context,
        promptLength: prompt.length,
        sampling: o.sampling,
      };
      const sampled = o.sampling.temperature > 0;
      let used = 0;
      let weak = true; // nothing yet, or only low-acceptance candidates
      for (const { source, fallback } of o.sources) {
        if (fallback && !weak) continue;
        // Sampling: drafts carrying q are lossless only as independent draws from q; merged
        // with deterministic siblings they would not be, so q-drafts are used alone.
        if (fallback && sampled && candidates.length > 0) continue;
        // A fallback drafter that is rarely right costs more than it saves (its own prefill and
        // a forward per draft token), so it is dropped once its running acceptance is this low.
        if (fallback && (source.acceptance ?? 1) < MIN_FALLBACK_ACCEPTANCE) continue;
        const left = Math.min(want.maxTokens, room) - used;
        if (left <= 0) break;
        const got = await source.propose(dctx, { maxTokens: left, maxDepth, maxBranches: want.maxBranches });
        for (const c of got) {
          candidates.push(c);
          sourceOf.set(c.provenance, source);
          used += Math.min(c.tokens.length, maxDepth);
        }
        if (got.length > 0 && (source.acceptance ?? 1) >= (o.fallbackBelow ?? 0.3)) weak = false;
      }
    }

    if (o.sampling.temperature > 0 && candidates.some((c) => c.q) && candidates.some((c) => !c.q)) {
      candidates.splice(0, candidates.length, ...candidates.filter((c) => !c.q));
    }

    // 4. Build the tree: a trie of the candidates under the node budget, clipped at EOS and
    //    at the context limit; a single chain when the target takes no tree mask.
    let tree = DraftTree.build(context[context.length - 1]!, candidates, {
      maxNodes: Math.min(want.maxTokens, room),
      maxDepth,
      eosIds: o.eosIds,
      chainOnly: !target.capabilities.treeMask,
    });
    // 4b. Keep the nodes worth their forward cost (expected accepted tokens per ms).
    if (tree.draftCount > 0) {
      const probs = tree.pathProbs();
      const n = budget.chooseNodes(probs.slice(1).sort((a, b) => b - a));
      tree = tree.prune(probs, n);
    }
    stats.time.draft += performance.now() - tDraft;

    // 5. One target forward over the whole tree (tree positions, tree mask), then verify.
    const tVerify = performance.now();
    const mask = tree.isChain ? null : tree.mask(past); // [N, P+N]; a chain is just causal
    const logits = await target.forward(tree.tokens, tree.positions(past), mask, cache); // [N, V]
    const result = verifyTree(tree, logits, o.sampling, rng, o.verify);

    // 6. Keep the accepted branch (root + accepted nodes) in the target KV cache.
    cache.keep([0, ...result.path]);
    stats.time.verify += performance.now() - tVerify;

    // 7. Emit accepted tokens then the bonus token, one at a time through the stop rules.
    const emitted = [...result.accepted, result.bonus];
    let pushed = 0;
    for (let i = 0; i < emitted.length && !output.done; i++) {
      const before = output.tokens.length;
      output.push(emitted[i]!);
      if (output.tokens.length > before) {
        const origin = i < result.path.length ? tree.origins[result.path[i]!] : null;
        const prov = origin?.provenance;
        copies.push(
          prov?.kind === 'passage' ? { passageId: prov.passageId, token: prov.offset + origin!.index } : null,
        );
        context.push(emitted[i]!);
      }
      pushed++;
    }

    // 8. Feedback: per source, draft tokens in the tree and accepted tokens on the path.
    const draftBy = new Map<DraftSource, number>();
    const acceptBy = new Map<DraftSource, number>();
    const draftByKind: Partial<Record<DraftSourceKind, number>> = {};
    const acceptByKind: Partial<Record<DraftSourceKind, number>> = {};
    for (let n = 1; n < tree.size; n++) {
      const prov = tree.origins[n]!.provenance;
      const src = sourceOf.get(prov)!;
      draftBy.set(src, (draftBy.get(src) ?? 0) + 1);
      draftByKind[prov.kind] = (draftByKind[prov.kind] ?? 0) + 1;
    }
    for (const n of result.path) {
      const prov = tree.origins[n]!.provenance;
      const src = sourceOf.get(prov)!;
      acceptBy.set(src, (acceptBy.get(src) ?? 0) + 1);
      acceptByKind[prov.kind] = (acceptByKind[prov.kind] ?? 0) + 1;
    }
    for (const { source } of o.sources) {
      source.observe({
        draftTokens: draftBy.get(source) ?? 0,
        acceptedTokens: acceptBy.get(source) ?? 0,
        context,
      });
    }
    let treeDepth = 0;
    for (const d of tree.depths) treeDepth = Math.max(treeDepth, d);
    budget.update(treeDepth, result.path.length);
    stats.step({
      treeSize: tree.draftCount,
      draftBySource: draftByKind,
      acceptedBySource: acceptByKind,
      accepted: result.path.length,
      emitted: pushed,
    });
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
