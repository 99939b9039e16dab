/**
 * KV caches whose per-layer key and value live in one buffer `[Hkv, C, D]` with C >= P rows
 * (batch 1); rows P..C-1 are stale. Two layouts share this storage:
 * - `CapacityKvCache` (graphs built with `kv: 'capacity'`): the graph reads the buffer in
 *   place (stale rows masked) and returns only the S new rows as `appended.{i}.*`, which
 *   `absorb` writes at rows P..P+S-1 — a step costs O(S) cache writes, not two copies of P.
 * - `InPlaceKvCache` (GroupQueryAttention graphs): the same buffer is fed as past and as the
 *   `present.{i}.*` output, and the attention op itself writes the S new rows at P..P+S-1;
 *   it reads only rows < P+S, so the mask stays the caller's [S, P+S].
 *
 * Invariants: every layer has the same C and P (`length`); positions
 * [length - lastAppended, length) are the ones the last forward appended (`keep` indexes them).
 */
import {
  checkKeep,
  checkTruncate,
  pastFeeds,
  type GraphKvCache,
  type KvBinding,
  type LayerKv,
} from './kv-binding.ts';
import type { HostTensor } from './session.ts';

/**
 * Capacity grows in steps of this many rows. Small enough that the stale rows the graph reads
 * stay few (attention cost follows C, not P); a re-layout copies the cache once per step.
 */
export const CAPACITY_STEP = 64;

export class CapacityKvCache implements GraphKvCache {
  readonly layout: 'capacity' | 'inplace' = 'capacity';
  protected buf: LayerKv[];
  protected cap = 0;
  protected len = 0;
  protected appended = 0;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    /** The mask value of the stale rows. */
    protected readonly blocked = -1e9,
  ) {
    // Allocated by the first grow(), so making a cache is free.
    this.buf = Array.from({ length: numLayers }, () => ({
      key: new Float32Array(0),
      value: new Float32Array(0),
    }));
  }

  get length(): number {
    return this.len;
  }

  get lastAppended(): number {
    return this.appended;
  }

  /** C: rows per head in the buffers fed as `past_key_values`. */
  get capacity(): number {
    return this.cap;
  }

  /**
   * Feed the whole buffer (C >= 1; the step's own S rows come straight from the graph, so C is
   * not grown for them until `absorb`), with the mask widened over the stale rows.
   */
  bind(mask: Float32Array, s: number): KvBinding {
    if (this.cap === 0) this.grow(1);
    const c = this.cap;
    return {
      mask: this.widenMask(mask, s),
      cols: c + s,
      past: pastFeeds(this.buf, this.numKvHeads, c, this.headDim),
    };
  }

  /** Write the step's `appended.{i}.*` tensors ([Hkv, S, D] per layer) after the P cached rows. */
  absorb(out: Record<string, HostTensor>, s: number): void {
    this.grow(this.len + s);
    const { numKvHeads: hkv, headDim: d } = this;
    this.buf.forEach((b, i) => {
      const key = out[`appended.${i}.key`]!.data as Float32Array;
      const value = out[`appended.${i}.value`]!.data as Float32Array;
      for (let h = 0; h < hkv; h++) {
        const dst = (h * this.cap + this.len) * d;
        b.key.set(key.subarray(h * s * d, (h + 1) * s * d), dst);
        b.value.set(value.subarray(h * s * d, (h + 1) * s * d), dst);
      }
    });
    this.len += s;
    this.appended = s;
  }

  /** Re-layout to C = `need` rounded up to CAPACITY_STEP, keeping the P cached rows. */
  protected grow(need: number): void {
    if (need <= this.cap) return;
    const cap = Math.ceil(need / CAPACITY_STEP) * CAPACITY_STEP;
    const { numKvHeads: hkv, headDim: d } = this;
    this.buf = this.buf.map((l) => {
      const grow = (old: Float32Array) => {
        const out = new Float32Array(hkv * cap * d);
        for (let h = 0; h < hkv; h++)
          out.set(old.subarray(h * this.cap * d, (h * this.cap + this.len) * d), h * cap * d);
        return out;
      };
      return { key: grow(l.key), value: grow(l.value) };
    });
    this.cap = cap;
  }

  truncate(n: number): void {
    checkTruncate(n);
    if (n >= this.len) return;
    // Rows >= n just become stale: the next forward masks (or overwrites) them.
    this.appended = Math.max(0, this.appended - (this.len - n));
    this.len = n;
  }

  keep(indices: readonly number[]): void {
    const base = this.len - this.appended;
    checkKeep(indices, this.appended);
    // Row base + indices[j] moves to base + j; j <= indices[j], so copying forward is safe.
    const { numKvHeads: hkv, headDim: d } = this;
    for (const l of this.buf) {
      for (const arr of [l.key, l.value]) {
        for (let h = 0; h < hkv; h++) {
          indices.forEach((src, j) => {
            if (src === j) return;
            const from = (h * this.cap + base + src) * d;
            arr.copyWithin((h * this.cap + base + j) * d, from, from + d);
          });
        }
      }
    }
    this.len = base + indices.length;
    this.appended = indices.length;
  }

  /** The P cached rows, packed `[Hkv, P, D]` per layer (a copy): what a batch slot imports. */
  exportRows(): LayerKv[] {
    const { numKvHeads: hkv, headDim: d } = this;
    const pack = (a: Float32Array) => {
      const out = new Float32Array(hkv * this.len * d);
      for (let h = 0; h < hkv; h++)
        out.set(a.subarray(h * this.cap * d, (h * this.cap + this.len) * d), h * this.len * d);
      return out;
    };
    return this.buf.map((l) => ({ key: pack(l.key), value: pack(l.value) }));
  }

  /** A cache of `len` rows from packed `[Hkv, len, D]` layers (a batch slot's `clone`). */
  static fromRows(hkv: number, d: number, blocked: number, rows: LayerKv[], len: number): CapacityKvCache {
    const c = new CapacityKvCache(rows.length, hkv, d, blocked);
    c.grow(Math.max(1, len));
    c.buf.forEach((l, i) => {
      for (let h = 0; h < hkv; h++) {
        l.key.set(rows[i]!.key.subarray(h * len * d, (h + 1) * len * d), h * c.cap * d);
        l.value.set(rows[i]!.value.subarray(h * len * d, (h + 1) * len * d), h * c.cap * d);
      }
    });
    c.len = len;
    return c;
  }

  clone(): CapacityKvCache {
    const c = new (this.constructor as typeof CapacityKvCache)(
      this.numLayers,
      this.numKvHeads,
      this.headDim,
      this.blocked,
    );
    c.buf = this.buf.map((l) => ({ key: l.key.slice(), value: l.value.slice() }));
    c.cap = this.cap;
    c.len = this.len;
    c.appended = this.appended;
    return c;
  }

  /**
   * The caller's mask [S, P+S] widened to the graph's [S, C+S]: past columns as given, the
   * C-P stale rows blocked, the S new columns as given.
   */
  private widenMask(mask: Float32Array, s: number): Float32Array {
    const p = this.len;
    const c = this.cap;
    const out = new Float32Array(s * (c + s)).fill(this.blocked);
    for (let i = 0; i < s; i++) {
      out.set(mask.subarray(i * (p + s), i * (p + s) + p), i * (c + s));
      out.set(mask.subarray(i * (p + s) + p, (i + 1) * (p + s)), i * (c + s) + c);
    }
    return out;
  }
}

export class InPlaceKvCache extends CapacityKvCache {
  override readonly layout = 'inplace' as const;

  /** The buffer (grown to hold P+S rows) is both past and present: the graph writes into it. */
  override bind(mask: Float32Array, s: number): KvBinding {
    this.grow(this.len + s);
    const { numKvHeads: hkv, headDim: d, cap } = this;
    const past = pastFeeds(this.buf, hkv, cap, d);
    const into: Record<string, HostTensor> = {};
    this.buf.forEach((l, i) => {
      into[`present.${i}.key`] = { type: 'float32', data: l.key, dims: [1, hkv, cap, d] };
      into[`present.${i}.value`] = { type: 'float32', data: l.value, dims: [1, hkv, cap, d] };
    });
    return { mask, cols: this.len + s, past, into };
  }

  override absorb(_out: Record<string, HostTensor>, s: number): void {
    this.len += s;
    this.appended = s;
  }
}
