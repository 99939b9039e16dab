/**
 * Exact properties every tree-capable CausalLM must have (shared by the in-memory and the
 * GGUF-converted tiny models).
 */
import { expect } from 'vitest';
import { MASK_BLOCKED, causalMask, type CausalLM } from '../../../src/model/types.ts';

export const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function propertyChecks(lm: CausalLM): Promise<void> {
  const V = lm.config.vocabSize;
  const seq = [1, 9, 4, 22, 7, 30, 2, 11, 5, 19];
  // 1. Incremental decoding (prefill 4, then 1, 2, 3 tokens) equals one full forward.
  const full = await lm.forward(seq, range(0, seq.length), null, lm.newCache());
  const cache = lm.newCache();
  const parts: Float32Array[] = [];
  let p = 0;
  for (const n of [4, 1, 2, 3]) {
    const out = await lm.forward(seq.slice(p, p + n), range(p, n), null, cache);
    parts.push(out.data);
    p += n;
  }
  expect(cache.length).toBe(seq.length);
  const inc = new Float32Array(seq.length * V);
  let o = 0;
  for (const part of parts) {
    inc.set(part, o);
    o += part.length;
  }
  expect(maxAbsDiff(inc, full.data)).toBeLessThanOrEqual(1e-3);

  // 1b. Logits only for the rows asked for (prefill asks for its last): the same rows, in order.
  const picked = await lm.forward(seq, range(0, seq.length), null, lm.newCache(), { logitRows: [2, 9] });
  expect(picked.rows).toBe(2);
  const want = new Float32Array(2 * V);
  want.set(full.data.subarray(2 * V, 3 * V), 0);
  want.set(full.data.subarray(9 * V, 10 * V), V);
  expect(maxAbsDiff(picked.data, want)).toBeLessThanOrEqual(1e-3);

  // 2. Tree after a 4-token prefix: branch A = [a0, a1, a2], branch B = [b0, b1] (both at depth 0..).
  const prefix = seq.slice(0, 4);
  const a = [13, 8, 27];
  const b = [6, 31];
  const base = lm.newCache();
  await lm.forward(prefix, range(0, 4), null, base);
  const tree = [...a, ...b];
  const depth = [0, 1, 2, 0, 1];
  const parent = [-1, 0, 1, -1, 3];
  const total = 4 + tree.length;
  const mask = new Float32Array(tree.length * total).fill(MASK_BLOCKED);
  for (let i = 0; i < tree.length; i++) {
    for (let j = 0; j < 4; j++) mask[i * total + j] = 0;
    for (let n = i; n >= 0; n = parent[n]!) mask[i * total + 4 + n] = 0;
  }
  const treeCache = base.clone();
  const treeOut = await lm.forward(
    tree,
    depth.map((dd) => 4 + dd),
    mask,
    treeCache,
  );
  const aloneA = await lm.forward(a, range(4, 3), null, base.clone());
  const aloneB = await lm.forward(b, range(4, 2), null, base.clone());
  expect(maxAbsDiff(treeOut.data.slice(0, 3 * V), aloneA.data)).toBeLessThanOrEqual(1e-3);
  expect(maxAbsDiff(treeOut.data.slice(3 * V), aloneB.data)).toBeLessThanOrEqual(1e-3);

  // 3. Keep branch B ([3, 4]) and continue: same as B alone, then the same next token.
  treeCache.keep([3, 4]);
  expect(treeCache.length).toBe(6);
  const chainCache = base.clone();
  await lm.forward(b, range(4, 2), null, chainCache);
  const next = [12, 3];
  const afterKeep = await lm.forward(next, range(6, 2), null, treeCache);
  const afterChain = await lm.forward(next, range(6, 2), null, chainCache);
  expect(maxAbsDiff(afterKeep.data, afterChain.data)).toBeLessThanOrEqual(1e-3);

  // 3b. Non-contiguous keep: tree [a0, b0, a1] (a1's parent is a0), keep [0, 2] = chain a0 a1.
  const tree2 = [a[0]!, b[0]!, a[1]!];
  const parent2 = [-1, -1, 0];
  const total2 = 4 + tree2.length;
  const mask2 = new Float32Array(tree2.length * total2).fill(MASK_BLOCKED);
  for (let i = 0; i < tree2.length; i++) {
    for (let j = 0; j < 4; j++) mask2[i * total2 + j] = 0;
    for (let n = i; n >= 0; n = parent2[n]!) mask2[i * total2 + 4 + n] = 0;
  }
  const c2 = base.clone();
  await lm.forward(tree2, [4, 4, 5], mask2, c2);
  c2.keep([0, 2]);
  const chain2 = base.clone();
  await lm.forward([a[0]!, a[1]!], range(4, 2), null, chain2);
  const k1 = await lm.forward(next, range(6, 2), null, c2);
  const k2 = await lm.forward(next, range(6, 2), null, chain2);
  expect(maxAbsDiff(k1.data, k2.data)).toBeLessThanOrEqual(1e-3);

  // 4. truncate rolls back: drop the 2 `next` tokens and redo them.
  treeCache.truncate(6);
  const again = await lm.forward(next, range(6, 2), causalMask(6, 2), treeCache);
  expect(maxAbsDiff(again.data, afterChain.data)).toBeLessThanOrEqual(1e-3);
}
