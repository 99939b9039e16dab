/**
 * KV cache for graphs built with `kv: 'capacity'` (batch 1). Per layer, key and value live in
 * one buffer `[Hkv, C, D]` with C >= P rows; rows P..C-1 are stale and the forward masks them.
 * The graph reads the buffer in place and returns only the S new rows, which `append` writes
 * at rows P..P+S-1 — so a step costs O(S) cache writes instead of copying all P rows twice.
 *
 * Invariants: every layer has the same C and P (`length`); positions
 * [length - lastAppended, length) are the ones the last forward appended (`keep` indexes them).
 */
import type { KvCache } from '../types.ts';
import type { LayerKv } from './kv-cache.ts';

/**
 * Capacity grows in steps of this many rows. Small enough that the stale rows the graph reads
 * stay few (attention cost follows C, not P); a re-layout copies the cache once per step.
 */
export const CAPACITY_STEP = 64;

export class CapacityKvCache implements KvCache {
  private buf: LayerKv[];
  private cap = 0;
  private len = 0;
  private appended = 0;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {
    // Allocated by the first reserve(), so making a cache is free.
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

  /** Per-layer [Hkv, C, D] buffers, for feeding the next forward. */
  get layers(): readonly LayerKv[] {
    return this.buf;
  }

  /**
   * Make sure the buffers can be fed (C >= 1). The forward itself only needs C >= P: its own S
   * rows come straight from the graph, so C is not grown for them until `append`.
   */
  prepare(): void {
    if (this.cap === 0) this.grow(1);
  }

  /** Re-layout to C = `need` rounded up to CAPACITY_STEP, keeping the P cached rows. */
  private grow(need: number): void {
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

  /** Write a forward's `appended.{i}.*` tensors ([Hkv, S, D] per layer) after the P cached rows. */
  append(rows: LayerKv[], s: number): void {
    if (rows.length !== this.numLayers)
      throw new Error(`KV cache: expected ${this.numLayers} layers, got ${rows.length}`);
    this.grow(this.len + s);
    const { numKvHeads: hkv, headDim: d } = this;
    rows.forEach((r, i) => {
      const b = this.buf[i]!;
      for (let h = 0; h < hkv; h++) {
        const dst = (h * this.cap + this.len) * d;
        b.key.set(r.key.subarray(h * s * d, (h + 1) * s * d), dst);
        b.value.set(r.value.subarray(h * s * d, (h + 1) * s * d), dst);
      }
    });
    this.len += s;
    this.appended = s;
  }

  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`KV cache: cannot truncate to ${n}`);
    if (n >= this.len) return;
    // Rows >= n just become stale: the next forward masks them.
    this.appended = Math.max(0, this.appended - (this.len - n));
    this.len = n;
  }

  keep(indices: readonly number[]): void {
    const base = this.len - this.appended;
    let prev = -1;
    for (const i of indices) {
      if (!Number.isInteger(i) || i <= prev || i >= this.appended) {
        throw new RangeError(
          `KV cache: keep indices must be ascending in 0..${this.appended - 1}, got [${indices.join(', ')}]`,
        );
      }
      prev = i;
    }
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

  clone(): CapacityKvCache {
    const c = new CapacityKvCache(this.numLayers, this.numKvHeads, this.headDim);
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
  widenMask(mask: Float32Array, s: number, blocked: number): Float32Array {
    const p = this.len;
    const c = this.cap;
    const out = new Float32Array(s * (c + s)).fill(blocked);
    for (let i = 0; i < s; i++) {
      out.set(mask.subarray(i * (p + s), i * (p + s) + p), i * (c + s));
      out.set(mask.subarray(i * (p + s) + p, (i + 1) * (p + s)), i * (c + s) + c);
    }
    return out;
  }
}
