import { describe, expect, it } from 'vitest';
import { DraftTree } from '../../../src/drafting/tree.ts';
import { RecycleTable, RecyclingDrafter } from '../../../src/drafting/sources/recycling.ts';

const ctx = (tokens: number[]) => ({ tokens, promptLength: 1, sampling: { temperature: 0 } });
const budget = { maxTokens: 32, maxDepth: 4, maxBranches: 8 };

describe('RecycleTable', () => {
  it('keeps the latest top-k per token and evicts the least recently updated past its bound', () => {
    const t = new RecycleTable(2);
    t.set(1, [5, 6]);
    t.set(2, [7]);
    t.set(1, [8, 9]); // refreshes token 1
    t.set(3, [4]); // evicts token 2, the oldest
    expect(t.get(1)).toEqual([8, 9]);
    expect(t.get(2)).toBeUndefined();
    expect(t.size).toBe(2);
    expect(RecycleTable.fromJSON(t.toJSON()).get(3)).toEqual([4]);
    expect(RecycleTable.fromJSON('junk').size).toBe(0);
  });
});

describe('RecyclingDrafter', () => {
  it('proposes nothing before the target has handed back any rows', () => {
    expect(new RecyclingDrafter(new RecycleTable()).propose(ctx([1, 2]), budget)).toEqual([]);
  });

  it('learns rows from observe and drafts them back as a tree: breadth by rank, depth by chaining', () => {
    const table = new RecycleTable();
    const d = new RecyclingDrafter(table);
    // a step whose root was token 2 (context index 1) and which accepted token 3:
    // rows follow ctx[1] = 2 and ctx[2] = 3
    d.observe({
      draftTokens: 0,
      acceptedTokens: 0,
      context: [1, 2, 3, 4],
      topK: [
        [3, 9, 8],
        [4, 7],
      ],
      topKAt: 1,
    });
    expect(table.get(2)).toEqual([3, 9, 8]);
    expect(table.get(3)).toEqual([4, 7]);
    // root 2 again (after a different token: the global table answers)
    const cands = d.propose(ctx([5, 2]), budget);
    const tree = DraftTree.build(2, cands, { maxNodes: 32, maxDepth: 4, eosIds: [] });
    // root's children: 3, 9, 8 (rank order); under 3 the chained row of token 3: 4, 7 (breadth 3 at depth 1)
    const kids = (n: number) => tree.tokens.filter((_, i) => tree.parents[i] === n);
    expect(kids(0).sort()).toEqual([3, 8, 9]);
    const three = tree.tokens.indexOf(3);
    expect(kids(three).sort()).toEqual([4, 7]);
    // every candidate is a recycling draft with decreasing acceptance estimates
    for (const c of cands) {
      expect(c.provenance.kind).toBe('recycling');
      expect(c.acceptProbs!.length).toBe(c.tokens.length);
    }
  });

  it('the bigram row of this request wins over the global row', () => {
    const table = new RecycleTable();
    const d = new RecyclingDrafter(table);
    d.observe({ draftTokens: 0, acceptedTokens: 0, context: [1, 2, 3], topK: [[7]], topKAt: 1 }); // after (1, 2): 7
    table.set(2, [9]); // another request's newer row for token 2
    const first = d.propose(ctx([1, 2]), budget).map((c) => c.tokens[0]);
    expect(first).toEqual([7]);
    expect(d.propose(ctx([5, 2]), budget).map((c) => c.tokens[0])).toEqual([9]);
  });

  it('rank hit rates and acceptance follow what the target emitted', () => {
    const table = new RecycleTable();
    table.set(2, [3, 4]);
    const learned = { acceptance: 0.5, ranks: { first: [0.3, 0.1], deep: [0.2, 0.1] } };
    const d = new RecyclingDrafter(table, learned);
    d.propose(ctx([1, 2]), budget);
    d.observe({ draftTokens: 2, acceptedTokens: 1, context: [1, 2, 4, 6] }); // rank 1 was right
    expect(learned.ranks.first[0]).toBeLessThan(0.3);
    expect(learned.ranks.first[1]).toBeGreaterThan(0.1);
    expect(learned.acceptance).toBeGreaterThan(0.5);
  });
});
