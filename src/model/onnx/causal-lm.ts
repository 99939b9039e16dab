/**
 * `CausalLM` over an ONNX decoder graph, through `OrtModel` (the only onnxruntime file).
 * - mask '4d' (graphs ragspec builds): any additive mask [S, P+S], so a whole draft tree
 *   verifies in one step.
 * - mask '2d' (Optimum / transformers.js exports): a padding mask only; the graph applies
 *   causality itself, so only ordinary causal chains can be run (`treeMask: false`).
 */
import { RagspecError } from '../../util/errors.ts';
import {
  MASK_BLOCKED,
  causalMask,
  type CausalLM,
  type CausalLMCapabilities,
  type KvCache,
  type LlamaConfig,
  type Logits,
} from '../types.ts';
import { CapacityKvCache } from './kv-capacity.ts';
import { OnnxKvCache, type LayerKv } from './kv-cache.ts';
import { OrtModel, type HostTensor, type SessionOptions } from './session.ts';

export type MaskConvention = '4d' | '2d';

export interface OnnxCausalLMOptions extends SessionOptions {
  mask?: MaskConvention;
}

/** Additive values at or below this count as "blocked" when checking a chain mask. */
const BLOCKED_BELOW = -1e4;

export class OnnxCausalLM implements CausalLM {
  readonly capabilities: CausalLMCapabilities;
  /** 'capacity' graphs return only the new rows (`appended.{i}.*`); see llama-graph.ts. */
  private readonly kv: 'concat' | 'capacity';

  private constructor(
    private readonly model: OrtModel,
    readonly config: LlamaConfig,
    private readonly mask: MaskConvention,
  ) {
    this.capabilities = { treeMask: mask === '4d' };
    this.kv = model.outputNames.includes('appended.0.key') ? 'capacity' : 'concat';
  }

  /** Load a graph file (external data resolves beside it) or bytes. */
  static async load(
    model: string | Uint8Array,
    config: LlamaConfig,
    opts: OnnxCausalLMOptions = {},
  ): Promise<OnnxCausalLM> {
    const ort = await OrtModel.load(model, opts);
    const lm = new OnnxCausalLM(ort, config, opts.mask ?? '4d');
    lm.checkGraph();
    return lm;
  }

  /** Where the graph came from (file path). */
  get source(): string {
    return this.model.source;
  }

  newCache(): OnnxKvCache | CapacityKvCache {
    const { numLayers, numKvHeads, headDim } = this.config;
    return this.kv === 'capacity'
      ? new CapacityKvCache(numLayers, numKvHeads, headDim)
      : new OnnxKvCache(numLayers, numKvHeads, headDim);
  }

  async forward(
    tokens: readonly number[],
    positions: readonly number[],
    mask: Float32Array | null,
    cache: KvCache,
  ): Promise<Logits> {
    const kind = this.kv === 'capacity' ? CapacityKvCache : OnnxKvCache;
    if (!(cache instanceof kind) || cache.numLayers !== this.config.numLayers) {
      throw new RagspecError('forward: the KV cache was not made by this model (use model.newCache())', {
        code: 'bad_cache',
      });
    }
    const s = tokens.length;
    const p = cache.length;
    const total = p + s;
    const { vocabSize: v, numKvHeads: hkv, headDim: d } = this.config;
    if (s === 0) throw new RagspecError('forward: no tokens', { code: 'bad_forward' });
    if (positions.length !== s)
      throw new RagspecError(`forward: ${s} tokens but ${positions.length} positions`, {
        code: 'bad_forward',
      });
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= v)
        throw new RagspecError(`forward: token id ${t} is outside the vocabulary 0..${v - 1}`, {
          code: 'bad_forward',
        });
    }
    for (const q of positions) {
      if (!Number.isInteger(q) || q < 0 || q >= this.config.contextLength) {
        throw new RagspecError(
          `forward: position ${q} is outside the context 0..${this.config.contextLength - 1}`,
          { code: 'bad_forward' },
        );
      }
    }
    if (mask && mask.length !== s * total) {
      throw new RagspecError(`forward: mask has ${mask.length} values, expected S×(P+S) = ${s}×${total}`, {
        code: 'bad_forward',
      });
    }
    const feeds: Record<string, HostTensor> = {
      input_ids: { type: 'int64', data: BigInt64Array.from(tokens, BigInt), dims: [1, s] },
      position_ids: { type: 'int64', data: BigInt64Array.from(positions, BigInt), dims: [1, s] },
    };
    if (cache instanceof CapacityKvCache) {
      // Capacity cache: feed the whole buffer (stale rows masked), get back only S new rows.
      cache.prepare();
      const c = cache.capacity;
      feeds.attention_mask = {
        type: 'float32',
        data: cache.widenMask(mask ?? causalMask(p, s), s, MASK_BLOCKED),
        dims: [1, 1, s, c + s],
      };
      cache.layers.forEach((l, i) => {
        feeds[`past_key_values.${i}.key`] = { type: 'float32', data: l.key, dims: [1, hkv, c, d] };
        feeds[`past_key_values.${i}.value`] = { type: 'float32', data: l.value, dims: [1, hkv, c, d] };
      });
      const out = await this.model.run(feeds);
      const rows: LayerKv[] = [];
      for (let i = 0; i < this.config.numLayers; i++) {
        rows.push({
          key: out[`appended.${i}.key`]!.data as Float32Array,
          value: out[`appended.${i}.value`]!.data as Float32Array,
        });
      }
      cache.append(rows, s);
      return { data: out.logits!.data as Float32Array, rows: s, vocabSize: v };
    }
    const onnxCache = cache as OnnxKvCache;
    if (this.mask === '4d') {
      feeds.attention_mask = { type: 'float32', data: mask ?? causalMask(p, s), dims: [1, 1, s, total] };
    } else {
      if (mask && !isCausal(mask, p, s)) {
        throw new RagspecError(
          `${this.model.source} only runs causal chains (2D attention_mask, Optimum export); this forward needs a tree mask`,
          {
            code: 'tree_mask_unsupported',
            hint: 'use a model converted by `ragspec convert`, or verify one chain of drafts at a time',
          },
        );
      }
      feeds.attention_mask = { type: 'int64', data: new BigInt64Array(total).fill(1n), dims: [1, total] };
    }
    onnxCache.layers.forEach((l, i) => {
      feeds[`past_key_values.${i}.key`] = { type: 'float32', data: l.key, dims: [1, hkv, p, d] };
      feeds[`past_key_values.${i}.value`] = { type: 'float32', data: l.value, dims: [1, hkv, p, d] };
    });
    // present.{i}.* are written straight into the cache's spare buffers (no extra copy).
    const present: LayerKv[] = onnxCache.presentBuffers(total);
    const into: Record<string, HostTensor> = {};
    present.forEach((b, i) => {
      into[`present.${i}.key`] = { type: 'float32', data: b.key, dims: [1, hkv, total, d] };
      into[`present.${i}.value`] = { type: 'float32', data: b.value, dims: [1, hkv, total, d] };
    });
    const out = await this.model.run(feeds, undefined, into);
    onnxCache.adopt(present, s);
    return { data: out.logits!.data as Float32Array, rows: s, vocabSize: v };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }

  /** The graph's names must match the config, or every forward would fail obscurely. */
  private checkGraph(): void {
    const want = ['input_ids', 'position_ids', 'attention_mask'];
    for (let i = 0; i < this.config.numLayers; i++)
      want.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    const missing = want.filter((n) => !this.model.inputNames.includes(n));
    const kvOut = this.kv === 'capacity' ? 'appended' : 'present';
    const outs = ['logits', ...Array.from({ length: this.config.numLayers }, (_, i) => `${kvOut}.${i}.key`)];
    const missingOut = outs.filter((n) => !this.model.outputNames.includes(n));
    if (missing.length || missingOut.length) {
      throw new RagspecError(
        `${this.model.source} does not match its config (${this.config.numLayers} layers): missing ${[...missing, ...missingOut].join(', ')}`,
        {
          code: 'bad_model',
          hint: 're-run `npx ragspec convert` (or `npx ragspec setup`)',
        },
      );
    }
  }
}

/** Whether an additive mask [S, P+S] is the ordinary causal one. */
function isCausal(mask: Float32Array, p: number, s: number): boolean {
  const total = p + s;
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < total; j++) {
      const blocked = mask[i * total + j]! <= BLOCKED_BELOW;
      if (blocked !== j > p + i) return false;
    }
  }
  return true;
}
