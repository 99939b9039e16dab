/**
 * How many draft tokens to verify per step.
 *
 * `simple` (the documented baseline, transformers' assisted-decoding schedule "+2/−1"):
 * the draft depth grows by 2 after a step that accepted every level of its tree and
 * shrinks by 1 otherwise, within [minDepth, maxDepth]; the node budget is fixed (maxNodes).
 *
 * `cost` (default when a forward-cost curve is known): candidates come with estimated
 * acceptance probabilities (per source and match length, learned as the request runs), so
 * every tree node has a probability P(node on the accepted path). Sorting nodes by it, the
 * tree of the best n nodes yields 1 + ΣP tokens per step in expectation and costs
 * cost(n + 1) ms (the measured forward time of n + 1 tokens). We keep the n that maximises
 * expected tokens per millisecond — the goal is tokens per second, not per step. On a CPU
 * the cost grows clearly with n, so this prunes weak branches and keeps long confident copies.
 *
 * In a batched forward (continuous batching) the forward is shared: with `others` rows and
 * `requests` requests already in it, n more nodes yield (requests + 1 + ΣP) tokens in
 * cost(others + n + 1) ms — the batch's tokens per millisecond. Where the curve is flat a
 * busy batch affords as much as a lone request; where it is steep (many rows) trees shrink.
 */
import type { DraftBudget } from './types.ts';

export interface BudgetOptions {
  policy?: 'simple' | 'cost';
  initialDepth?: number;
  minDepth?: number;
  maxDepth?: number;
  /** Node budget of the tree (the `simple` rule's fixed breadth; the cap for `cost`). */
  maxNodes?: number;
  maxBranches?: number;
  /** cost[s] = ms of a target forward over s tokens (s = 1..). */
  costCurve?: readonly number[];
}

/** Without a measured curve: a forward of s tokens costs 1 + 0.08 (s − 1) forwards of one. */
const DEFAULT_SLOPE = 0.08;

/** A request alone in its forward. */
const NO_BATCH = { rows: 0, requests: 0 };

export class BudgetPolicy {
  private depth: number;
  private readonly minDepth: number;
  private readonly maxDepthCap: number;
  private readonly maxNodes: number;
  private readonly maxBranches: number;
  readonly policy: 'simple' | 'cost';

  constructor(private readonly opts: BudgetOptions = {}) {
    this.policy = opts.policy ?? (opts.costCurve ? 'cost' : 'simple');
    this.depth = opts.initialDepth ?? (this.policy === 'cost' ? 16 : 8);
    this.minDepth = opts.minDepth ?? 2;
    this.maxDepthCap = opts.maxDepth ?? 24;
    this.maxNodes = opts.maxNodes ?? (this.policy === 'cost' ? 48 : 32);
    this.maxBranches = opts.maxBranches ?? (this.policy === 'cost' ? 8 : 4);
  }

  /** What sources may propose this step (the cost rule prunes afterwards). */
  next(): DraftBudget {
    return {
      maxTokens: this.maxNodes,
      maxDepth: Math.min(this.depth, this.maxNodes),
      maxBranches: this.maxBranches,
    };
  }

  /** Forward cost of s tokens, relative units. */
  cost(s: number): number {
    const c = this.opts.costCurve;
    if (c && c.length > 1)
      return (
        c[Math.min(s, c.length - 1)]! +
        (s >= c.length ? (s - c.length + 1) * (c[c.length - 1]! - c[c.length - 2]!) : 0)
      );
    return 1 + DEFAULT_SLOPE * (s - 1);
  }

  /** Measured ms of a target forward over s tokens, or null without a measured curve. */
  forwardMs(s: number): number | null {
    const c = this.opts.costCurve;
    return c && c.length > 1 ? this.cost(s) : null;
  }

  /**
   * The cost rule: how many of the nodes (probabilities sorted high to low) to verify.
   * Returns all of them under the `simple` rule.
   */
  chooseNodes(probsDesc: readonly number[], batch: { rows: number; requests: number } = NO_BATCH): number {
    if (this.policy === 'simple') return probsDesc.length;
    let best = 0;
    let bestRate = (batch.requests + 1) / this.cost(batch.rows + 1);
    let expected = batch.requests + 1;
    for (let n = 1; n <= probsDesc.length; n++) {
      expected += probsDesc[n - 1]!;
      const rate = expected / this.cost(batch.rows + n + 1);
      if (rate > bestRate) {
        bestRate = rate;
        best = n;
      }
    }
    return best;
  }

  /** After a step: the depth of the deepest draft and the accepted path length. */
  update(treeDepth: number, accepted: number): void {
    if (treeDepth === 0 || this.policy === 'cost') return;
    if (accepted >= treeDepth) this.depth = Math.min(this.maxDepthCap, this.depth + 2);
    else this.depth = Math.max(this.minDepth, this.depth - 1);
  }
}
