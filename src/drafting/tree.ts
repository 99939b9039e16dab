/**
 * DraftTree: candidates merged into a trie under a node budget. Node 0 is the root — the
 * last decided token, which the target has not seen yet — so one forward over the flat
 * node list scores the root's next token and every draft node's next token.
 *
 * Invariants: a parent precedes its children; siblings carry distinct tokens; node order
 * follows candidate rank (earlier candidates first), which is the order the verifier tries
 * children in.
 */
import { MASK_BLOCKED } from '../model/types.ts';
import type { DraftCandidate, Provenance } from './types.ts';

export interface TreeLimits {
  /** Most draft nodes (root excluded). */
  maxNodes: number;
  /** Drafts end at (and include) the first of these tokens. */
  eosIds: readonly number[];
  /** Deepest draft allowed (context limit, tokens still allowed by maxTokens). */
  maxDepth: number;
  /** Models without 4D masks can verify a single chain only: keep the best candidate. */
  chainOnly?: boolean;
}

/** Which candidate (and which of its tokens) put a node in the tree. */
export interface NodeOrigin {
  provenance: Provenance;
  /** Index of the token within its candidate. */
  index: number;
  /** Estimated probability that this node ends up on the accepted path (its candidate alone). */
  prob: number;
  /** Estimated probability that this node is accepted given its parent was. */
  cond: number;
}

export class DraftTree {
  /** [N] token per node, node 0 = root. */
  readonly tokens: number[];
  /** [N] parent node, -1 for the root. */
  readonly parents: number[];
  /** [N] depth: 0 for the root. */
  readonly depths: number[];
  /** [N] q distribution per node or null (deterministic). */
  readonly q: (Float32Array | null)[];
  /** [N] origin per node; null for the root. */
  readonly origins: (NodeOrigin | null)[];

  private constructor(root: number) {
    this.tokens = [root];
    this.parents = [-1];
    this.depths = [0];
    this.q = [null];
    this.origins = [null];
  }

  /** Merge candidates (best first) under the limits. No candidates → a root-only tree. */
  static build(root: number, candidates: readonly DraftCandidate[], limits: TreeLimits): DraftTree {
    const tree = new DraftTree(root);
    const childMap: Map<number, number>[] = [new Map()];
    const eos = new Set(limits.eosIds);
    const list = limits.chainOnly ? candidates.slice(0, 1) : candidates;
    for (const cand of list) {
      let cur = 0;
      let prob = 1;
      const depthLimit = Math.min(cand.tokens.length, limits.maxDepth);
      for (let i = 0; i < depthLimit; i++) {
        const tok = cand.tokens[i]!;
        const cond = cand.acceptProbs?.[i] ?? 0.5;
        prob *= cond;
        const existing = childMap[cur]!.get(tok);
        if (existing !== undefined) {
          cur = existing;
          const o = tree.origins[cur]!;
          o.prob = Math.max(o.prob, prob);
          o.cond = Math.max(o.cond, cond);
        } else {
          if (tree.size - 1 >= limits.maxNodes) break;
          const id = tree.tokens.length;
          tree.tokens.push(tok);
          tree.parents.push(cur);
          tree.depths.push(tree.depths[cur]! + 1);
          tree.q.push(cand.q?.[i] ?? null);
          tree.origins.push({ provenance: cand.provenance, index: i, prob, cond });
          childMap.push(new Map());
          childMap[cur]!.set(tok, id);
          cur = id;
        }
        if (eos.has(tok)) break; // nothing follows an end-of-sequence token
      }
    }
    return tree;
  }

  /**
   * The n draft nodes with the highest scores, as a new tree (ancestors always kept: a
   * node's score never exceeds its parent's, and ties keep the earlier node).
   * @param scores [N] per node, root ignored
   */
  prune(scores: readonly number[], n: number): DraftTree {
    if (n >= this.size - 1) return this;
    const order = Array.from({ length: this.size - 1 }, (_, i) => i + 1).sort(
      (a, b) => scores[b]! - scores[a]! || a - b,
    );
    const keep = new Set(order.slice(0, Math.max(0, n)));
    const out = new DraftTree(this.tokens[0]!);
    const newId = new Map<number, number>([[0, 0]]);
    for (let i = 1; i < this.size; i++) {
      if (!keep.has(i) || !newId.has(this.parents[i]!)) continue;
      newId.set(i, out.tokens.length);
      out.tokens.push(this.tokens[i]!);
      out.parents.push(newId.get(this.parents[i]!)!);
      out.depths.push(this.depths[i]!);
      out.q.push(this.q[i]!);
      out.origins.push(this.origins[i]!);
    }
    return out;
  }

  /**
   * [N] P(node on the accepted path), root = 1. Siblings compete for one accepted token, so
   * their conditional probabilities are scaled to sum to at most 0.95 — otherwise eight
   * weak branches would look like more than one sure token.
   */
  pathProbs(): number[] {
    const sum = new Array<number>(this.size).fill(0);
    for (let i = 1; i < this.size; i++) sum[this.parents[i]!]! += this.origins[i]!.cond;
    const p = new Array<number>(this.size).fill(0);
    p[0] = 1;
    for (let i = 1; i < this.size; i++) {
      const parent = this.parents[i]!;
      p[i] = p[parent]! * this.origins[i]!.cond * Math.min(1, 0.95 / Math.max(1e-9, sum[parent]!));
    }
    return p;
  }

  /** Nodes including the root. */
  get size(): number {
    return this.tokens.length;
  }

  /** Draft nodes (root excluded). */
  get draftCount(): number {
    return this.tokens.length - 1;
  }

  /** True when the tree is a single chain (every node has at most one child). */
  get isChain(): boolean {
    for (let i = 1; i < this.parents.length; i++) if (this.parents[i] !== i - 1) return false;
    return true;
  }

  /** [N] absolute positions: P + depth. */
  positions(past: number): number[] {
    return this.depths.map((d) => past + d);
  }

  /**
   * [N, P+N] additive tree mask: every node attends to all P cached positions, to its
   * ancestors and to itself; everything else is MASK_BLOCKED.
   */
  mask(past: number): Float32Array {
    const n = this.size;
    const total = past + n;
    const m = new Float32Array(n * total).fill(MASK_BLOCKED);
    for (let i = 0; i < n; i++) {
      const row = i * total;
      m.fill(0, row, row + past);
      for (let a = i; a >= 0; a = this.parents[a]!) m[row + past + a] = 0;
    }
    return m;
  }

  /** Node indices from the root to `node`, root included. */
  pathTo(node: number): number[] {
    const out: number[] = [];
    for (let a = node; a >= 0; a = this.parents[a]!) out.push(a);
    return out.reverse();
  }
}
