/**
 * An n-gram index over token sequences (after llama.cpp's ngram-cache): for every n in
 * [1, N] a hash of the n tokens ending at each position maps to the positions it ends at.
 * Sequences can ONLY BE APPENDED TO; `extend` indexes the new positions. Hash collisions
 * are resolved by comparing tokens at lookup.
 */
export interface IndexedSeq {
  readonly tokens: number[];
}

export interface NgramHit {
  seq: number;
  /** Position of the match's last token in the sequence. */
  end: number;
}

/** Packs (seq, end) into one number; sequences stay under 2^21 tokens. */
const POS_BITS = 2 ** 21;

export class NgramIndex {
  readonly seqs: IndexedSeq[] = [];
  private readonly indexed: number[] = [];
  /** maps[n-1]: hash of n tokens → packed hits, oldest first. */
  private readonly maps: Map<number, number[]>[];

  constructor(readonly maxN: number) {
    this.maps = Array.from({ length: maxN }, () => new Map());
  }

  /** Add a sequence (indexed at once); returns its index. */
  add(tokens: number[]): number {
    const id = this.seqs.length;
    this.seqs.push({ tokens });
    this.indexed.push(0);
    this.extend(id);
    return id;
  }

  /** Index the positions appended to `seqs[id].tokens` since the last call. */
  extend(id: number): void {
    const toks = this.seqs[id]!.tokens;
    for (let end = this.indexed[id]!; end < toks.length; end++) {
      let h = 0;
      for (let n = 1; n <= this.maxN && end - n + 1 >= 0; n++) {
        h = mix(h, toks[end - n + 1]!);
        const map = this.maps[n - 1]!;
        const list = map.get(h);
        const packed = id * POS_BITS + end;
        if (list) list.push(packed);
        else map.set(h, [packed]);
      }
    }
    this.indexed[id] = toks.length;
  }

  /**
   * Positions where the last n tokens of `suffixSource` also occur, most recent first, at
   * most `limit` of them.
   */
  lookup(suffixSource: readonly number[], n: number, limit: number): NgramHit[] {
    const len = suffixSource.length;
    if (n > len || n > this.maxN) return [];
    let h = 0;
    for (let k = 1; k <= n; k++) h = mix(h, suffixSource[len - k]!);
    const list = this.maps[n - 1]!.get(h);
    if (!list) return [];
    const out: NgramHit[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < limit; i--) {
      const seq = Math.floor(list[i]! / POS_BITS);
      const end = list[i]! - seq * POS_BITS;
      const toks = this.seqs[seq]!.tokens;
      let ok = true;
      for (let k = 1; k <= n && ok; k++) ok = toks[end - k + 1] === suffixSource[len - k];
      if (ok) out.push({ seq, end });
    }
    return out;
  }
}

/** Order-dependent 32-bit hash step (tokens are added from the last one backwards). */
function mix(h: number, tok: number): number {
  let x = (h ^ Math.imul(tok + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}
