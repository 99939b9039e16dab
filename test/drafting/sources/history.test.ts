import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../../src/drafting/history/store.ts';
import { HISTORY, HistoryDrafter } from '../../../src/drafting/sources/history.ts';
import { DraftTree } from '../../../src/drafting/tree.ts';
import type { DraftContext } from '../../../src/drafting/types.ts';

const ctx = (tokens: number[]): DraftContext => ({ tokens, promptLength: 1, sampling: { temperature: 0 } });
const budget = { maxTokens: 16, maxDepth: 4, maxBranches: 4 };

function storeOf(...seqs: number[][]): HistoryStore {
  const s = HistoryStore.inMemory();
  for (const q of seqs) s.append(q);
  return s;
}

describe('HistoryDrafter', () => {
  it('proposes a tree of continuations of the longest match, most frequent first', () => {
    // "1 2 3" was followed by "4 5" twice, by "6" once
    const store = storeOf([1, 2, 3, 4, 5], [9, 1, 2, 3, 4, 5, 0], [1, 2, 3, 6, 7]);
    const d = new HistoryDrafter(store);
    const got = d.propose(ctx([8, 1, 2, 3]), budget);
    expect(got.map((c) => c.tokens[0])).toEqual([4, 6]); // frequency order
    expect(got[0]!.tokens.slice(0, 2)).toEqual([4, 5]);
    expect(got[1]!.tokens).toEqual([6, 7]);
    expect(got[0]!.confidence).toBeGreaterThan(got[1]!.confidence);
    // shares: 4 followed 2 of 3 times, 6 one of 3 times
    expect(got[0]!.acceptProbs![0]! / got[1]!.acceptProbs![0]!).toBeCloseTo(2);
    const p = got[1]!.provenance;
    expect(p).toEqual({ kind: 'history', entry: 2, offset: 3 }); // the 6 of entry 2
    // the candidates merge into a tree with two children under the root
    const tree = DraftTree.build(3, got, { maxNodes: 16, maxDepth: 4, eosIds: [] });
    expect(tree.parents.filter((x) => x === 0)).toHaveLength(2);
  });

  it('after "4": both continuations of "3 4 5" — 0 and the end — are told apart', () => {
    const store = storeOf([1, 2, 3, 4, 5], [9, 1, 2, 3, 4, 5, 0]);
    const got = new HistoryDrafter(store).propose(ctx([2, 3, 4]), budget);
    expect(got).toHaveLength(1);
    expect(got[0]!.tokens).toEqual([5, 0]);
  });

  it(`is empty below ${HISTORY.minMatch} matched tokens, on an empty store, and with no budget`, () => {
    const store = storeOf([1, 2, 3, 4, 5]);
    const d = new HistoryDrafter(store);
    expect(d.propose(ctx([7, 2, 3]), budget)).toEqual([]); // "2 3" only: too short a match
    expect(new HistoryDrafter(HistoryStore.inMemory()).propose(ctx([1, 2, 3]), budget)).toEqual([]);
    expect(d.propose(ctx([1, 2, 3]), { ...budget, maxTokens: 0 })).toEqual([]);
    // a match at the very end of an entry has no continuation
    expect(d.propose(ctx([3, 4, 5]), budget)).toEqual([]);
  });

  it('stays within the budget (nodes, depth, branches)', () => {
    const seqs = Array.from({ length: 6 }, (_, i) => [1, 2, 3, 10 + i, 20 + i, 30 + i, 40 + i, 50 + i]);
    const d = new HistoryDrafter(storeOf(...seqs));
    const got = d.propose(ctx([1, 2, 3]), { maxTokens: 7, maxDepth: 3, maxBranches: 3 });
    expect(got.length).toBeLessThanOrEqual(3);
    for (const c of got) expect(c.tokens.length).toBeLessThanOrEqual(3);
    const tree = DraftTree.build(3, got, { maxNodes: 100, maxDepth: 3, eosIds: [] });
    expect(tree.draftCount).toBeLessThanOrEqual(7);
  });

  it('accepted drafts touch their entry (kept longer under eviction)', () => {
    const store = storeOf([1, 2, 3, 4], [5, 6, 7, 8]);
    const d = new HistoryDrafter(store);
    const before = store.entryAt(0).used;
    d.propose(ctx([1, 2, 3]), budget);
    d.observe({ draftTokens: 1, acceptedTokens: 1, context: [1, 2, 3, 4] });
    expect(store.entryAt(0).used).toBeGreaterThan(before);
    expect(d.acceptance).toBeGreaterThan(0.5);
  });
});
