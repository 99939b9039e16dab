/**
 * How many draft tokens to verify per step.
 *
 * Baseline rule (transformers' assisted decoding schedule, "+2/−1"): the draft depth grows
 * by 2 after a step that accepted every level of its tree and shrinks by 1 otherwise,
 * within [minDepth, maxDepth]. The node budget (breadth) is fixed.
 *
 * Cost-aware rule (`costCurve` given): the target's forward time grows slowly with S on a
 * CPU (weights are read once per forward whatever S is), so the node budget is the largest
 * tree whose extra cost is still paid for by the expected extra accepted tokens:
 * choose N maximising (1 + E[accepted | N]) / cost(N + 1), where E[accepted | N] is
 * estimated from the running acceptance rate a as a + a² + … + a^depth, depth ≈ N / branches.
 */
import type { DraftBudget } from '../drafting/types.ts';

export interface BudgetOptions {
  initialDepth?: number;
  minDepth?: number;
  maxDepth?: number;
  /** Node budget of the tree (baseline rule), default 32. */
  maxNodes?: number;
  maxBranches?: number;
  /** cost[s] = ms of a target forward over s tokens (s = 1..); enables the cost-aware rule. */
  costCurve?: readonly number[];
}

export class BudgetPolicy {
  private depth: number;
  private readonly minDepth: number;
  private readonly maxDepthCap: number;
  private readonly maxNodes: number;
  private readonly maxBranches: number;
  /** Running share of draft levels accepted (exponential average). */
  private acceptance = 0.5;

  constructor(private readonly opts: BudgetOptions = {}) {
    this.depth = opts.initialDepth ?? 8;
    this.minDepth = opts.minDepth ?? 2;
    this.maxDepthCap = opts.maxDepth ?? 24;
    this.maxNodes = opts.maxNodes ?? 32;
    this.maxBranches = opts.maxBranches ?? 4;
  }

  next(): DraftBudget {
    let maxTokens = this.maxNodes;
    const curve = this.opts.costCurve;
    if (curve && curve.length > 1) maxTokens = this.bestNodeCount(curve);
    return { maxTokens, maxDepth: Math.min(this.depth, maxTokens), maxBranches: this.maxBranches };
  }

  /** After a step: the depth of the deepest draft and the accepted path length. */
  update(treeDepth: number, accepted: number): void {
    if (treeDepth === 0) return;
    if (accepted >= treeDepth) this.depth = Math.min(this.maxDepthCap, this.depth + 2);
    else this.depth = Math.max(this.minDepth, this.depth - 1);
    this.acceptance = 0.8 * this.acceptance + 0.2 * (accepted / treeDepth);
  }

  private bestNodeCount(curve: readonly number[]): number {
    const a = Math.min(0.95, Math.max(0.05, this.acceptance));
    let best = 1;
    let bestRate = 0;
    const limit = Math.min(this.maxNodes, curve.length - 1);
    for (let n = 1; n <= limit; n++) {
      const depth = Math.max(1, Math.min(this.depth, Math.ceil(n / Math.min(this.maxBranches, n))));
      const expected = (a * (1 - a ** depth)) / (1 - a);
      const rate = (1 + expected) / curve[n + 1 > curve.length - 1 ? curve.length - 1 : n + 1]!;
      if (rate > bestRate) {
        bestRate = rate;
        best = n;
      }
    }
    return best;
  }
}
