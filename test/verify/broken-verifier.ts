/**
 * Test double: a verifier with a deliberately wrong acceptance rule (accept the first draft
 * child the target could produce at all, p(x) > 0), so the distribution tests can show that
 * they catch a broken verifier. Greedy settings fall through to the real greedy rule.
 */
import { logitsRow, type Logits } from '../../src/model/types.ts';
import { childrenOf, verifyGreedy, type VerifyResult, type VerifyTree } from '../../src/verify/accept.ts';
import type { Rng } from '../../src/verify/rng.ts';
import {
  isGreedy,
  sampleFrom,
  targetDistribution,
  type SamplingSettings,
} from '../../src/verify/sampling.ts';

export function brokenVerifyTree(
  tree: VerifyTree,
  logits: Logits,
  sampling: SamplingSettings,
  rng: Rng | null,
): VerifyResult {
  if (isGreedy(sampling)) return verifyGreedy(tree, logits);
  if (rng === null) throw new Error('verifier: sampling needs an rng');
  const children = childrenOf(tree.parents);
  const path: number[] = [];
  const accepted: number[] = [];
  let cur = 0;
  for (;;) {
    const p = targetDistribution(logitsRow(logits, cur), sampling); // [V]
    const next = children[cur]!.find((c) => p[tree.tokens[c]!]! > 0);
    if (next === undefined) return { path, accepted, bonus: sampleFrom(p, rng) };
    path.push(next);
    accepted.push(tree.tokens[next]!);
    cur = next;
  }
}
