import { describe, expect, it } from 'vitest';
import { DraftTree } from '../../src/drafting/tree.ts';
import type { DraftCandidate } from '../../src/drafting/types.ts';
import { MASK_BLOCKED } from '../../src/model/types.ts';

const cand = (tokens: number[], passageId = 1): DraftCandidate => ({
  tokens,
  provenance: { kind: 'passage', passageId, offset: 0 },
  confidence: 1,
});
const limits = { maxNodes: 32, maxDepth: 16, eosIds: [2] };

describe('DraftTree', () => {
  it('merges shared prefixes into a trie, parents before children, in candidate order', () => {
    // [5 6 7] and [5 6 8] share "5 6"; [9] is a second root child.
    const t = DraftTree.build(100, [cand([5, 6, 7]), cand([5, 6, 8]), cand([9])], limits);
    expect(t.tokens).toEqual([100, 5, 6, 7, 8, 9]);
    expect(t.parents).toEqual([-1, 0, 1, 2, 2, 0]);
    expect(t.depths).toEqual([0, 1, 2, 3, 3, 1]);
    expect(t.positions(10)).toEqual([10, 11, 12, 13, 13, 11]);
    expect(t.isChain).toBe(false);
    expect(t.pathTo(4)).toEqual([0, 1, 2, 4]);
  });

  it('mask: each node sees the past, its ancestors and itself', () => {
    const t = DraftTree.build(100, [cand([5, 6]), cand([9])], limits);
    const past = 2;
    const m = t.mask(past); // [4, 6]
    const allowed = (i: number): number[] =>
      Array.from({ length: past + t.size }, (_, j) => (m[i * (past + t.size) + j] === 0 ? 1 : 0));
    expect(m.length).toBe(t.size * (past + t.size));
    expect(allowed(0)).toEqual([1, 1, 1, 0, 0, 0]); // root
    expect(allowed(1)).toEqual([1, 1, 1, 1, 0, 0]); // 5
    expect(allowed(2)).toEqual([1, 1, 1, 1, 1, 0]); // 6 under 5
    expect(allowed(3)).toEqual([1, 1, 1, 0, 0, 1]); // 9 does not see 5 or 6
    expect(m[3 * 6 + 3]).toBe(MASK_BLOCKED);
  });

  it('clips at EOS (inclusive), at maxDepth and at the node budget', () => {
    const eos = DraftTree.build(0, [cand([4, 2, 7, 8])], limits);
    expect(eos.tokens).toEqual([0, 4, 2]); // nothing after EOS token 2
    const deep = DraftTree.build(0, [cand([4, 5, 6, 7])], { ...limits, maxDepth: 2 });
    expect(deep.tokens).toEqual([0, 4, 5]);
    const budget = DraftTree.build(0, [cand([4, 5, 6]), cand([7, 8])], { ...limits, maxNodes: 4 });
    expect(budget.draftCount).toBe(4);
    expect(budget.tokens).toEqual([0, 4, 5, 6, 7]);
  });

  it('empty candidates give a root-only tree (no draft, not an error)', () => {
    const t = DraftTree.build(3, [], limits);
    expect(t.size).toBe(1);
    expect(t.draftCount).toBe(0);
    expect(t.isChain).toBe(true);
    expect(Array.from(t.mask(0))).toEqual([0]);
  });

  it('chainOnly keeps only the best candidate (2D-mask models)', () => {
    const t = DraftTree.build(0, [cand([4, 5]), cand([6])], { ...limits, chainOnly: true });
    expect(t.tokens).toEqual([0, 4, 5]);
    expect(t.isChain).toBe(true);
  });

  it('keeps the first candidate as the origin of a shared node', () => {
    const t = DraftTree.build(0, [cand([4, 5], 7), cand([4, 6], 8)], limits);
    expect(t.origins[1]!.provenance).toMatchObject({ passageId: 7 });
    expect(t.origins[3]!.provenance).toMatchObject({ passageId: 8 });
    expect(t.origins[3]!.index).toBe(1);
  });
});

describe('DraftTree.prune and the cost rule', () => {
  it('keeps the n most probable nodes with their ancestors', async () => {
    const { BudgetPolicy } = await import('../../src/drafting/budget.ts');
    // candidate A: 3 tokens with per-token acceptance 0.9, 0.9, 0.9; candidate B: 2 tokens at 0.2, 0.5
    const t = DraftTree.build(
      0,
      [
        { ...cand([4, 5, 6]), acceptProbs: [0.9, 0.9, 0.9] },
        { ...cand([7, 8]), acceptProbs: [0.2, 0.5] },
      ],
      limits,
    );
    const probs = t.origins.map((o) => o?.prob ?? 0);
    expect(probs.slice(1).map((p) => +p.toFixed(3))).toEqual([0.9, 0.81, 0.729, 0.2, 0.1]);
    // siblings compete: root's children sum to 0.9 + 0.2 = 1.1 > 0.95, so both are scaled by 0.95/1.1
    const pp = t.pathProbs();
    expect(+pp[1]!.toFixed(4)).toBe(+(0.9 * (0.95 / 1.1)).toFixed(4));
    expect(pp[2]! / pp[1]!).toBeCloseTo(0.9, 9);
    const p3 = t.prune(probs, 3);
    expect(p3.tokens).toEqual([0, 4, 5, 6]); // B's branch (0.2, 0.1) goes first
    expect(p3.parents).toEqual([-1, 0, 1, 2]);
    // cost rule: a forward of s tokens costs 1 + 0.5 (s − 1): only nodes with P > 0.5 pay off
    const b = new BudgetPolicy({ policy: 'cost', costCurve: [0, 1, 1.5, 2, 2.5, 3, 3.5] });
    expect(b.chooseNodes([0.9, 0.81, 0.729, 0.2, 0.1])).toBe(3);
    expect(b.chooseNodes([0.3, 0.2])).toBe(0);
    // the simple rule verifies everything it was given
    expect(new BudgetPolicy({ policy: 'simple' }).chooseNodes([0.3, 0.2])).toBe(2);
  });
});
