/**
 * A generalized suffix automaton over token-id sequences (the history datastore's index,
 * after SuffixDecoding's suffix structure): every substring of every added sequence is the
 * label of exactly one path from the root, so the longest suffix of a context that occurs
 * in the history is found in O(context) steps and its continuations are the out-edges of
 * the state it ends in.
 *
 * Invariants:
 * - Sequences can ONLY BE APPENDED (`add`); removing one means building a new automaton
 *   from the sequences kept (the store does that on eviction).
 * - A match never crosses two sequences: each `add` starts again from the root.
 * - State 0 is the root (len 0, link -1). For every other state s: len[link[s]] < len[s],
 *   and all strings of s share one set of end positions (endpos).
 * - `occurrences(s)` = |endpos(s)|: how often the strings of s occur in all sequences. So for
 *   a matched string w in state v and a token t with u = next(v, t), occurrences(u) is how
 *   often t followed w (the frequency that ranks continuations).
 * - `firstEnd[s]` is a global position (index in the concatenation of all sequences, in the
 *   order added) in endpos(s); `sequenceAt(pos)` maps it back to (sequence, offset).
 */

/** Token ids must stay below this (keys pack (state, token) into one number < 2^53). */
export const TOKEN_SPACE = 2 ** 20;

export class SuffixAutomaton {
  private len = new Int32Array(1024);
  private link = new Int32Array(1024);
  /** Number of sequence positions whose prefix ends in this state (1 per `extend`). */
  private own = new Int32Array(1024);
  private firstEnd = new Int32Array(1024);
  /** Out-edges per state as a linked list (for enumeration); targets live in `next`. */
  private edgeHead = new Int32Array(1024).fill(-1);
  private edgeTok = new Int32Array(2048);
  private edgeNext = new Int32Array(2048);
  private edgeCount = 0;
  /** (state * TOKEN_SPACE + token) → target state. */
  private readonly trans = new Map<number, number>();
  private states = 1;
  private last = 0;
  /** Global positions added so far. */
  private positions = 0;
  /** Start position of each sequence (ascending). */
  private readonly starts: number[] = [];
  private occ: Int32Array | null = null;

  constructor() {
    this.link[0] = -1;
  }

  get stateCount(): number {
    return this.states;
  }

  /** Tokens added (all sequences). */
  get size(): number {
    return this.positions;
  }

  get sequenceCount(): number {
    return this.starts.length;
  }

  /** Add one sequence; returns its index (order of addition). */
  add(tokens: readonly number[]): number {
    this.starts.push(this.positions);
    this.last = 0;
    for (const t of tokens) this.extend(t);
    this.occ = null;
    return this.starts.length - 1;
  }

  /** The state reached from `s` by token `t`, or -1. */
  next(s: number, t: number): number {
    return this.trans.get(s * TOKEN_SPACE + t) ?? -1;
  }

  /** Longest string length of state `s`. */
  length(s: number): number {
    return this.len[s]!;
  }

  suffixLink(s: number): number {
    return this.link[s]!;
  }

  /** Out-edges of `s` as [token, target] pairs (unordered). */
  edges(s: number): [number, number][] {
    const out: [number, number][] = [];
    for (let e = this.edgeHead[s]!; e >= 0; e = this.edgeNext[e]!) {
      const t = this.edgeTok[e]!;
      out.push([t, this.next(s, t)]);
    }
    return out;
  }

  hasEdges(s: number): boolean {
    return this.edgeHead[s]! >= 0;
  }

  /** |endpos(s)|: occurrences of the strings of state s (computed once after changes). */
  occurrences(s: number): number {
    this.occ ??= this.countOccurrences();
    return this.occ[s]!;
  }

  /** A global end position of state `s`'s strings. */
  endOf(s: number): number {
    return this.firstEnd[s]!;
  }

  /** Which sequence a global position falls in, and its offset there. */
  sequenceAt(pos: number): { sequence: number; offset: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { sequence: lo, offset: pos - this.starts[lo]! };
  }

  /**
   * The longest suffix of `tokens` that occurs in the automaton: its state and length
   * (0, 0 when not even the last token occurs).
   */
  matchSuffix(tokens: readonly number[]): { state: number; length: number } {
    let v = 0;
    let l = 0;
    for (const t of tokens) {
      while (v !== 0 && this.next(v, t) < 0) {
        v = this.link[v]!;
        l = this.len[v]!;
      }
      const u = this.next(v, t);
      if (u >= 0) {
        v = u;
        l++;
      } else {
        v = 0;
        l = 0;
      }
    }
    return { state: v, length: l };
  }

  private extend(t: number): void {
    if (!(t >= 0 && t < TOKEN_SPACE && Number.isInteger(t)))
      throw new RangeError(`token id ${t} outside [0, ${TOKEN_SPACE})`);
    const pos = this.positions++;
    const last = this.last;
    const q0 = this.next(last, t);
    if (q0 >= 0) {
      // The string already occurs (generalized automaton): reuse or split its state.
      if (this.len[q0] === this.len[last]! + 1) {
        this.last = q0;
      } else {
        this.last = this.split(last, t, q0);
      }
      this.own[this.last]!++;
      return;
    }
    const cur = this.newState(this.len[last]! + 1, pos);
    this.own[cur] = 1;
    let p = last;
    while (p >= 0 && this.next(p, t) < 0) {
      this.setEdge(p, t, cur);
      p = this.link[p]!;
    }
    if (p < 0) this.link[cur] = 0;
    else {
      const q = this.next(p, t);
      this.link[cur] = this.len[q] === this.len[p]! + 1 ? q : this.split(p, t, q);
    }
    this.last = cur;
  }

  /** Clone q with len[p] + 1 and redirect p's suffix chain's t-edges from q to the clone. */
  private split(p: number, t: number, q: number): number {
    const clone = this.newState(this.len[p]! + 1, this.firstEnd[q]!);
    this.link[clone] = this.link[q]!;
    for (let e = this.edgeHead[q]!; e >= 0; e = this.edgeNext[e]!) {
      const tok = this.edgeTok[e]!;
      this.setEdge(clone, tok, this.next(q, tok));
    }
    this.link[q] = clone;
    while (p >= 0 && this.next(p, t) === q) {
      this.trans.set(p * TOKEN_SPACE + t, clone);
      p = this.link[p]!;
    }
    return clone;
  }

  private newState(len: number, end: number): number {
    const s = this.states++;
    if (s >= this.len.length) this.growStates();
    this.len[s] = len;
    this.link[s] = -1;
    this.own[s] = 0;
    this.firstEnd[s] = end;
    this.edgeHead[s] = -1;
    return s;
  }

  /** Set (or add) the t-edge of s. */
  private setEdge(s: number, t: number, target: number): void {
    const key = s * TOKEN_SPACE + t;
    if (!this.trans.has(key)) {
      const e = this.edgeCount++;
      if (e >= this.edgeTok.length) {
        this.edgeTok = grow(this.edgeTok);
        this.edgeNext = grow(this.edgeNext);
      }
      this.edgeTok[e] = t;
      this.edgeNext[e] = this.edgeHead[s]!;
      this.edgeHead[s] = e;
    }
    this.trans.set(key, target);
  }

  private growStates(): void {
    this.len = grow(this.len);
    this.link = grow(this.link);
    this.own = grow(this.own);
    this.firstEnd = grow(this.firstEnd);
    const head = grow(this.edgeHead);
    head.fill(-1, this.edgeHead.length);
    this.edgeHead = head;
  }

  /** endpos sizes: own counts summed up the suffix-link tree, longest states first. */
  private countOccurrences(): Int32Array {
    const n = this.states;
    let maxLen = 0;
    for (let s = 0; s < n; s++) maxLen = Math.max(maxLen, this.len[s]!);
    const bucket = new Int32Array(maxLen + 2);
    for (let s = 0; s < n; s++) bucket[this.len[s]! + 1]!++;
    for (let i = 1; i < bucket.length; i++) bucket[i]! += bucket[i - 1]!;
    const order = new Int32Array(n); // states by len ascending (counting sort)
    for (let s = 0; s < n; s++) order[bucket[this.len[s]!]!++] = s;
    const occ = new Int32Array(n);
    occ.set(this.own.subarray(0, n));
    for (let i = n - 1; i > 0; i--) {
      const s = order[i]!;
      const l = this.link[s]!;
      if (l >= 0) occ[l]! += occ[s]!;
    }
    return occ;
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
