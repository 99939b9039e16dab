/**
 * A toy CausalLM in plain TypeScript for exact property tests of the decoding loop. It
 * honours the contract the way a transformer does: each new row sees exactly the cached and
 * new positions its mask row allows, and its logits are a function of that (position, token)
 * sequence — so a wrong tree mask, wrong positions or a wrong `keep` changes the output.
 * Logits mix an order-2 Markov table (so outputs repeat and copying pays off) with a hash of
 * the whole attended sequence (so every attended token matters).
 */
import {
  MASK_BLOCKED,
  type CausalLM,
  type ForwardOptions,
  type KvCache,
  type LlamaConfig,
  type Logits,
} from '../../src/model/types.ts';

interface Entry {
  token: number;
  pos: number;
}

class ToyCache implements KvCache {
  entries: Entry[] = [];
  lastAppended = 0;
  get length(): number {
    return this.entries.length;
  }
  truncate(n: number): void {
    this.entries.length = Math.min(this.entries.length, n);
    this.lastAppended = 0;
  }
  keep(indices: readonly number[]): void {
    const base = this.entries.length - this.lastAppended;
    const kept = indices.map((i) => {
      if (i < 0 || i >= this.lastAppended)
        throw new Error(`keep: index ${i} outside the ${this.lastAppended} appended`);
      return this.entries[base + i]!;
    });
    this.entries.length = base;
    this.entries.push(...kept);
    this.lastAppended = kept.length;
  }
  clone(): KvCache {
    const c = new ToyCache();
    c.entries = this.entries.slice();
    c.lastAppended = this.lastAppended;
    return c;
  }
}

export interface ToyOptions {
  vocab?: number;
  seed?: number;
  /** How strongly the Markov table dominates (higher = more repetitive, more copyable). */
  markovWeight?: number;
  contextLength?: number;
  treeMask?: boolean;
}

export class ToyLM implements CausalLM {
  readonly config: LlamaConfig;
  readonly capabilities: { treeMask: boolean };
  forwards = 0;
  /** Tokens fed through forward, prefill and decode together: what a prefix cache saves. */
  tokensForwarded = 0;
  private readonly table: Float32Array; // [V, V, V]
  private readonly v: number;
  private readonly w: number;
  private readonly seed: number;

  constructor(o: ToyOptions = {}) {
    this.v = o.vocab ?? 16;
    this.w = o.markovWeight ?? 4;
    this.seed = o.seed ?? 1;
    this.capabilities = { treeMask: o.treeMask ?? true };
    this.config = {
      arch: 'llama',
      name: 'toy',
      vocabSize: this.v,
      hiddenSize: 1,
      intermediateSize: 1,
      numLayers: 1,
      numHeads: 1,
      numKvHeads: 1,
      headDim: 1,
      contextLength: o.contextLength ?? 4096,
      rmsNormEps: 1e-5,
      ropeTheta: 1e4,
      tiedEmbeddings: true,
      qkvBias: false,
    };
    this.table = new Float32Array(this.v ** 3);
    let s = this.seed * 7919 + 1;
    for (let i = 0; i < this.table.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      this.table[i] = (s / 2 ** 32) * 2 - 1;
    }
  }

  newCache(): KvCache {
    return new ToyCache();
  }

  async forward(
    tokens: readonly number[],
    positions: readonly number[],
    mask: Float32Array | null,
    cache: KvCache,
    opts: ForwardOptions = {},
  ): Promise<Logits> {
    const c = cache as ToyCache;
    if (!this.capabilities.treeMask && mask !== null) throw new Error('toy: this model takes no tree mask');
    this.forwards++;
    this.tokensForwarded += tokens.length;
    const past = c.entries.length;
    const s = tokens.length;
    const total = past + s;
    if (mask !== null && mask.length !== s * total)
      throw new Error(`toy: mask has ${mask.length} values, want ${s}x${total}`);
    const fresh: Entry[] = tokens.map((token, i) => ({ token, pos: positions[i]! }));
    const data = new Float32Array(s * this.v);
    for (let i = 0; i < s; i++) {
      const seen: Entry[] = [];
      for (let j = 0; j < total; j++) {
        const allowed = mask === null ? j <= past + i : mask[i * total + j] !== MASK_BLOCKED;
        if (allowed) seen.push(j < past ? c.entries[j]! : fresh[j - past]!);
      }
      seen.sort((a, b) => a.pos - b.pos);
      // A transformer with rope sees positions; a contiguous 0..pos history is what AR gives.
      seen.forEach((e, k) => {
        if (e.pos !== k) throw new Error(`toy: row ${i} sees position ${e.pos} at rank ${k}`);
      });
      if (seen[seen.length - 1] !== fresh[i])
        throw new Error(`toy: row ${i} is not the last position it sees`);
      this.row(seen, data.subarray(i * this.v, (i + 1) * this.v));
    }
    c.entries.push(...fresh);
    c.lastAppended = s;
    const rows = opts.logitRows;
    if (!rows) return { data, rows: s, vocabSize: this.v };
    const picked = new Float32Array(rows.length * this.v);
    rows.forEach((r, i) => picked.set(data.subarray(r * this.v, (r + 1) * this.v), i * this.v));
    return { data: picked, rows: rows.length, vocabSize: this.v };
  }

  private row(seen: Entry[], out: Float32Array): void {
    const n = seen.length;
    const a = n >= 2 ? seen[n - 2]!.token % this.v : 0;
    const b = seen[n - 1]!.token % this.v;
    let h = this.seed >>> 0;
    for (const e of seen) h = (Math.imul(h ^ (e.token + 1), 0x9e3779b1) + e.pos) >>> 0;
    for (let t = 0; t < this.v; t++) {
      h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
      out[t] = this.w * this.table[(a * this.v + b) * this.v + t]! + (h / 2 ** 32) * 1.0;
    }
  }

  async dispose(): Promise<void> {}
}

/** A byte-ish toy tokenizer: token t decodes to one character (letters, space, some punctuation). */
export const TOY_ALPHABET = 'abcdefghij klm.\n';
export const toyTokenizer = {
  decode: (ids: readonly number[]): string => ids.map((t) => TOY_ALPHABET[t % TOY_ALPHABET.length]).join(''),
  encode: (text: string): number[] => [...text].map((ch) => Math.max(0, TOY_ALPHABET.indexOf(ch))),
};
