/** The cost rule of the draft budget, alone and inside a batched forward (literal curves). */
import { describe, expect, it } from 'vitest';
import { BudgetPolicy } from '../../src/drafting/budget.ts';

// ms of a forward over s rows: flat to 8 rows (the weights dominate), then 10 ms per row.
const curve = [0, 30, 30, 30, 30, 30, 30, 30, 30, ...Array.from({ length: 56 }, (_, i) => 40 + 10 * i)];

describe('BudgetPolicy.chooseNodes', () => {
  const probs = [0.9, 0.8, 0.7, 0.5, 0.4, 0.3];
  it('alone: every node is free while the curve is flat', () => {
    const b = new BudgetPolicy({ costCurve: curve });
    expect(b.chooseNodes(probs)).toBe(6); // 7 rows cost what 1 does
  });

  it('in a batch whose other rows already fill the flat part, weak nodes are not worth their rows', () => {
    const b = new BudgetPolicy({ costCurve: curve });
    // 7 requests with 14 rows: the forward costs 100 ms for 8 expected tokens (0.08 tokens/ms) and
    // each extra row adds 10 ms, so a node pays only if its probability beats 0.08 × 10 = 0.8:
    // 0.9 is kept (8.9 tokens / 110 ms), 0.8 would not raise the rate (9.7 / 120 ms)
    const n = b.chooseNodes(probs, { rows: 14, requests: 7 });
    expect(n).toBe(1);
    expect(b.chooseNodes(probs, { rows: 0, requests: 0 })).toBe(6);
  });
});
