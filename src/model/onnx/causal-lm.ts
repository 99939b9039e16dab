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
  type ForwardOptions,
  type KvCache,
  type LlamaConfig,
  type Logits,
} from '../types.ts';
import type { GraphKvCache, KvLayout } from './kv-binding.ts';
import { CapacityKvCache, InPlaceKvCache } from './kv-capacity.ts';
import { OnnxKvCache } from './kv-cache.ts';
import { OrtModel, type HostTensor, type SessionOptions } from './session.ts';

export type MaskConvention = '4d' | '2d';

export interface OnnxCausalLMOptions extends SessionOptions {
  mask?: MaskConvention;
}

/** Additive values at or below this count as "blocked" when checking a chain mask. */
const BLOCKED_BELOW = -1e4;

export class OnnxCausalLM implements CausalLM {
  readonly capabilities: CausalLMCapabilities;
  /** How the graph takes and returns the KV cache (see kv-binding.ts and llama-graph.ts). */
  readonly kv: KvLayout;
  /** The graph computes logits only for the rows fed as `logit_rows` (see llama-graph.ts). */
  private readonly hasLogitRows: boolean;

  private constructor(
    private readonly model: OrtModel,
    readonly config: LlamaConfig,
    private readonly mask: MaskConvention,
  ) {
    this.capabilities = { treeMask: mask === '4d' };
    this.kv = model.outputNames.includes('appended.0.key')
      ? 'capacity'
      : model.outputDims('present.0.key')?.[2] === 'capacity'
        ? 'inplace'
        : 'concat';
    this.hasLogitRows = model.inputNames.includes('logit_rows');
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

  newCache(): GraphKvCache {
    const { numLayers, numKvHeads, headDim } = this.config;
    if (this.kv === 'capacity') return new CapacityKvCache(numLayers, numKvHeads, headDim, MASK_BLOCKED);
    if (this.kv === 'inplace') return new InPlaceKvCache(numLayers, numKvHeads, headDim, MASK_BLOCKED);
    return new OnnxKvCache(numLayers, numKvHeads, headDim);
  }

  async forward(
    tokens: readonly number[],
    positions: readonly number[],
    mask: Float32Array | null,
    cache: KvCache,
    opts: ForwardOptions = {},
  ): Promise<Logits> {
    if (!isGraphKv(cache) || cache.layout !== this.kv || cache.numLayers !== this.config.numLayers) {
      throw new RagspecError('forward: the KV cache was not made by this model (use model.newCache())', {
        code: 'bad_cache',
      });
    }
    const s = tokens.length;
    const p = cache.length;
    const total = p + s;
    const v = this.config.vocabSize;
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
    const rows = opts.logitRows ?? null;
    if (rows) {
      for (const r of rows)
        if (!Number.isInteger(r) || r < 0 || r >= s)
          throw new RagspecError(`forward: logit row ${r} is outside 0..${s - 1}`, { code: 'bad_forward' });
    }
    if (this.mask === '2d' && mask && !isCausal(mask, p, s)) {
      throw new RagspecError(
        `${this.model.source} only runs causal chains (2D attention_mask, Optimum export); this forward needs a tree mask`,
        {
          code: 'tree_mask_unsupported',
          hint: 'use a model converted by `ragspec convert`, or verify one chain of drafts at a time',
        },
      );
    }
    const kv = cache.bind(mask ?? causalMask(p, s), s);
    const feeds: Record<string, HostTensor> = {
      input_ids: { type: 'int64', data: BigInt64Array.from(tokens, BigInt), dims: [1, s] },
      position_ids: { type: 'int64', data: BigInt64Array.from(positions, BigInt), dims: [1, s] },
      ...kv.past,
    };
    if (this.mask === '4d') {
      feeds.attention_mask = { type: 'float32', data: kv.mask, dims: [1, 1, s, kv.cols] };
    } else {
      feeds.attention_mask = { type: 'int64', data: new BigInt64Array(kv.cols).fill(1n), dims: [1, kv.cols] };
    }
    this.feedRows(feeds, s, rows);
    const out = await this.model.run(feeds, undefined, kv.into);
    cache.absorb(out, s);
    return this.pickRows(out.logits!.data as Float32Array, s, rows);
  }

  /** Feed `logit_rows` when the graph has it (every row unless the caller asked for fewer). */
  private feedRows(feeds: Record<string, HostTensor>, s: number, rows: readonly number[] | null): void {
    if (!this.hasLogitRows) return;
    const r = rows ?? Array.from({ length: s }, (_, i) => i);
    feeds.logit_rows = { type: 'int64', data: BigInt64Array.from(r, BigInt), dims: [r.length] };
  }

  /** Logits of the rows asked for: the graph computed only those, or all S and we slice. */
  private pickRows(data: Float32Array, s: number, rows: readonly number[] | null): Logits {
    const v = this.config.vocabSize;
    if (!rows || this.hasLogitRows) return { data, rows: rows?.length ?? s, vocabSize: v };
    const out = new Float32Array(rows.length * v);
    rows.forEach((r, i) => out.set(data.subarray(r * v, (r + 1) * v), i * v));
    return { data: out, rows: rows.length, vocabSize: v };
  }

  /** Flush onnxruntime's per-op profile (loaded with `profilePrefix`). */
  endProfiling(): void {
    this.model.endProfiling();
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

function isGraphKv(cache: KvCache): cache is GraphKvCache {
  return typeof (cache as Partial<GraphKvCache>).bind === 'function' && 'layout' in cache;
}
