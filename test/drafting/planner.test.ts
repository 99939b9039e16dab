/**
 * DraftPlanner on fake sources: the fallback rule, the q-draft rule and the feedback each
 * source hears, without a model.
 */
import { describe, expect, it } from 'vitest';
import { BudgetPolicy } from '../../src/drafting/budget.ts';
import { DraftPlanner, FALLBACK } from '../../src/drafting/planner.ts';
import type { DraftCandidate, DraftContext, DraftOutcome, DraftSource } from '../../src/drafting/types.ts';

/** Proposes fixed candidates and records what it is asked and told. */
class FakeSource implements DraftSource {
  asked = 0;
  heard: DraftOutcome[] = [];
  payoffMs?: number;
  constructor(
    private readonly candidates: DraftCandidate[],
    public acceptance = 0.5,
  ) {}
  propose(): DraftCandidate[] {
    this.asked++;
    return this.candidates.map((c) => ({ ...c, provenance: { ...c.provenance } }));
  }
  observe(o: DraftOutcome): void {
    this.heard.push(o);
  }
}

const copy = (tokens: number[]): DraftCandidate => ({
  tokens,
  provenance: { kind: 'passage', passageId: 1, offset: 0 },
  confidence: 1,
  acceptProbs: tokens.map(() => 0.9),
});
const sampledQ = (tokens: number[]): DraftCandidate => ({
  tokens,
  provenance: { kind: 'model', model: 'fake' },
  confidence: 0.5,
  q: tokens.map(() => new Float32Array(16).fill(1 / 16)),
});
const ctx = (temperature: number): DraftContext => ({
  tokens: [1, 2, 3],
  promptLength: 3,
  sampling: { temperature },
});
const limits = { maxDepth: 8, maxNodes: 64, eosIds: [15], chainOnly: false };

describe('DraftPlanner', () => {
  it('asks a fallback only when the sources before it had nothing or are weak', async () => {
    const strong = new FakeSource([copy([4, 5])], 0.9);
    const fallback = new FakeSource([copy([7])]);
    await new DraftPlanner([{ source: strong }, { source: fallback, fallback: true }]).plan(ctx(0), limits);
    expect(fallback.asked).toBe(0);
    const empty = new FakeSource([], 0.9);
    await new DraftPlanner([{ source: empty }, { source: fallback, fallback: true }]).plan(ctx(0), limits);
    expect(fallback.asked).toBe(1);
    // a fallback whose own acceptance has dropped this low is not asked at all
    const hopeless = new FakeSource([copy([7])], 0.05);
    await new DraftPlanner([{ source: empty }, { source: hopeless, fallback: true }]).plan(ctx(0), limits);
    expect(hopeless.asked).toBe(0);
  });

  it('stops asking a free fallback whose drafts cost more forward time than they save, probing it', async () => {
    // cost curve: a forward of 3 rows costs 17 ms more than one of 1 row (30 ms)
    const run = async (accepts: boolean) => {
      const fallback = new FakeSource([copy([7, 8])]);
      const budget = new BudgetPolicy({ policy: 'simple', costCurve: [0, 30, 45, 47, 50] });
      const planner = new DraftPlanner(
        [{ source: new FakeSource([], 0.9) }, { source: fallback, fallback: true }],
        {
          budget,
        },
      );
      for (let i = 0; i < 40; i++) {
        const tree = await planner.plan(ctx(0), limits);
        planner.observe(tree, { path: accepts && tree.size > 1 ? [1, 2] : [] }, [1, 2, 3, 9]);
      }
      return fallback;
    };
    const loser = await run(false);
    expect(loser.payoffMs).toBeCloseTo(-17);
    // asked on the first step; after that only as a probe every FALLBACK.probeEvery steps
    expect(loser.asked).toBe(1 + Math.floor(39 / FALLBACK.probeEvery));
    const winner = await run(true);
    expect(winner.payoffMs).toBeCloseTo(2 * 30 - 17);
    expect(winner.asked).toBe(40);
  });

  it('never merges q-drafts with deterministic drafts when sampling', async () => {
    const both = [{ source: new FakeSource([copy([4, 5])]) }, { source: new FakeSource([sampledQ([6, 7])]) }];
    const sampled = await new DraftPlanner(both).plan(ctx(0.8), limits);
    expect(sampled.tokens).toEqual([3, 4, 5]); // the q chain [6, 7] was dropped
    expect(sampled.q.every((q) => q === null)).toBe(true);
    const greedy = await new DraftPlanner(both).plan(ctx(0), limits);
    expect(greedy.tokens).toEqual([3, 4, 5, 6, 7]); // greedy drafts carry no q to protect
  });

  it('tells every source how many of its tree tokens were accepted, and counts by kind', async () => {
    const a = new FakeSource([copy([4, 5])]);
    const b = new FakeSource([sampledQ([6])]);
    const planner = new DraftPlanner([{ source: a }, { source: b }]);
    const tree = await planner.plan(ctx(0), limits);
    // the target accepted node 1 (token 4) only
    const step = planner.observe(tree, { path: [1] }, [1, 2, 3, 4, 9]);
    expect(a.heard[0]).toMatchObject({ draftTokens: 2, acceptedTokens: 1 });
    expect(b.heard[0]).toMatchObject({ draftTokens: 1, acceptedTokens: 0 });
    expect(step).toEqual({
      treeSize: 3,
      draftBySource: { passage: 2, model: 1 },
      acceptedBySource: { passage: 1 },
      accepted: 1,
    });
  });
});
