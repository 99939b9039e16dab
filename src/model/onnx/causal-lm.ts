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
  type BatchedLM,
  type KvCache,
  type LlamaConfig,
  type Logits,
} from '../types.ts';
import type { GraphKvCache, KvLayout } from './kv-binding.ts';
import { CapacityKvCache, InPlaceKvCache } from './kv-capacity.ts';
import { OnnxKvCache } from './kv-cache.ts';
import { BatchForward } from './batch-forward.ts';
import { checkForward } from './forward-checks.ts';
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
    this.kv = model.outputNames.includes('appended.0.key')
      ? 'capacity'
      : model.outputDims('present.0.key')?.[2] === 'capacity'
        ? 'inplace'
        : 'concat';
    // Batching: only the capacity layout with the 4D mask (its graph takes B > 1 as built;
    // GroupQueryAttention's seqlens and the concat layout's present outputs do not).
    this.capabilities = { treeMask: mask === '4d', batch: this.kv === 'capacity' && mask === '4d' };
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
    const rows = opts.logitRows ?? null;
    checkForward(this.config, tokens, positions, mask, p, rows);
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

  newBatch(maxBatch: number): BatchedLM {
    if (!this.capabilities.batch)
      throw new RagspecError(`${this.model.source} cannot run a batch of requests (KV layout ${this.kv})`, {
        code: 'batch_unsupported',
        kind: 'bad_input',
        hint: 're-run `npx ragspec convert` (decomposed attention, capacity KV cache), or set batching.maxBatch to 1',
      });
    return new BatchForward(this.model, this.config, maxBatch, this.hasLogitRows, MASK_BLOCKED);
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
