/**
 * Deliberately broken sampling verifiers: the planted bugs the engine-level distribution
 * test (distribution.test.ts in this folder) must catch. Test doubles only; the engine
 * gets them through vi.mock of src/verify/accept.ts, never through a production option.
 *
 * Both differ from the real rule only where a draft carrying q is rejected:
 * - `residual-from-p`: the next child and the recovered token use p itself instead of the
 *   residual norm(max(0, p − q)) — the classic slip that over-produces the drafter's picks;
 * - `bonus-from-q`: the token after the rejected draft is drawn from the draft's own q
 *   instead of the residual.
 * This file imports no runtime code from accept.ts, which is mocked while it loads.
 */
import type { Logits } from '../../src/model/types.ts';
import type { VerifyResult, VerifyTree } from '../../src/verify/accept.ts';
import type { Rng } from '../../src/verify/rng.ts';
import { sampleFrom, targetDistribution, type SamplingSettings } from '../../src/verify/sampling.ts';

export type PlantedBug = 'residual-from-p' | 'bonus-from-q';

export function plantedVerifySampling(
  tree: VerifyTree,
  logits: Logits, // [N, V]
  sampling: SamplingSettings,
  rng: Rng,
  bug: PlantedBug,
): VerifyResult {
  const v = logits.vocabSize;
  const kids = (n: number): number[] => tree.parents.flatMap((p, i) => (p === n && i > 0 ? [i] : []));
  const path: number[] = [];
  const accepted: number[] = [];
  let cur = 0;
  for (;;) {
    const p = targetDistribution(logits.data.subarray(cur * v, (cur + 1) * v), sampling); // [V]
    const children = kids(cur);
    let next: number | undefined;
    let recovered: number | undefined;
    if (children.every((c) => !tree.q?.[c])) {
      const x = sampleFrom(p, rng);
      next = children.find((c) => tree.tokens[c] === x);
      if (next === undefined) recovered = x;
    } else {
      let r: ArrayLike<number> = p;
      let lastQ: ArrayLike<number> | null = null;
      for (const c of children) {
        const x = tree.tokens[c]!;
        const q = tree.q?.[c] ?? null;
        const qx = q === null ? 1 : q[x]!;
        if (rng.next() < (qx > 0 ? Math.min(1, r[x]! / qx) : 0)) {
          next = c;
          break;
        }
        lastQ = q;
        if (bug === 'residual-from-p') continue; // r stays p: the planted bug
        const res = new Float64Array(v);
        let sum = 0;
        for (let i = 0; i < v; i++) {
          const d = r[i]! - (q === null ? (i === x ? 1 : 0) : q[i]!);
          if (d > 0) sum += res[i] = d;
        }
        if (sum > 0) r = res.map((d) => d / sum);
      }
      if (next === undefined) recovered = sampleFrom(bug === 'bonus-from-q' && lastQ ? lastQ : r, rng);
    }
    if (next === undefined) return { path, accepted, bonus: recovered! };
    path.push(next);
    accepted.push(tree.tokens[next]!);
    cur = next;
  }
}
