/**
 * Verification of a draft tree against the target's logits — pure functions of
 * (tree, logits, sampling settings, rng).
 *
 * Words (after vLLM's rejection sampler): a *draft* token is accepted when the target
 * agrees with it; the first disagreement is replaced by the target's own token, the
 * *recovered* token; when every draft on the path is accepted the target's next token is the
 * *bonus* token. Both are returned as `bonus`: exactly one target token follows the
 * accepted path in every step, so a step emits `accepted.length + 1` tokens.
 *
 * Losslessness:
 * - greedy: walk from the root, follow the child whose token is the argmax; stop at the
 *   first node with no such child. The emitted tokens are exactly greedy decoding's.
 * - sampling, deterministic drafts (copied spans, q = null): at each node draw x from the
 *   target distribution p; follow the child that carries x, else emit x. Every emitted
 *   token is a draw from p, so the output is distributed exactly as autoregressive sampling.
 * - sampling, drafts with a distribution q (a drafter model sampled x ~ q): accept with
 *   probability min(1, p(x)/q(x)); on rejection continue with the residual
 *   norm(max(0, p − q)) (multi-round rejection sampling when a node has several children;
 *   a deterministic child counts as q = one-hot). The residual after the last child is
 *   what the recovered token is drawn from.
 * - logits processors: every rule above reads node i's row after the repetition penalties
 *   computed from the context along i's own path (penalties.ts), so AR (the root-only tree)
 *   and speculation apply the same function.
 */
import { logitsRow, type Logits } from '../model/types.ts';
import { nodePenalizer, type PenaltyContext } from './penalties.ts';
import type { Rng } from './rng.ts';
import { argmax, isGreedy, sampleFrom, targetDistribution, type SamplingSettings } from './sampling.ts';

/** The part of a draft tree the verifier reads. Node 0 is the root: the last decided token. */
export interface VerifyTree {
  /** [N] token per node. */
  readonly tokens: readonly number[];
  /** [N] parent node, -1 for the root; a parent always precedes its children. */
  readonly parents: readonly number[];
  /** [N] distribution `[V]` each node's token was sampled from, or null for deterministic drafts. */
  readonly q?: readonly (ArrayLike<number> | null)[];
}

export interface VerifyResult {
  /** Accepted draft nodes, root excluded, in root-to-leaf order. */
  path: number[];
  /** Tokens of the accepted nodes. */
  accepted: number[];
  /** The target's token after the accepted path (bonus or recovered). */
  bonus: number;
  /**
   * [path.length + 1][k] the target's k most likely next tokens (penalised logits, best
   * first) after the root and after each accepted node — what token recycling drafts from.
   * Present when `VerifyOptions.topK` > 0.
   */
  topK?: number[][];
}

export interface VerifyOptions {
  /**
   * The context the step continues (prompt + output so far, the root its last token): needed
   * when the sampling settings carry repetition penalties (penalties.ts), which every node
   * gets from the context along its own path.
   */
  context?: PenaltyContext;
  /** Also return the top-k next tokens of the accepted rows (0 = no). */
  topK?: number;
}

/** Row of node i after the logits processors (penalties) that precede sampling. */
type RowOf = (node: number) => ArrayLike<number>;

/** children[i] = child node indices of i, in node order (the drafters' ranking). */
export function childrenOf(parents: readonly number[]): number[][] {
  const children: number[][] = parents.map(() => []);
  for (let i = 1; i < parents.length; i++) {
    const p = parents[i]!;
    if (p < 0 || p >= i)
      throw new Error(`draft tree: node ${i} has parent ${p}; parents must precede children`);
    children[p]!.push(i);
  }
  return children;
}

/**
 * Verify a tree.
 * @param tree   N nodes, node 0 = root
 * @param logits [N, V] target logits, row i = distribution of the token after node i
 */
export function verifyTree(
  tree: VerifyTree,
  logits: Logits,
  sampling: SamplingSettings,
  rng: Rng | null,
  opts: VerifyOptions = {},
): VerifyResult {
  if (logits.rows !== tree.tokens.length) {
    throw new Error(`verifier: ${logits.rows} logit rows for a tree of ${tree.tokens.length} nodes`);
  }
  const rowOf = processedRows(tree, logits, sampling, opts.context);
  const result = isGreedy(sampling)
    ? verifyGreedy(tree, logits, rowOf)
    : verifySampling(tree, logits, sampling, rng, rowOf);
  const k = opts.topK ?? 0;
  if (k > 0) result.topK = [0, ...result.path].map((n) => topKOf(rowOf(n), k));
  return result;
}

/**
 * Rows after the penalties, each computed once (the row of node i is penalised with the
 * context along i's own path). Without penalties the raw rows.
 */
function processedRows(
  tree: VerifyTree,
  logits: Logits,
  sampling: SamplingSettings,
  context: PenaltyContext | undefined,
): RowOf {
  const raw = (n: number): ArrayLike<number> => logitsRow(logits, n);
  if (!context) return raw;
  const penalise = nodePenalizer(tree.tokens, tree.parents, context, sampling);
  const memo = new Map<number, ArrayLike<number>>();
  return (n) => {
    let row = memo.get(n);
    if (!row) memo.set(n, (row = penalise(n, raw(n))));
    return row;
  };
}

/** The k largest entries of a row, best first (first index on ties). [V] → [k] */
export function topKOf(row: ArrayLike<number>, k: number): number[] {
  const idx = new Int32Array(k);
  const val = new Float64Array(k).fill(-Infinity);
  let n = 0;
  let floor = -Infinity; // the k-th best so far: most entries fail this one comparison
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (n === k && !(v > floor)) continue;
    let j = n < k ? n++ : k - 1;
    while (j > 0 && val[j - 1]! < v) {
      val[j] = val[j - 1]!;
      idx[j] = idx[j - 1]!;
      j--;
    }
    val[j] = v;
    idx[j] = i;
    if (n === k) floor = val[k - 1]!;
  }
  return Array.from(idx.subarray(0, n));
}

/** Greedy: the longest path whose every token is the target's argmax, plus the bonus token. */
export function verifyGreedy(
  tree: VerifyTree,
  logits: Logits,
  rowOf: RowOf = (n) => logitsRow(logits, n),
): VerifyResult {
  const children = childrenOf(tree.parents);
  const path: number[] = [];
  const accepted: number[] = [];
  let cur = 0;
  for (;;) {
    const t = argmax(rowOf(cur));
    const next = children[cur]!.find((c) => tree.tokens[c] === t);
    if (next === undefined) return { path, accepted, bonus: t };
    path.push(next);
    accepted.push(t);
    cur = next;
  }
}

/** Lossless speculative sampling over the tree (see the file comment). */
export function verifySampling(
  tree: VerifyTree,
  logits: Logits,
  sampling: SamplingSettings,
  rng: Rng | null,
  rowOf: RowOf = (n) => logitsRow(logits, n),
): VerifyResult {
  if (rng === null) throw new Error('verifier: sampling needs an rng');
  const children = childrenOf(tree.parents);
  const path: number[] = [];
  const accepted: number[] = [];
  let cur = 0;
  for (;;) {
    const p = targetDistribution(rowOf(cur), sampling); // [V]
    const kids = children[cur]!;
    let next: number | undefined;
    let recovered: number | undefined;
    if (kids.every((c) => !tree.q?.[c])) {
      // Deterministic children only: one draw from p decides.
      const x = sampleFrom(p, rng);
      next = kids.find((c) => tree.tokens[c] === x);
      if (next === undefined) recovered = x;
    } else {
      ({ next, recovered } = multiRoundRejection(p, kids, tree, rng));
    }
    if (next === undefined) return { path, accepted, bonus: recovered! };
    path.push(next);
    accepted.push(tree.tokens[next]!);
    cur = next;
  }
}

/**
 * Try each child in order: accept x_i with probability min(1, r(x_i)/q_i(x_i)), else
 * r ← norm(max(0, r − q_i)). If all are rejected, the recovered token is drawn from r.
 */
function multiRoundRejection(
  p: Float64Array,
  kids: readonly number[],
  tree: VerifyTree,
  rng: Rng,
): { next?: number; recovered?: number } {
  let r = p;
  for (const c of kids) {
    const x = tree.tokens[c]!;
    const q = tree.q?.[c] ?? null;
    const qx = q === null ? 1 : q[x]!;
    const ratio = qx > 0 ? Math.min(1, r[x]! / qx) : 0;
    if (rng.next() < ratio) return { next: c };
    const residual = new Float64Array(r.length);
    let sum = 0;
    for (let i = 0; i < r.length; i++) {
      const d = r[i]! - (q === null ? (i === x ? 1 : 0) : q[i]!);
      if (d > 0) {
        residual[i] = d;
        sum += d;
      }
    }
    // sum = 0 only when r ≤ q everywhere, i.e. r = q, where acceptance was certain.
    if (sum > 0) {
      for (let i = 0; i < residual.length; i++) residual[i]! /= sum;
      r = residual;
    }
  }
  return { recovered: sampleFrom(r, rng) };
}
