/**
 * DraftPlanner: the drafting policy of one request, behind the two calls the decode loop
 * makes per step (after llama.cpp's `common/speculative`, which hides how draft sources are
 * chained behind one object the server loop calls):
 *
 *   const tree = await planner.plan(context, limits);          // before the target forward
 *   const step = planner.observe(tree, verifyResult, context); // after the accepted tokens
 *
 * `plan` owns the source order, the fallback rule, the q-draft rule, the tree build and the
 * cost-rule pruning; `observe` owns the feedback to every source and the budget update, and
 * returns the step's draft counts by source kind for the stats.
 */
import { BudgetPolicy } from './budget.ts';
import { DraftTree } from './tree.ts';
import type {
  DraftCandidate,
  DraftContext,
  DraftSource,
  DraftSourceKind,
  PlannedSource,
  Provenance,
} from './types.ts';

/** Hard limits of one step, from the loop: the context window and the request's max tokens. */
export interface PlanLimits {
  /** Deepest draft allowed (tokens still allowed after this step's bonus token, context room). */
  maxDepth: number;
  /** Most draft nodes the context window can take. */
  maxNodes: number;
  /** Drafts end at (and include) the first of these tokens. */
  eosIds: readonly number[];
  /** The target verifies a single chain only (no tree mask). */
  chainOnly: boolean;
  /** Other requests verified in the same target forward (continuous batching). */
  batch?: BatchLoad;
}

/**
 * The rest of a batched forward, as the cost rule sees it: the other requests' rows (last
 * step's, a good guess of this one's) and how many requests they are (each emits at least
 * its bonus token).
 */
export interface BatchLoad {
  rows: number;
  requests: number;
}

/** The tree's draft tokens and accepted tokens of one step, per source kind. */
export interface StepDrafts {
  /** Draft nodes in the tree (root excluded). */
  treeSize: number;
  /** Draft tokens in the tree, per source kind. */
  draftBySource: Partial<Record<DraftSourceKind, number>>;
  /** Accepted tokens on the path, per source kind. */
  acceptedBySource: Partial<Record<DraftSourceKind, number>>;
  /** Accepted draft tokens (path length). */
  accepted: number;
}

/** The part of a verification result the planner learns from. */
export interface VerifiedPath {
  /** Accepted draft nodes, root excluded, root to leaf. */
  path: readonly number[];
  /** [path.length + 1][k] the target's top-k after the root and each accepted node (when asked). */
  topK?: readonly (readonly number[])[];
}

/**
 * The fallback thresholds, in one table. A fallback source (the drafter model in `hybrid`)
 * is asked when the sources before it proposed nothing or their running acceptance is below
 * `askBelow`; it is not asked once its own running acceptance is below `dropBelow`, since a
 * drafter that is rarely right costs more than it saves (its own prefill and a forward per
 * draft token).
 */
export const FALLBACK = { askBelow: 0.3, dropBelow: 0.1, probeEvery: 16, payoffEma: 0.25 } as const;

/** The merged tree is built up to this many times the node budget before the cost rule prunes it. */
const BUILD_FACTOR = 3;

export interface PlannerOptions {
  budget?: BudgetPolicy;
  /** Ask fallback sources when the sources before have running acceptance below this. */
  fallbackBelow?: number;
}

export class DraftPlanner {
  readonly budget: BudgetPolicy;
  private readonly fallbackBelow: number;
  /** Which source proposed each candidate of the last plan (by provenance object). */
  private sourceOf = new Map<Provenance, DraftSource>();
  /** Context index of the last plan's root (where the verified top-k rows start). */
  private rootAt = 0;
  /** Steps a costly source was skipped since it was last asked (for the probe). */
  private readonly skipped = new Map<DraftSource, number>();

  constructor(
    readonly sources: readonly PlannedSource[] = [],
    opts: PlannerOptions = {},
  ) {
    this.budget = opts.budget ?? new BudgetPolicy();
    this.fallbackBelow = opts.fallbackBelow ?? FALLBACK.askBelow;
  }

  /** How many top next tokens per verified row the sources learn from (0 = none wants them). */
  get topK(): number {
    let k = 0;
    for (const { source } of this.sources) k = Math.max(k, source.topK ?? 0);
    return k;
  }

  /** The draft tree of the next step; a root-only tree when no source has anything. */
  async plan(context: DraftContext, limits: PlanLimits): Promise<DraftTree> {
    this.sourceOf = new Map();
    this.rootAt = context.tokens.length - 1;
    const want = this.budget.next();
    const maxDepth = Math.max(0, Math.min(want.maxDepth, limits.maxDepth));
    const maxNodes = Math.min(want.maxTokens, limits.maxNodes);
    const candidates = maxDepth > 0 ? await this.propose(context, maxDepth, maxNodes, want.maxBranches) : [];
    const root = context.tokens[context.tokens.length - 1]!;
    // Every source had the whole node budget, so the merged tree may hold more: build it
    // within the context room (bounded), then keep the best `maxNodes` by probability.
    const tree = DraftTree.build(root, qDraftsAlone(candidates, context.sampling.temperature > 0), {
      maxNodes: Math.min(limits.maxNodes, BUILD_FACTOR * maxNodes),
      maxDepth,
      eosIds: limits.eosIds,
      chainOnly: limits.chainOnly,
    });
    if (tree.draftCount === 0) return tree;
    // The cost rule: keep the nodes worth their forward cost (expected accepted tokens per ms).
    const probs = tree.pathProbs();
    const n = Math.min(
      maxNodes,
      this.budget.chooseNodes(
        probs.slice(1).sort((a, b) => b - a),
        limits.batch,
      ),
    );
    return tree.prune(probs, n);
  }

  /**
   * Ask the sources in order. Every source gets the whole node budget (the tree is pruned
   * to it afterwards, by probability). Primary sources' candidates are merged by confidence,
   * each source's own order kept, so a confident later source (history) is not starved by an
   * earlier one's weak guesses (reference's 1-token matches). Fallback sources come after.
   */
  private async propose(
    context: DraftContext,
    maxDepth: number,
    maxNodes: number,
    maxBranches: number,
  ): Promise<DraftCandidate[]> {
    const sampled = context.sampling.temperature > 0;
    const primary: DraftCandidate[][] = [];
    const candidates: DraftCandidate[] = [];
    let weak = true; // nothing yet, or only unlikely candidates
    for (const { source, fallback } of this.sources) {
      if (fallback && primary.length > 0) {
        candidates.push(...mergeByConfidence(primary));
        primary.length = 0;
      }
      const costly = source.costMs !== undefined;
      // The fallback rule. Under sampling a costly fallback's q-drafts could not join the
      // drafts already taken (the q-draft rule would drop them), so it is asked only when
      // there are none.
      if (fallback && (!weak || (sampled && costly && candidates.length > 0))) continue;
      if (fallback && !this.worthAsking(source, maxDepth)) continue;
      const got = await source.propose(context, { maxTokens: maxNodes, maxDepth, maxBranches });
      for (const c of got) {
        this.sourceOf.set(c.provenance, source);
      }
      if (fallback) candidates.push(...got);
      else primary.push(got);
      // a source with a likely first token makes the step strong (a 1-token match is not)
      if (source.acceptance >= this.fallbackBelow && got.some((c) => c.confidence >= this.fallbackBelow))
        weak = false;
    }
    candidates.push(...mergeByConfidence(primary));
    return candidates;
  }

  /**
   * A fallback is asked while its running acceptance is at least `dropBelow` and, for a
   * source with a cost (a drafter model), while it pays for itself: the target time its
   * expected accepted tokens save must exceed its own time plus the extra verify cost
   * (expected accepted tokens of a chain of d drafts at running acceptance a: a + a² + … + a^d).
   * A skipped source is still probed every `probeEvery` steps, so its numbers (which persist
   * across processes) can recover.
   */
  private worthAsking(source: DraftSource, depth: number): boolean {
    const paid = source.payoffMs === undefined || source.payoffMs >= 0;
    if (source.acceptance >= FALLBACK.dropBelow && paid && this.paysFor(source, depth)) return true;
    const n = (this.skipped.get(source) ?? 0) + 1;
    this.skipped.set(source, n % FALLBACK.probeEvery);
    return n >= FALLBACK.probeEvery;
  }

  private paysFor(source: DraftSource, depth: number): boolean {
    const ms = this.budget.forwardMs(1);
    if (source.costMs === undefined || ms === null || depth <= 0) return true;
    const a = Math.min(0.99, source.acceptance);
    const expected = (a * (1 - a ** depth)) / (1 - a);
    const extra = (this.budget.forwardMs(depth + 1) ?? ms) - ms;
    return expected * ms - extra > source.costMs;
  }

  /**
   * After the step: tell every source how its drafts fared (also a source whose drafts were
   * pruned: it must still learn it was wrong), update the budget, and return the counts.
   */
  observe(tree: DraftTree, result: VerifiedPath, context: readonly number[]): StepDrafts {
    const drafted = this.tally(tree, range(1, tree.size));
    const accepted = this.tally(tree, result.path);
    for (const { source } of this.sources) {
      source.observe({
        draftTokens: drafted.bySource.get(source) ?? 0,
        acceptedTokens: accepted.bySource.get(source) ?? 0,
        context,
        topK: result.topK,
        topKAt: this.rootAt,
      });
    }
    this.learnPayoff(tree, drafted.bySource, accepted.bySource);
    let treeDepth = 0;
    for (const d of tree.depths) treeDepth = Math.max(treeDepth, d);
    this.budget.update(treeDepth, result.path.length);
    return {
      treeSize: tree.draftCount,
      draftBySource: drafted.byKind,
      acceptedBySource: accepted.byKind,
      accepted: result.path.length,
    };
  }

  /**
   * A free fallback's payoff this step: a cheap tree source (recycling) whose estimates are
   * averages can still lose, because on this CPU the second row of a forward costs half a
   * forward (cost curve S=1 → S=2); measured outcomes decide whether it keeps drafting.
   */
  private learnPayoff(
    tree: DraftTree,
    drafted: ReadonlyMap<DraftSource, number>,
    accepted: ReadonlyMap<DraftSource, number>,
  ): void {
    const one = this.budget.forwardMs(1);
    if (one === null) return;
    for (const { source, fallback } of this.sources) {
      const nodes = drafted.get(source) ?? 0;
      if (!fallback || source.costMs !== undefined || nodes === 0) continue;
      const extra = this.budget.forwardMs(tree.size)! - this.budget.forwardMs(tree.size - nodes)!;
      const net = (accepted.get(source) ?? 0) * one - extra;
      const prev = source.payoffMs;
      source.payoffMs = prev === undefined ? net : prev + FALLBACK.payoffEma * (net - prev);
    }
  }

  /** Nodes counted once, by the source that proposed them and by its provenance kind. */
  private tally(tree: DraftTree, nodes: Iterable<number>) {
    const bySource = new Map<DraftSource, number>();
    const byKind: Partial<Record<DraftSourceKind, number>> = {};
    for (const n of nodes) {
      const prov = tree.origins[n]!.provenance;
      const src = this.sourceOf.get(prov)!;
      bySource.set(src, (bySource.get(src) ?? 0) + 1);
      byKind[prov.kind] = (byKind[prov.kind] ?? 0) + 1;
    }
    return { bySource, byKind };
  }
}

/**
 * Merge ranked lists into one: repeatedly take the head with the highest confidence (ties:
 * the earlier list), so each list keeps its own order. One list is returned as it is.
 */
function mergeByConfidence(lists: DraftCandidate[][]): DraftCandidate[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  const at = nonEmpty.map(() => 0);
  const out: DraftCandidate[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < nonEmpty.length; i++) {
      const c = nonEmpty[i]![at[i]!];
      if (c && (best < 0 || c.confidence > nonEmpty[best]![at[best]!]!.confidence)) best = i;
    }
    if (best < 0) return out;
    out.push(nonEmpty[best]![at[best]++]!);
  }
}

/**
 * The q-draft rule. Under sampling, drafts carrying q are lossless only as independent
 * draws from q; merged with deterministic siblings they would not be. So when both kinds
 * were proposed, the deterministic ones are kept and the q-drafts dropped.
 */
function qDraftsAlone(candidates: DraftCandidate[], sampled: boolean): DraftCandidate[] {
  if (sampled && candidates.some((c) => c.q) && candidates.some((c) => !c.q))
    return candidates.filter((c) => !c.q);
  return candidates;
}

function* range(from: number, to: number): Iterable<number> {
  for (let i = from; i < to; i++) yield i;
}
