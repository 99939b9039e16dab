/**
 * Token recycling: the target's own top-k next tokens, kept from every verify step, drafted
 * back as a tree (after "Turning Trash into Treasure", Luo et al. 2024: an adjacency table
 * token → top-k successors, refreshed with each forward's candidates).
 *
 * Two tables hold the top-k rows of the accepted positions (VerifyResult.topK):
 * - per request (this drafter): keyed by the last two tokens, the sharper match;
 * - global (`RecycleTable`, shared by the Engine across requests and persisted by
 *   DraftMemory): keyed by the last token.
 * `propose` looks the root token up (bigram first, then unigram) and expands a tree:
 * breadth by rank (BREADTH[d] children at depth d), depth by chaining the table through each
 * child's token. Each node's acceptance estimate comes from running per-rank hit rates, so
 * the planner's cost rule keeps only the nodes worth verifying. Deterministic drafts (no q).
 */
import type { DraftBudget, DraftCandidate, DraftContext, DraftOutcome, DraftSource } from '../types.ts';

/** Children per node by depth (depth 0 = the root's children); deeper levels chain with 1. */
export const BREADTH = [8, 3, 2, 2, 1] as const;
/** Top-k the target hands back per row (the table's width). */
export const RECYCLE_K = 8;

/**
 * Running P(target's next token = the candidate at rank r): `first` for the root's children
 * (a row for the root token itself), `deep` for chained levels (rows of other contexts).
 */
export interface RankStats {
  first: number[];
  deep: number[];
}
export const PRIOR_RANKS: RankStats = {
  first: [0.3, 0.1, 0.05, 0.03, 0.02, 0.02, 0.01, 0.01],
  deep: [0.2, 0.06, 0.03, 0.02, 0.01, 0.01, 0.01, 0.01],
};
const EMA = 0.05;

export interface RecyclingLearned {
  acceptance: number;
  ranks: RankStats;
  /** The planner's running payoff of recycled drafts (DraftSource.payoffMs). */
  payoffMs?: number;
}

/**
 * token → the target's most recent top-k next tokens after it, over every request. Bounded:
 * at most `maxEntries` tokens, the least recently updated evicted first (Map order).
 */
export class RecycleTable {
  private readonly rows = new Map<number, number[]>();

  constructor(readonly maxEntries = 32768) {}

  get(token: number): readonly number[] | undefined {
    return this.rows.get(token);
  }

  set(token: number, next: readonly number[]): void {
    this.rows.delete(token);
    this.rows.set(token, [...next]);
    if (this.rows.size > this.maxEntries) this.rows.delete(this.rows.keys().next().value!);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Plain data, oldest first (for DraftMemory). */
  toJSON(): [number, number[]][] {
    return [...this.rows];
  }

  static fromJSON(rows: unknown, maxEntries?: number): RecycleTable {
    const t = new RecycleTable(maxEntries);
    if (Array.isArray(rows))
      for (const r of rows)
        if (Array.isArray(r) && Number.isInteger(r[0]) && Array.isArray(r[1])) t.set(r[0], r[1] as number[]);
    return t;
  }
}

/** One proposed node: its token and the ranked children under it. */
interface Proposed {
  token: number;
  kids: Proposed[];
}

export class RecyclingDrafter implements DraftSource {
  readonly topK = RECYCLE_K;
  private readonly local = new Map<string, number[]>();
  private last: { kids: Proposed[]; at: number } | null = null;

  private readonly ranks: RankStats;

  constructor(
    private readonly table: RecycleTable,
    /** Shared, mutable running numbers (DraftMemory keeps and persists them). */
    private readonly learned: RecyclingLearned = { acceptance: 0.5, ranks: structuredClone(PRIOR_RANKS) },
  ) {
    this.ranks = learned.ranks;
  }

  /**
   * Running share of steps where at least one recycled token was accepted. (A tree source's
   * share of drafted tokens accepted is low by design — most siblings must lose — so the
   * planner's fallback thresholds read this instead.)
   */
  get acceptance(): number {
    return this.learned.acceptance;
  }

  get payoffMs(): number | undefined {
    return this.learned.payoffMs;
  }

  set payoffMs(ms: number | undefined) {
    this.learned.payoffMs = ms;
  }

  private row(prev: number | undefined, token: number): readonly number[] | undefined {
    return (prev !== undefined ? this.local.get(`${prev},${token}`) : undefined) ?? this.table.get(token);
  }

  propose(ctx: DraftContext, budget: DraftBudget): DraftCandidate[] {
    this.last = null;
    const t = ctx.tokens;
    const root = t[t.length - 1]!;
    if (budget.maxDepth <= 0 || budget.maxTokens <= 0) return [];
    const first = this.row(t[t.length - 2], root);
    if (!first) return [];
    // Expand breadth-first under the node budget, best ranks first.
    let nodes = 0;
    const expand = (
      prev: number | undefined,
      tok: number,
      depth: number,
      row?: readonly number[],
    ): Proposed[] => {
      if (depth >= budget.maxDepth) return [];
      const next = row ?? this.row(prev, tok);
      if (!next) return [];
      const width = Math.min(
        next.length,
        BREADTH[Math.min(depth, BREADTH.length - 1)]!,
        depth === 0 ? budget.maxBranches : Infinity,
      );
      const kids: Proposed[] = [];
      for (let r = 0; r < width && nodes < budget.maxTokens; r++, nodes++)
        kids.push({ token: next[r]!, kids: [] });
      return kids;
    };
    const top = expand(t[t.length - 2], root, 0, first);
    // breadth-first so the budget goes to shallow, likelier nodes before deep chains
    let frontier: { node: Proposed; parent: number; depth: number }[] = top.map((n) => ({
      node: n,
      parent: root,
      depth: 1,
    }));
    while (frontier.length > 0 && nodes < budget.maxTokens) {
      const nextFrontier: typeof frontier = [];
      for (const f of frontier) {
        f.node.kids = expand(f.parent, f.node.token, f.depth);
        for (const k of f.node.kids) nextFrontier.push({ node: k, parent: f.node.token, depth: f.depth + 1 });
      }
      frontier = nextFrontier;
    }
    this.last = { kids: top, at: t.length };
    return this.candidates(root, top);
  }

  /** Root-to-leaf paths as candidates, likeliest first (the tree merges shared prefixes). */
  private candidates(root: number, top: Proposed[]): DraftCandidate[] {
    const out: { c: DraftCandidate; p: number }[] = [];
    const walk = (
      kids: Proposed[],
      tokens: number[],
      probs: number[],
      p: number,
      firstRank: number,
    ): void => {
      kids.forEach((k, r) => {
        const depth = tokens.length;
        const cond = (depth === 0 ? this.ranks.first : this.ranks.deep)[r] ?? 0.01;
        const tk = [...tokens, k.token];
        const pr = [...probs, cond];
        const rank0 = depth === 0 ? r : firstRank;
        if (k.kids.length === 0)
          out.push({
            c: {
              tokens: tk,
              provenance: { kind: 'recycling', after: root, rank: rank0 },
              confidence: pr[0]!,
              acceptProbs: pr,
            },
            p: p * cond,
          });
        else walk(k.kids, tk, pr, p * cond, rank0);
      });
    };
    walk(top, [], [], 1, 0);
    out.sort((a, b) => b.p - a.p);
    return out.map((o) => o.c);
  }

  observe(outcome: DraftOutcome): void {
    const ctx = outcome.context;
    // 1. Learn the rank hit rates from what the target emitted after the last proposal.
    if (this.last) {
      let kids = this.last.kids;
      let anyHit = false;
      for (let d = 0; this.last.at + d < ctx.length && kids.length > 0; d++) {
        const e = ctx[this.last.at + d]!;
        const rates = d === 0 ? this.ranks.first : this.ranks.deep;
        let hit: Proposed | undefined;
        kids.forEach((k, r) => {
          const h = k.token === e;
          if (h) hit = k;
          if (r < rates.length) rates[r]! += EMA * ((h ? 1 : 0) - rates[r]!);
        });
        if (!hit) break;
        anyHit = true;
        kids = (hit as Proposed).kids;
      }
      this.learned.acceptance = 0.8 * this.learned.acceptance + 0.2 * (anyHit ? 1 : 0);
      this.last = null;
    }
    // 2. Store the verified rows: row j follows ctx[topKAt + j].
    const rows = outcome.topK;
    const at = outcome.topKAt;
    if (!rows || at === undefined) return;
    rows.forEach((next, j) => {
      const i = at + j;
      if (i >= ctx.length || next.length === 0) return;
      const tok = ctx[i]!;
      this.table.set(tok, next);
      if (i > 0) this.local.set(`${ctx[i - 1]},${tok}`, [...next]);
    });
  }

  reset(): void {
    this.local.clear();
    this.last = null;
  }
}
