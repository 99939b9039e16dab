/**
 * How a KV cache layout meets the graph. Each layout (see llama-graph.ts) feeds its own
 * `past_key_values.{i}.*`, says which outputs onnxruntime should write straight into its
 * buffers, and absorbs the outputs of the step — so `OnnxCausalLM.forward` stays one path.
 */
import type { KvCache } from '../types.ts';
import type { HostTensor } from './session.ts';

/** The three layouts of ../shared/ARCHITECTURE.md's ONNX contract, plus GQA's in-place one. */
export const KV_LAYOUTS = ['concat', 'capacity', 'inplace'] as const;
export type KvLayout = (typeof KV_LAYOUTS)[number];

export interface LayerKv {
  key: Float32Array; // [Hkv, rows, D]
  value: Float32Array; // [Hkv, rows, D]
}

export interface KvBinding {
  /** The additive mask the graph wants, [S, cols] (the caller's [S, P+S], widened if needed). */
  mask: Float32Array;
  cols: number;
  /** `past_key_values.{i}.key|value` feeds. */
  past: Record<string, HostTensor>;
  /** Outputs onnxruntime writes into caller-owned buffers (no copy), if any. */
  into?: Record<string, HostTensor>;
}

export interface GraphKvCache extends KvCache {
  readonly layout: KvLayout;
  readonly numLayers: number;
  /** Feeds for a forward of `s` new rows under `mask` [S, P+S]. */
  bind(mask: Float32Array, s: number): KvBinding;
  /** Take in the step's outputs (the S new rows' keys and values). */
  absorb(out: Record<string, HostTensor>, s: number): void;
}

/** The one check of `KvCache.keep`'s argument: ascending indices among the last S rows. */
export function checkKeep(indices: readonly number[], appended: number): void {
  let prev = -1;
  for (const i of indices) {
    if (!Number.isInteger(i) || i <= prev || i >= appended) {
      throw new RangeError(
        `KV cache: keep indices must be ascending in 0..${appended - 1}, got [${indices.join(', ')}]`,
      );
    }
    prev = i;
  }
}

/** The one check of `KvCache.truncate`'s argument. */
export function checkTruncate(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`KV cache: cannot truncate to ${n}`);
}

/** Per-layer `past_key_values.{i}.*` feeds over buffers of `rows` rows per head. */
export function pastFeeds(layers: readonly LayerKv[], hkv: number, rows: number, d: number) {
  const feeds: Record<string, HostTensor> = {};
  layers.forEach((l, i) => {
    feeds[`past_key_values.${i}.key`] = { type: 'float32', data: l.key, dims: [1, hkv, rows, d] };
    feeds[`past_key_values.${i}.value`] = { type: 'float32', data: l.value, dims: [1, hkv, rows, d] };
  });
  return feeds;
}
