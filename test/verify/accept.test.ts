import { describe, expect, it } from 'vitest';
import { verifyGreedy, verifySampling, verifyTree } from '../../src/verify/accept.ts';
import { Rng } from '../../src/verify/rng.ts';
import type { Logits } from '../../src/model/types.ts';

/** Literal logits: one row per tree node. */
function L(rows: number[][]): Logits {
  return { data: Float32Array.from(rows.flat()), rows: rows.length, vocabSize: rows[0]!.length };
}
/** Logits whose argmax is `t` (vocab 6). */
function peak(t: number, v = 6): number[] {
  return Array.from({ length: v }, (_, i) => (i === t ? 5 : 0));
}

describe('greedy verification', () => {
  it('accepts the longest argmax path and adds the bonus token', () => {
    // root -> 3 -> 4 -> 5 (one chain). Target argmax after root = 3 (accept), after 3 = 4
    // (accept), after 4 = 1 ≠ 5 (reject 5): emit 3, 4 and the recovered token 1.
    const tree = { tokens: [9, 3, 4, 5], parents: [-1, 0, 1, 2] };
    const r = verifyGreedy(tree, L([peak(3), peak(4), peak(1), peak(0)]));
    expect(r.path).toEqual([1, 2]);
    expect(r.accepted).toEqual([3, 4]);
    expect(r.bonus).toBe(1);
  });

  it('follows the branch that matches among siblings', () => {
    // root has children 2 (node 1) and 4 (node 2); node 2 has child 5 (node 3).
    // argmax after root = 4: branch "2" is rejected, branch "4" accepted; after 4 argmax = 5: accepted;
    // after 5 argmax = 0: the bonus token.
    const tree = { tokens: [0, 2, 4, 5], parents: [-1, 0, 0, 2] };
    const r = verifyGreedy(tree, L([peak(4), peak(1), peak(5), peak(0)]));
    expect(r.path).toEqual([2, 3]);
    expect(r.accepted).toEqual([4, 5]);
    expect(r.bonus).toBe(0);
  });

  it('rejects at the first node when nothing matches and still emits one token', () => {
    // the draft says 2 but the target wants 3: nothing accepted, 3 is the recovered token.
    const r = verifyGreedy({ tokens: [0, 2], parents: [-1, 0] }, L([peak(3), peak(0)]));
    expect(r.accepted).toEqual([]);
    expect(r.bonus).toBe(3);
  });

  it('a root-only tree is plain autoregressive decoding', () => {
    const r = verifyGreedy({ tokens: [7], parents: [-1] }, L([peak(2)]));
    expect(r).toEqual({ path: [], accepted: [], bonus: 2 });
  });

  it('breaks ties towards the lower token id, like argmax in AR decoding', () => {
    // tokens 1 and 4 tie; the draft 4 is rejected because AR would pick 1.
    const r = verifyGreedy({ tokens: [0, 4], parents: [-1, 0] }, L([[0, 2, 0, 0, 2, 0], peak(0)]));
    expect(r.bonus).toBe(1);
    expect(r.accepted).toEqual([]);
  });

  it('refuses a tree whose parents come after children, and a logits/tree size mismatch', () => {
    expect(() =>
      verifyGreedy({ tokens: [0, 1, 2], parents: [-1, 2, 0] }, L([peak(0), peak(0), peak(0)])),
    ).toThrow(/parent/);
    expect(() =>
      verifyTree({ tokens: [0, 1], parents: [-1, 0] }, L([peak(0)]), { temperature: 0 }, null),
    ).toThrow(/rows/);
  });
});

describe('sampling verification', () => {
  it('deterministic drafts: a draft with target probability 1 is always accepted', () => {
    // temperature 1 but logits so peaked that p(3) ≈ 1: the draft 3 is accepted every time.
    const big = [0, 0, 0, 80, 0, 0];
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) {
      const r = verifySampling(
        { tokens: [0, 3], parents: [-1, 0] },
        L([big, peak(2)]),
        { temperature: 1 },
        rng,
      );
      expect(r.accepted).toEqual([3]);
    }
  });

  it('deterministic drafts: a draft outside the top-k set is always rejected', () => {
    // top-k = 1 keeps only token 3, so the draft 5 can never be drawn: rejected, 3 emitted.
    const rng = new Rng(2);
    for (let i = 0; i < 20; i++) {
      const r = verifySampling(
        { tokens: [0, 5], parents: [-1, 0] },
        L([peak(3), peak(0)]),
        { temperature: 1, topK: 1 },
        rng,
      );
      expect(r.accepted).toEqual([]);
      expect(r.bonus).toBe(3);
    }
  });

  it('model drafts: q = p is always accepted (min(1, p/q) = 1)', () => {
    const logits = [0.1, 0.5, -0.3, 0.9, 0.0, 0.2];
    const p = softmax(logits);
    const rng = new Rng(3);
    for (let i = 0; i < 100; i++) {
      const r = verifySampling(
        { tokens: [0, 1], parents: [-1, 0], q: [null, p] },
        L([logits, peak(0)]),
        { temperature: 1 },
        rng,
      );
      expect(r.accepted).toEqual([1]);
    }
  });

  it('model drafts: p(x) = 0 is always rejected and the recovered token comes from max(0, p − q)', () => {
    // target puts all mass on 2 and 4 (top-k 2); the drafter proposed 1 with q(1) = 1:
    // rejected; residual = p, so the recovered token is 2 or 4.
    const q = Float32Array.from([0, 1, 0, 0, 0, 0]);
    const rng = new Rng(4);
    for (let i = 0; i < 50; i++) {
      const r = verifySampling(
        { tokens: [0, 1], parents: [-1, 0], q: [null, q] },
        L([[0, 0, 3, 0, 3, 0], peak(0)]),
        { temperature: 1, topK: 2 },
        rng,
      );
      expect(r.accepted).toEqual([]);
      expect([2, 4]).toContain(r.bonus);
    }
  });
});

function softmax(x: number[]): Float32Array {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e.map((v) => v / s));
}
