/**
 * Speculative = autoregressive on a toy model that honours masks, positions and `keep`
 * exactly (see toy-lm.ts), with real drafters and with adversarial ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReferenceDrafter } from '../../src/drafting/sources/reference.ts';
import type { DraftCandidate, DraftContext, DraftSource, PlannedSource } from '../../src/drafting/types.ts';
import { DraftPlanner } from '../../src/drafting/planner.ts';
import { runLoop } from '../../src/engine/loop.ts';
import { verifyTree } from '../../src/verify/accept.ts';
import { BudgetPolicy } from '../../src/drafting/budget.ts';
import { PrefixCache } from '../../src/engine/prefix-cache.ts';
import { ToyLM, toyTokenizer } from './toy-lm.ts';

const EOS = 15;

/** Proposes fixed continuations computed from the AR output (oracle) or a function of it. */
class ScriptedSource implements DraftSource {
  readonly acceptance = 1;
  constructor(private readonly make: (ctx: DraftContext) => number[][]) {}
  propose(ctx: DraftContext): DraftCandidate[] {
    return this.make(ctx).map((tokens, i) => ({
      tokens,
      provenance: { kind: 'passage', passageId: i, offset: 0 },
      confidence: 1,
    }));
  }
  observe(): void {}
}

async function ar(lm: ToyLM, prompt: number[], maxTokens: number, stop: string[] = []) {
  return runLoop({
    target: lm,
    tokenizer: toyTokenizer,
    eosIds: [EOS],
    promptTokens: prompt,
    maxTokens,
    sampling: { temperature: 0 },
    stop,
  });
}
async function spec(
  lm: ToyLM,
  prompt: number[],
  maxTokens: number,
  sources: PlannedSource[],
  stop: string[] = [],
) {
  return runLoop({
    target: lm,
    tokenizer: toyTokenizer,
    eosIds: [EOS],
    promptTokens: prompt,
    maxTokens,
    sampling: { temperature: 0 },
    stop,
    planner: new DraftPlanner(sources),
  });
}

const promptArb = fc.array(fc.integer({ min: 0, max: 14 }), { minLength: 1, maxLength: 24 });

describe('speculative greedy = AR greedy (toy model)', () => {
  it('reference drafter over random passages and prompts', async () => {
    await fc.assert(
      fc.asyncProperty(
        promptArb,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 9 }),
        async (prompt, seed, maxTokens) => {
          const lm = new ToyLM({ seed, vocab: 16 });
          const base = await ar(lm, prompt, maxTokens * 5);
          // passages: a piece of the AR output (so drafts are often right) and random noise
          const passages = [
            { id: 1, text: toyTokenizer.decode(base.tokens.slice(2, 30)) },
            { id: 2, text: toyTokenizer.decode(prompt.map((t) => (t * 5 + 3) % 15)) },
          ];
          const ref = new ReferenceDrafter(passages, toyTokenizer);
          const out = await spec(lm, prompt, maxTokens * 5, [{ source: ref }]);
          expect(out.tokens).toEqual(base.tokens);
          expect(out.text).toBe(base.text);
          expect(out.finishReason).toBe(base.finishReason);
          // the cost rule prunes trees to the nodes worth verifying: still identical
          const costly = await runLoop({
            target: lm,
            tokenizer: toyTokenizer,
            eosIds: [EOS],
            promptTokens: prompt,
            maxTokens: maxTokens * 5,
            sampling: { temperature: 0 },
            planner: new DraftPlanner([{ source: new ReferenceDrafter(passages, toyTokenizer) }], {
              budget: new BudgetPolicy({
                policy: 'cost',
                costCurve: Array.from({ length: 64 }, (_, s) => (s === 0 ? 0 : 1 + 0.15 * (s - 1))),
              }),
            }),
          });
          expect(costly.tokens).toEqual(base.tokens);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('always-right, always-wrong and random drafts, in trees and chains', async () => {
    await fc.assert(
      fc.asyncProperty(
        promptArb,
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        async (prompt, seed, treeMask) => {
          const lm = new ToyLM({ seed, vocab: 16, treeMask });
          const base = await ar(lm, prompt, 40);
          const next = (ctx: DraftContext, k: number): number[] =>
            base.tokens.slice(ctx.tokens.length - prompt.length, ctx.tokens.length - prompt.length + k);
          const right = new ScriptedSource((ctx) => [next(ctx, 6)]);
          // wrong first token (so nothing may be accepted), then the right continuation
          const wrong = new ScriptedSource((ctx) => {
            const n = next(ctx, 5);
            return n.length ? [[(n[0]! + 1) % 15, ...n.slice(1)]] : [];
          });
          let r = seed;
          const random = new ScriptedSource(() => {
            r = (r * 1103515245 + 12345) >>> 0;
            return [
              Array.from({ length: 1 + (r % 5) }, (_, i) => (r >>> (i * 3)) % 16),
              [r % 16, (r >> 4) % 16],
            ];
          });
          const mixed = new ScriptedSource((ctx) => [
            ...wrong.propose(ctx).map((c) => c.tokens),
            next(ctx, 4),
          ]);
          for (const src of [right, wrong, random, mixed]) {
            const out = await spec(lm, prompt, 40, [{ source: src }]);
            expect(out.tokens).toEqual(base.tokens);
            expect(out.finishReason).toBe(base.finishReason);
          }
          // always-right drafts need fewer target forwards
          const f0 = lm.forwards;
          const fast = await spec(lm, prompt, 40, [{ source: right }]);
          if (base.tokens.length > 8) expect(lm.forwards - f0).toBeLessThan(base.tokens.length);
          if (base.tokens.length > 1) expect(fast.stats.acceptedTokens).toBeGreaterThan(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('EOS inside an accepted draft ends the output exactly where AR ends it', async () => {
    // find seeds whose AR output ends with EOS, then draft straight through the EOS
    let checked = 0;
    for (let seed = 1; seed < 200 && checked < 10; seed++) {
      const lm = new ToyLM({ seed, vocab: 16, markovWeight: 3 });
      const prompt = [seed % 15, (seed * 3) % 15];
      const base = await ar(lm, prompt, 60);
      if (base.finishReason !== 'stop') continue;
      checked++;
      const full = [...base.tokens, EOS, 3, 4, 5];
      const src = new ScriptedSource((ctx) => [
        full.slice(ctx.tokens.length - prompt.length, ctx.tokens.length - prompt.length + 7),
      ]);
      const out = await spec(lm, prompt, 60, [{ source: src }]);
      expect(out.tokens).toEqual(base.tokens);
      expect(out.finishReason).toBe('stop');
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('a stop string inside one accepted span or across two steps stops exactly like AR', async () => {
    await fc.assert(
      fc.asyncProperty(
        promptArb,
        fc.integer({ min: 1, max: 50 }),
        fc.nat(),
        fc.integer({ min: 1, max: 4 }),
        async (prompt, seed, at, len) => {
          const lm = new ToyLM({ seed, vocab: 15 });
          const base = await ar(lm, prompt, 40);
          if (base.text.length < 6) return;
          const from = at % (base.text.length - len);
          const stop = base.text.slice(from, from + len);
          const arStop = await ar(lm, prompt, 40, [stop]);
          expect(arStop.text).toBe(base.text.slice(0, base.text.indexOf(stop)));
          // drafts of 1..7 tokens put step boundaries everywhere relative to the stop string
          for (const k of [1, 2, 3, 7]) {
            const src = new ScriptedSource((ctx) => [
              base.tokens.slice(ctx.tokens.length - prompt.length, ctx.tokens.length - prompt.length + k),
            ]);
            const deltas: string[] = [];
            const out = await runLoop(
              {
                target: lm,
                tokenizer: toyTokenizer,
                eosIds: [EOS],
                promptTokens: prompt,
                maxTokens: 40,
                sampling: { temperature: 0 },
                stop: [stop],
                planner: new DraftPlanner([{ source: src }]),
              },
              { onText: (d) => deltas.push(d) },
            );
            expect(out.tokens).toEqual(arStop.tokens);
            expect(out.text).toBe(arStop.text);
            expect(deltas.join('')).toBe(arStop.text); // the stop string never leaked into the stream
            expect(out.finishReason).toBe('stop');
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('max tokens cuts inside an accepted span exactly like AR', async () => {
    const lm = new ToyLM({ seed: 5, vocab: 15 });
    const prompt = [1, 2, 3];
    const base = await ar(lm, prompt, 60);
    for (const max of [1, 2, 5, 13]) {
      const src = new ScriptedSource((ctx) => [
        base.tokens.slice(ctx.tokens.length - 3, ctx.tokens.length + 5),
      ]);
      const out = await spec(lm, prompt, max, [{ source: src }]);
      expect(out.tokens).toEqual(base.tokens.slice(0, max));
      expect(out.finishReason).toBe(base.tokens.length > max ? 'length' : base.finishReason);
    }
  });

  it('cancellation stops within one step, also during prefill', async () => {
    const lm = new ToyLM({ seed: 3, vocab: 15 });
    const ac = new AbortController();
    const out = await runLoop(
      {
        target: lm,
        tokenizer: toyTokenizer,
        eosIds: [],
        promptTokens: [1, 2, 3],
        maxTokens: 1000,
        sampling: { temperature: 0 },
      },
      { signal: ac.signal, onStep: (s) => (s.index === 4 ? ac.abort() : undefined) },
    );
    expect(out.finishReason).toBe('cancelled');
    expect(out.tokens.length).toBe(5);
    const pre = new AbortController();
    pre.abort();
    const f0 = lm.forwards;
    const out2 = await runLoop(
      {
        target: lm,
        tokenizer: toyTokenizer,
        eosIds: [],
        promptTokens: Array.from({ length: 600 }, (_, i) => i % 15),
        maxTokens: 10,
        sampling: { temperature: 0 },
        prefillChunk: 64,
      },
      { signal: pre.signal },
    );
    expect(out2.finishReason).toBe('cancelled');
    expect(lm.forwards - f0).toBe(0);
  });
});

describe('injected verifier', () => {
  it('runLoop verifies through LoopOptions.verify (the seam test doubles use)', async () => {
    const lm = new ToyLM({ seed: 9, vocab: 15 });
    const base = await ar(lm, [1, 2, 3], 20);
    const src = new ScriptedSource((ctx) => [
      base.tokens.slice(ctx.tokens.length - 3, ctx.tokens.length + 2),
    ]);
    const trees: number[] = [];
    const out = await runLoop({
      target: lm,
      tokenizer: toyTokenizer,
      eosIds: [EOS],
      promptTokens: [1, 2, 3],
      maxTokens: 20,
      sampling: { temperature: 0 },
      planner: new DraftPlanner([{ source: src }]),
      verify: (tree, logits, sampling, rng) => {
        trees.push(tree.tokens.length);
        return verifyTree(tree, logits, sampling, rng);
      },
    });
    expect(out.tokens).toEqual(base.tokens);
    expect(trees.length).toBe(out.stats.steps); // one verification per step, all through the double
    expect(Math.max(...trees)).toBeGreaterThan(1); // and it saw real draft trees
  });
});

describe('prefix cache', () => {
  /** A cache that never hits: the broken variant the forward counts below must expose. */
  class NeverHits extends PrefixCache {
    override lookup(): null {
      return null;
    }
  }
  const base = Array.from({ length: 40 }, (_, i) => (i * 7) % 15);
  const tails = [[1, 2], [1, 3, 4], [9]];

  /**
   * Runs each prompt cold (no prefix cache) and warm (after the shared base was prefilled
   * into `pc`); returns per prompt the tokens and forwards the warm run saved.
   */
  async function saved(pc: PrefixCache) {
    const lm = new ToyLM({ seed: 12, vocab: 15 });
    const run = (prompt: number[], prefixCache?: PrefixCache) =>
      runLoop({
        target: lm,
        tokenizer: toyTokenizer,
        eosIds: [],
        promptTokens: prompt,
        maxTokens: 12,
        sampling: { temperature: 0 },
        prefillChunk: 8, // several prefill forwards, so saved forwards are visible too
        prefixCache,
      });
    const out: { tokens: number; forwards: number }[] = [];
    for (const tail of tails) {
      const prompt = [...base, ...tail];
      const t0 = lm.tokensForwarded;
      const f0 = lm.forwards;
      const cold = await run(prompt);
      const coldTokens = lm.tokensForwarded - t0;
      const coldForwards = lm.forwards - f0;
      await run([...base, 14], pc); // leaves exactly `base` as the cached prefix
      const t1 = lm.tokensForwarded;
      const f1 = lm.forwards;
      const warm = await run(prompt, pc);
      expect(warm.tokens).toEqual(cold.tokens);
      out.push({
        tokens: coldTokens - (lm.tokensForwarded - t1),
        forwards: coldForwards - (lm.forwards - f1),
      });
    }
    return out;
  }

  it('reusing a shared prompt prefix gives the same output and prefills only the new suffix', async () => {
    // The loop prefills the prompt minus its last token; `base` (40 tokens) is cached, so the
    // warm run skips exactly those 40 tokens: 5 prefill forwards of 8.
    expect(await saved(new PrefixCache(4))).toEqual(tails.map(() => ({ tokens: 40, forwards: 5 })));
  });

  it('the forward counts expose a prefix cache that never hits', async () => {
    expect(await saved(new NeverHits(4))).toEqual(tails.map(() => ({ tokens: 0, forwards: 0 })));
  });
});
