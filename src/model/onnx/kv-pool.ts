/**
 * The KV arena of a batched forward: one buffer per layer for key and one for value,
 * `[slots, Hkv, C, D]`, fed to the capacity graph as `past_key_values.{i}.*` [B,Hkv,C,D] with
 * B = the slots in use. Each request owns one slot (`SlotKvCache`, the ordinary `KvCache` API);
 * the graph reads the slots in place and returns only the new rows (`appended.{i}.*`
 * [B,Hkv,S_max,D]), which `absorb` writes into each slot after its P rows.
 *
 * Invariants:
 * - slots 0..used-1 are taken, densely: releasing slot k moves the last slot into k (one copy
 *   of its rows when a request leaves), so a forward never feeds an empty slot in the middle;
 * - C >= every slot's length, rounded up to CAPACITY_STEP; C shrinks again when the longest
 *   request leaves (attention over the batch costs B·S·C, so C follows the longest live one);
 * - within a slot, rows [length - lastAppended, length) are the last forward's (what `keep`
 *   indexes), exactly as in `CapacityKvCache`.
 */
import { RagspecError } from '../../util/errors.ts';
import type { KvCache } from '../types.ts';
import { checkKeep, checkTruncate, type LayerKv } from './kv-binding.ts';
import { CAPACITY_STEP, CapacityKvCache } from './kv-capacity.ts';
import type { HostTensor } from './session.ts';

export class KvArena {
  /** Per layer `[slotCap, Hkv, C, D]`. */
  private buf: LayerKv[];
  private cap = 0;
  private slotCap = 0;
  private readonly slots: SlotKvCache[] = [];

  constructor(
    readonly maxSlots: number,
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    readonly blocked: number,
  ) {
    this.buf = Array.from({ length: numLayers }, () => ({
      key: new Float32Array(0),
      value: new Float32Array(0),
    }));
  }

  /** C: rows per slot and head. */
  get capacity(): number {
    return this.cap;
  }

  get used(): number {
    return this.slots.length;
  }

  /** P of slot k. */
  slotLength(k: number): number {
    return this.slots[k]!.len;
  }

  /** A cache in the next free slot, holding a copy of `from`'s rows when given. */
  take(from?: KvCache | null): SlotKvCache {
    if (this.slots.length >= this.maxSlots)
      throw new RagspecError(`every one of the ${this.maxSlots} batch slots is taken`, {
        code: 'batch_full',
        kind: 'conflict',
      });
    const rows = from ? rowsOf(from) : null;
    const len = from?.length ?? 0;
    const slot = new SlotKvCache(this, this.slots.length);
    this.slots.push(slot);
    this.grow(Math.max(1, len), this.slots.length);
    if (rows) {
      this.writeRows(slot.slot, 0, rows, len);
      slot.len = len;
    }
    return slot;
  }

  /** Give `cache`'s slot back; the last slot moves into it. */
  release(cache: SlotKvCache): void {
    const k = this.slots.indexOf(cache);
    if (k < 0) return;
    const last = this.slots.pop()!;
    if (last !== cache) {
      this.copySlot(last.slot, k, last.len);
      last.slot = k;
      this.slots[k] = last;
    }
    cache.released = true;
    // Shrink C when the longest request has left (a re-layout, once).
    const longest = Math.max(1, ...this.slots.map((s) => s.len));
    if (Math.ceil(longest / CAPACITY_STEP) * CAPACITY_STEP < this.cap) this.relayout(longest, this.slotCap);
  }

  /** Per-layer `past_key_values.{i}.*` feeds of slots lo..hi-1 (views into the arena, no copy). */
  pastFeeds(lo: number, hi: number): Record<string, HostTensor> {
    const { numKvHeads: hkv, headDim: d, cap } = this;
    const per = hkv * cap * d;
    const b = hi - lo;
    const feeds: Record<string, HostTensor> = {};
    this.buf.forEach((l, i) => {
      const view = (a: Float32Array) => a.subarray(lo * per, hi * per);
      feeds[`past_key_values.${i}.key`] = { type: 'float32', data: view(l.key), dims: [b, hkv, cap, d] };
      feeds[`past_key_values.${i}.value`] = { type: 'float32', data: view(l.value), dims: [b, hkv, cap, d] };
    });
    return feeds;
  }

  /**
   * Write the forward's `appended.{i}.*` ([B,Hkv,S_max,D], slots lo..lo+B-1) into each slot:
   * slot lo + b takes its first `rows[b]` rows after its P cached rows (the rest are padding).
   */
  absorb(out: Record<string, HostTensor>, rows: readonly number[], sMax: number, lo: number): void {
    this.grow(Math.max(...rows.map((r, b) => this.slots[lo + b]!.len + r)), this.slots.length);
    const { numKvHeads: hkv, headDim: d } = this;
    for (let i = 0; i < this.numLayers; i++) {
      const key = out[`appended.${i}.key`]!.data as Float32Array;
      const value = out[`appended.${i}.value`]!.data as Float32Array;
      rows.forEach((s, b) => {
        if (s === 0) return;
        const slot = this.slots[lo + b]!;
        for (let h = 0; h < hkv; h++) {
          const src = (b * hkv + h) * sMax * d;
          const dst = this.offset(lo + b, h, slot.len);
          this.buf[i]!.key.set(key.subarray(src, src + s * d), dst);
          this.buf[i]!.value.set(value.subarray(src, src + s * d), dst);
        }
      });
    }
    rows.forEach((s, b) => {
      if (s === 0) return;
      this.slots[lo + b]!.len += s;
      this.slots[lo + b]!.appended = s;
    });
  }

  /** Float offset of (slot, head, row) in a layer buffer. */
  offset(slot: number, h: number, row: number): number {
    return ((slot * this.numKvHeads + h) * this.cap + row) * this.headDim;
  }

  /** Move row `from` to row `to` of one slot in every layer (KvCache.keep). */
  moveRow(slot: number, from: number, to: number): void {
    const d = this.headDim;
    for (const l of this.buf) {
      for (let h = 0; h < this.numKvHeads; h++) {
        const src = this.offset(slot, h, from);
        const dst = this.offset(slot, h, to);
        l.key.copyWithin(dst, src, src + d);
        l.value.copyWithin(dst, src, src + d);
      }
    }
  }

  /** The first `len` rows of a slot, packed `[Hkv, len, D]` per layer (a copy). */
  exportRows(slot: number, len: number): LayerKv[] {
    const { numKvHeads: hkv, headDim: d } = this;
    return this.buf.map((l) => {
      const key = new Float32Array(hkv * len * d);
      const value = new Float32Array(hkv * len * d);
      for (let h = 0; h < hkv; h++) {
        const o = this.offset(slot, h, 0);
        key.set(l.key.subarray(o, o + len * d), h * len * d);
        value.set(l.value.subarray(o, o + len * d), h * len * d);
      }
      return { key, value };
    });
  }

  private writeRows(slot: number, at: number, rows: LayerKv[], len: number): void {
    const { numKvHeads: hkv, headDim: d } = this;
    this.buf.forEach((l, i) => {
      for (let h = 0; h < hkv; h++) {
        l.key.set(rows[i]!.key.subarray(h * len * d, (h + 1) * len * d), this.offset(slot, h, at));
        l.value.set(rows[i]!.value.subarray(h * len * d, (h + 1) * len * d), this.offset(slot, h, at));
      }
    });
  }

  private copySlot(from: number, to: number, len: number): void {
    const d = this.headDim;
    for (const l of this.buf) {
      for (let h = 0; h < this.numKvHeads; h++) {
        const src = this.offset(from, h, 0);
        l.key.copyWithin(this.offset(to, h, 0), src, src + len * d);
        l.value.copyWithin(this.offset(to, h, 0), src, src + len * d);
      }
    }
  }

  /** Make room for `rows` rows per slot and `slots` slots (re-layout only when either grows). */
  private grow(rows: number, slots: number): void {
    if (rows <= this.cap && slots <= this.slotCap) return;
    this.relayout(Math.max(rows, this.cap), Math.max(slots, this.slotCap));
  }

  private relayout(rows: number, slots: number): void {
    const cap = Math.ceil(rows / CAPACITY_STEP) * CAPACITY_STEP;
    const { numKvHeads: hkv, headDim: d } = this;
    const old = { cap: this.cap, buf: this.buf };
    this.buf = old.buf.map((l) => {
      const move = (a: Float32Array) => {
        const out = new Float32Array(slots * hkv * cap * d);
        this.slots.forEach((s, b) => {
          const n = Math.min(s.len, cap);
          for (let h = 0; h < hkv; h++) {
            const src = (b * hkv + h) * old.cap * d;
            out.set(a.subarray(src, src + n * d), (b * hkv + h) * cap * d);
          }
        });
        return out;
      };
      return { key: move(l.key), value: move(l.value) };
    });
    this.cap = cap;
    this.slotCap = slots;
  }
}

/** One request's KV cache: a slot of a `KvArena`. */
export class SlotKvCache implements KvCache {
  len = 0;
  appended = 0;
  released = false;

  constructor(
    readonly arena: KvArena,
    /** Index in the arena (changes when a slot before it is released). */
    public slot: number,
  ) {}

  get length(): number {
    return this.len;
  }

  get lastAppended(): number {
    return this.appended;
  }

  truncate(n: number): void {
    checkTruncate(n);
    if (n >= this.len) return;
    this.appended = Math.max(0, this.appended - (this.len - n));
    this.len = n;
  }

  keep(indices: readonly number[]): void {
    const base = this.len - this.appended;
    checkKeep(indices, this.appended);
    // Row base + indices[j] moves to base + j; j <= indices[j], so moving forward is safe.
    indices.forEach((src, j) => {
      if (src !== j) this.arena.moveRow(this.slot, base + src, base + j);
    });
    this.len = base + indices.length;
    this.appended = indices.length;
  }

  /** A standalone copy (a `CapacityKvCache`, e.g. for the prefix cache). */
  clone(): KvCache {
    const { numKvHeads, headDim, blocked } = this.arena;
    return CapacityKvCache.fromRows(
      numKvHeads,
      headDim,
      blocked,
      this.arena.exportRows(this.slot, this.len),
      this.len,
    );
  }
}

function rowsOf(cache: KvCache): LayerKv[] {
  if (cache instanceof SlotKvCache) return cache.arena.exportRows(cache.slot, cache.len);
  if (cache instanceof CapacityKvCache && cache.layout === 'capacity') return cache.exportRows();
  throw new RagspecError('a batch slot can only start from a capacity KV cache', { code: 'bad_cache' });
}
