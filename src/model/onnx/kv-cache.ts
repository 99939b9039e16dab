/**
 * KV cache of an ONNX decoder, batch 1. Per layer, key and value are `[Hkv, P, D]` row-major —
 * exactly the `present.{i}.*` tensors the graph returns, so after a forward the cache just
 * adopts them (no copy) and feeds them back as `past_key_values.{i}.*` next step.
 *
 * Invariant: every layer has the same P (`length`); positions [length - lastAppended, length)
 * are the ones the last forward appended, which `keep` indexes into.
 */
import type { HostTensor } from './session.ts';
import {
  checkKeep,
  checkTruncate,
  pastFeeds,
  type GraphKvCache,
  type KvBinding,
  type LayerKv,
} from './kv-binding.ts';

export type { LayerKv } from './kv-binding.ts';

export class OnnxKvCache implements GraphKvCache {
  readonly layout = 'concat' as const;
  private layerKv: LayerKv[];
  private len = 0;
  private appended = 0;
  /**
   * Backing buffers (possibly larger than needed) that the next forward writes its `present`
   * outputs into, so onnxruntime fills them directly instead of returning fresh arrays. After a
   * forward they swap with the buffers of the positions just replaced (ping-pong).
   */
  private spare: LayerKv[] = [];

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {
    this.layerKv = Array.from({ length: numLayers }, () => ({
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

  /** Per-layer tensors, for feeding the next forward. */
  get layers(): readonly LayerKv[] {
    return this.layerKv;
  }

  /** Past = the P cached rows; `present.{i}.*` [Hkv, P+S, D] go straight into spare buffers. */
  bind(mask: Float32Array, s: number): KvBinding {
    const { numKvHeads: hkv, headDim: d } = this;
    const total = this.len + s;
    const into: Record<string, HostTensor> = {};
    this.presentBuffers(total).forEach((b, i) => {
      into[`present.${i}.key`] = { type: 'float32', data: b.key, dims: [1, hkv, total, d] };
      into[`present.${i}.value`] = { type: 'float32', data: b.value, dims: [1, hkv, total, d] };
    });
    return { mask, cols: total, past: pastFeeds(this.layerKv, hkv, this.len, d), into };
  }

  absorb(out: Record<string, HostTensor>, s: number): void {
    const present: LayerKv[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      present.push({
        key: out[`present.${i}.key`]!.data as Float32Array,
        value: out[`present.${i}.value`]!.data as Float32Array,
      });
    }
    this.adopt(present, s);
  }

  /**
   * Per-layer views of exactly [Hkv, total, D] for the next forward's `present` outputs. They
   * never alias the arrays currently in the cache (those are the forward's `past` inputs).
   */
  private presentBuffers(total: number): LayerKv[] {
    const n = this.numKvHeads * total * this.headDim;
    const room = Math.ceil(n * 1.25) + this.numKvHeads * 64 * this.headDim;
    return this.layerKv.map((_, i) => {
      let b = this.spare[i];
      if (!b || b.key.length < n || b.value.length < n) {
        b = { key: new Float32Array(room), value: new Float32Array(room) };
        this.spare[i] = b;
      }
      return { key: b.key.subarray(0, n), value: b.value.subarray(0, n) };
    });
  }

  /** Adopt the `present` tensors of a forward that appended `s` positions. */
  private adopt(present: LayerKv[], s: number): void {
    if (present.length !== this.numLayers)
      throw new Error(`KV cache: expected ${this.numLayers} layers, got ${present.length}`);
    const total = this.len + s;
    const per = this.numKvHeads * total * this.headDim;
    for (const p of present) {
      if (p.key.length !== per || p.value.length !== per)
        throw new Error(`KV cache: present tensor has ${p.key.length} values, expected ${per}`);
    }
    // The replaced arrays become the spare buffers when they were ours (views of a spare).
    const old = this.layerKv;
    this.spare = present.map((p, i) => {
      const backing = this.spare[i];
      const adopted = backing && p.key.buffer === backing.key.buffer;
      if (!adopted) return backing!;
      const o = old[i]!;
      return { key: new Float32Array(o.key.buffer), value: new Float32Array(o.value.buffer) };
    });
    this.layerKv = present;
    this.len = total;
    this.appended = s;
  }

  truncate(n: number): void {
    checkTruncate(n);
    if (n >= this.len) return;
    this.compact(Array.from({ length: n }, (_, i) => i));
    // The positions the last forward appended may now be partly gone.
    this.appended = Math.max(0, this.appended - (this.len - n));
    this.len = n;
  }

  keep(indices: readonly number[]): void {
    const base = this.len - this.appended;
    checkKeep(indices, this.appended);
    const rows = [...Array.from({ length: base }, (_, i) => i), ...indices.map((i) => base + i)];
    this.compact(rows);
    this.len = rows.length;
    this.appended = indices.length;
  }

  clone(): OnnxKvCache {
    const c = new OnnxKvCache(this.numLayers, this.numKvHeads, this.headDim);
    c.layerKv = this.layerKv.map((l) => ({ key: l.key.slice(), value: l.value.slice() }));
    c.len = this.len;
    c.appended = this.appended;
    return c;
  }

  /**
   * Keep positions `rows` (ascending) of every layer, in place: [Hkv, P, D] → [Hkv, rows.length, D]
   * inside the same buffer. Every destination offset is at or before its source, so copying
   * forward never overwrites data still to be read — and no allocation happens per step.
   */
  private compact(rows: readonly number[]): void {
    const d = this.headDim;
    const p = this.len;
    const n = rows.length;
    const size = this.numKvHeads * n * d;
    for (const l of this.layerKv) {
      for (const arr of [l.key, l.value]) {
        for (let h = 0; h < this.numKvHeads; h++) {
          let o = h * n * d;
          let r = 0;
          while (r < n) {
            let end = r + 1;
            while (end < n && rows[end] === rows[end - 1]! + 1) end++;
            const from = (h * p + rows[r]!) * d;
            if (from !== o) arr.copyWithin(o, from, from + (end - r) * d);
            o += (end - r) * d;
            r = end;
          }
        }
      }
    }
    this.layerKv = this.layerKv.map((l) => ({
      key: l.key.subarray(0, size),
      value: l.value.subarray(0, size),
    }));
  }
}
