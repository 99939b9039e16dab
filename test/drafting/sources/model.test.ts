import { describe, expect, it } from 'vitest';
import { ModelDrafter } from '../../../src/drafting/sources/model.ts';
import { ReferenceDrafter } from '../../../src/drafting/sources/reference.ts';
import { DraftPlanner } from '../../../src/drafting/planner.ts';
import { runLoop } from '../../../src/engine/loop.ts';
import { ToyLM, toyTokenizer } from '../../engine/toy-lm.ts';

const greedy = { temperature: 0 };

describe('ModelDrafter', () => {
  it('a drafter identical to the target proposes its greedy chain, which is always accepted', async () => {
    const target = new ToyLM({ seed: 4, vocab: 15 });
    const drafter = new ModelDrafter(new ToyLM({ seed: 4, vocab: 15 }), { name: 'twin', gamma: 4 });
    const prompt = [1, 2, 3, 4];
    const ar = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: prompt,
      maxTokens: 30,
      sampling: greedy,
    });
    const sd = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: prompt,
      maxTokens: 30,
      sampling: greedy,
      planner: new DraftPlanner([{ source: drafter }]),
    });
    expect(sd.tokens).toEqual(ar.tokens);
    // every draft token accepted: 4 drafted + 1 bonus per step
    expect(sd.stats.acceptedTokens).toBe(sd.stats.draftTokens);
    expect(sd.stats.bySource.model!.acceptedTokens).toBe(sd.stats.acceptedTokens);
    expect(sd.stats.steps).toBeLessThanOrEqual(Math.ceil(30 / 5) + 1);
  });

  it('a different drafter is often wrong: rollback keeps its cache in sync and the output is AR', async () => {
    for (const seed of [1, 2, 3, 5, 8]) {
      const target = new ToyLM({ seed, vocab: 15 });
      const drafter = new ModelDrafter(new ToyLM({ seed: seed + 100, vocab: 15, markovWeight: 2 }), {
        name: 'other',
        gamma: 3,
      });
      const prompt = [seed % 15, 7, 7, 2];
      const ar = await runLoop({
        target,
        tokenizer: toyTokenizer,
        eosIds: [],
        promptTokens: prompt,
        maxTokens: 40,
        sampling: greedy,
      });
      // the drafter is shared across two requests in a row (reset in between)
      for (let r = 0; r < 2; r++) {
        drafter.reset();
        const sd = await runLoop({
          target,
          tokenizer: toyTokenizer,
          eosIds: [],
          promptTokens: prompt,
          maxTokens: 40,
          sampling: greedy,
          planner: new DraftPlanner([{ source: drafter }]),
        });
        expect(sd.tokens).toEqual(ar.tokens);
      }
    }
  });

  it('hybrid: the model drafter fills in when the reference has nothing', async () => {
    const target = new ToyLM({ seed: 9, vocab: 15 });
    const drafter = new ModelDrafter(new ToyLM({ seed: 9, vocab: 15 }), { name: 'twin', gamma: 3 });
    const ref = new ReferenceDrafter([{ id: 1, text: 'zzzz' }], toyTokenizer, { selfReference: false });
    const prompt = [3, 1, 4];
    const ar = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: prompt,
      maxTokens: 20,
      sampling: greedy,
    });
    const out = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: prompt,
      maxTokens: 20,
      sampling: greedy,
      planner: new DraftPlanner([{ source: ref }, { source: drafter, fallback: true }]),
    });
    expect(out.tokens).toEqual(ar.tokens);
    expect(out.stats.bySource.model?.acceptedTokens ?? 0).toBeGreaterThan(0);
  });

  it('sampling: drafts come with q, runs are reproducible from the seed', async () => {
    const target = new ToyLM({ seed: 6, vocab: 15 });
    const run = async () => {
      const drafter = new ModelDrafter(new ToyLM({ seed: 60, vocab: 15 }), { name: 'other', gamma: 3 });
      return runLoop({
        target,
        tokenizer: toyTokenizer,
        eosIds: [],
        promptTokens: [1, 2],
        maxTokens: 25,
        sampling: { temperature: 0.9, topP: 0.95, seed: 11 },
        planner: new DraftPlanner([{ source: drafter }]),
      });
    };
    const a = await run();
    const b = await run();
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens.length).toBe(25);
    expect(a.stats.bySource.model!.draftTokens).toBeGreaterThan(0);
  });
});

describe('ModelDrafter learns even when its drafts are pruned', () => {
  it('a wrong drafter whose chains the cost rule drops still sees its acceptance fall', async () => {
    const { BudgetPolicy } = await import('../../../src/drafting/budget.ts');
    const target = new ToyLM({ seed: 21, vocab: 15 });
    const drafter = new ModelDrafter(new ToyLM({ seed: 77, vocab: 15, markovWeight: 1 }), {
      name: 'wrong',
      gamma: 2,
    });
    drafter.acceptance = 0.2; // low enough that a steep cost curve prunes its chains
    const steep = Array.from({ length: 64 }, (_, s) => (s === 0 ? 0 : s === 1 ? 1 : 3 + s));
    const ar = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: [1, 2, 3],
      maxTokens: 30,
      sampling: greedy,
    });
    const out = await runLoop({
      target,
      tokenizer: toyTokenizer,
      eosIds: [],
      promptTokens: [1, 2, 3],
      maxTokens: 30,
      sampling: greedy,
      planner: new DraftPlanner([{ source: drafter }], {
        budget: new BudgetPolicy({ policy: 'cost', costCurve: steep }),
      }),
    });
    expect(out.tokens).toEqual(ar.tokens);
    expect(out.stats.draftTokens).toBe(0); // every chain pruned
    expect(drafter.acceptance).toBeLessThan(0.2); // yet it learned it is mostly wrong
  });
});
