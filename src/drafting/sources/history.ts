/**
 * HistoryDrafter: drafts from the target's own past outputs across requests (the history
 * datastore, after SuffixDecoding). Each step it finds the longest suffix of the context
 * that occurs in the history (at least MIN_MATCH tokens, at most MAX_MATCH looked at) and
 * proposes a TREE of what followed it: children ranked by how often each token followed
 * (occurrence counts in the suffix automaton), grown best-first by empirical path
 * probability within the budget. Empty when nothing matches.
 *
 * The drafts are deterministic (no q), so verification is the plain greedy / sampling
 * rule and the output stays the target's own.
 */
import type { HistoryStore } from '../history/store.ts';
import type { DraftBudget, DraftCandidate, DraftContext, DraftOutcome, DraftSource } from '../types.ts';

/** The thresholds, in one table. */
export const HISTORY = {
  /** Shortest context suffix that must occur in the history before anything is proposed. */
  minMatch: 3,
  /** Context tokens looked at for the match (longer matches are capped here). */
  maxMatch: 48,
  /** A continuation must have followed the match at least this share of the time. */
  minShare: 0.05,
  /** Most children per tree node. */
  maxChildren: 4,
} as const;

/** Match-length buckets for acceptance statistics: 3, 4-5, 6-11, 12+. */
const bucketOf = (n: number): number => (n <= 3 ? 0 : n <= 5 ? 1 : n <= 11 ? 2 : 3);
/** Priors: P(the most frequent continuation's first token is accepted) per bucket. */
const PRIOR_FIRST = [0.3, 0.45, 0.6, 0.75];
const PRIOR_CONT = 0.75;
const EMA = 0.15;

interface Node {
  state: number;
  token: number;
  parent: number;
  depth: number;
  /** Share of the parent's occurrences followed by this token. */
  share: number;
  /** Product of shares from the root. */
  prob: number;
}

export class HistoryDrafter implements DraftSource {
  acceptance = 0.5;
  private readonly first = [...PRIOR_FIRST];
  private cont = PRIOR_CONT;
  /** Last step's proposals: tokens, entry (automaton sequence) and bucket. */
  private last: { tokens: number[]; seq: number; bucket: number }[] = [];
  private lastLen = 0;

  constructor(private readonly store: HistoryStore) {}

  propose(ctx: DraftContext, budget: DraftBudget): DraftCandidate[] {
    this.last = [];
    this.lastLen = ctx.tokens.length;
    const sam = this.store.automaton;
    if (sam.size === 0 || budget.maxTokens <= 0 || budget.maxDepth <= 0 || budget.maxBranches <= 0) return [];
    const window = ctx.tokens.slice(Math.max(0, ctx.tokens.length - HISTORY.maxMatch));
    let { state, length } = sam.matchSuffix(window);
    // A match at the very end of an entry has no continuation: a shorter suffix may.
    while (state > 0 && !sam.hasEdges(state)) {
      state = sam.suffixLink(state);
      length = sam.length(state);
    }
    if (length < HISTORY.minMatch || state <= 0) return [];
    const bucket = bucketOf(length);

    // Best-first growth: always expand the most probable frontier node next.
    const nodes: Node[] = [{ state, token: -1, parent: -1, depth: 0, share: 1, prob: 1 }];
    const frontier: number[] = [0];
    const children = new Map<number, number[]>();
    while (frontier.length > 0 && nodes.length - 1 < budget.maxTokens) {
      let bi = 0;
      for (let i = 1; i < frontier.length; i++)
        if (nodes[frontier[i]!]!.prob > nodes[frontier[bi]!]!.prob) bi = i;
      const id = frontier.splice(bi, 1)[0]!;
      const n = nodes[id]!;
      if (n.depth >= budget.maxDepth) continue;
      const total = sam.occurrences(n.state);
      const next = sam
        .edges(n.state)
        .map(([token, s]) => ({ token, s, share: sam.occurrences(s) / total }))
        .filter((e) => e.share >= HISTORY.minShare)
        .sort((a, b) => b.share - a.share || a.token - b.token)
        .slice(0, HISTORY.maxChildren);
      const kids: number[] = [];
      for (const e of next) {
        if (nodes.length - 1 >= budget.maxTokens) break;
        kids.push(nodes.length);
        frontier.push(nodes.length);
        nodes.push({
          state: e.s,
          token: e.token,
          parent: id,
          depth: n.depth + 1,
          share: e.share,
          prob: n.prob * e.share,
        });
      }
      children.set(id, kids);
    }
    if (nodes.length === 1) return [];

    // One candidate per leaf, depth-first with the likeliest child first (so the top chain
    // is the first candidate and the tree's sibling order follows frequency).
    const out: DraftCandidate[] = [];
    const walk = (id: number, path: number[]): void => {
      if (out.length >= budget.maxBranches) return;
      const kids = children.get(id) ?? [];
      if (kids.length === 0 && path.length > 0) {
        const { candidate, seq } = this.candidate(nodes, path, bucket);
        out.push(candidate);
        this.last.push({ tokens: candidate.tokens, seq, bucket });
        return;
      }
      for (const k of kids) walk(k, [...path, k]);
    };
    walk(0, []);
    return out;
  }

  /** The candidate along `path` (node ids, root excluded) and the automaton sequence it came from. */
  private candidate(
    nodes: Node[],
    path: number[],
    bucket: number,
  ): { candidate: DraftCandidate; seq: number } {
    const sam = this.store.automaton;
    // an occurrence of (match + first token): the provenance points at that token
    const { sequence, offset } = sam.sequenceAt(sam.endOf(nodes[path[0]!]!.state));
    const tokens = path.map((id) => nodes[id]!.token);
    const acceptProbs = path.map((id, i) => nodes[id]!.share * (i === 0 ? this.first[bucket]! : this.cont));
    return {
      candidate: {
        tokens,
        provenance: { kind: 'history', entry: this.store.entryAt(sequence).id, offset },
        confidence: acceptProbs[0]!,
        acceptProbs,
      },
      seq: sequence,
    };
  }

  observe(outcome: DraftOutcome): void {
    // Learn from what the target emitted (accepted + bonus): the first candidate is the
    // likeliest chain, so its agreement calibrates the per-bucket prior.
    const emitted = outcome.context.slice(this.lastLen);
    const top = this.last[0];
    if (top && emitted.length > 0) {
      let m = 0;
      while (m < top.tokens.length && m < emitted.length && top.tokens[m] === emitted[m]) m++;
      this.first[top.bucket]! += EMA * ((m >= 1 ? 1 : 0) - this.first[top.bucket]!);
      for (let j = 1; j <= m && j < top.tokens.length && j < emitted.length; j++)
        this.cont += EMA * ((j < m ? 1 : 0) - this.cont);
    }
    // Entries whose drafts the target agreed with are recently used (eviction order).
    for (const p of this.last) if (emitted.length > 0 && p.tokens[0] === emitted[0]) this.store.touch(p.seq);
    this.last = [];
    if (outcome.draftTokens === 0) return;
    const rate = outcome.acceptedTokens / outcome.draftTokens;
    this.acceptance = 0.7 * this.acceptance + 0.3 * rate;
  }
}
