/**
 * Exact properties of the KV-cached forward on tiny random models: incremental equals full,
 * a two-branch tree through the 4D mask equals each branch alone, and `keep` after a tree
 * continues exactly like the chosen branch alone.
 */
import { describe, expect, it } from 'vitest';
import { OnnxCausalLM } from '../../../src/model/onnx/causal-lm.ts';
import { buildLlamaGraph, type LlamaGraphOptions } from '../../../src/model/onnx/llama-graph.ts';
import type { LlamaConfig } from '../../../src/model/types.ts';
import { maxAbsDiff, propertyChecks, range } from './properties.ts';
import { randomWeights, tinyConfig } from './random-weights.ts';

async function build(
  cfg: LlamaConfig,
  quant: 'F32' | 'Q4_1',
  weights: 'fp32' | 'int4',
  layers?: number[],
  kv: 'concat' | 'capacity' = 'concat',
  extra: Partial<LlamaGraphOptions> = {},
) {
  const w = randomWeights(cfg, 7, quant);
  const g = buildLlamaGraph(w, { weights, mask: '4d', layers, kv, ...extra });
  return OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 });
}

/**
 * `lm` fed tokens in chunks ending at `ends` (crossing capacity steps) gives the logits of
 * one full forward of `ref`.
 */
async function expectChunkedEqualsFull(ref: OnnxCausalLM, lm: OnnxCausalLM, ends: number[]): Promise<void> {
  const n = ends[ends.length - 1]!;
  const ids = Array.from({ length: n }, (_, i) => (i * 13) % ref.config.vocabSize);
  const a = await ref.forward(ids, range(0, n), null, ref.newCache());
  const c = lm.newCache();
  const joined = new Float32Array(a.data.length);
  let from = 0;
  for (const to of ends) {
    const part = await lm.forward(ids.slice(from, to), range(from, to - from), null, c);
    joined.set(part.data, from * ref.config.vocabSize);
    from = to;
  }
  expect(maxAbsDiff(joined, a.data)).toBeLessThanOrEqual(1e-3);
}

/**
 * Every graph variant the builder can emit (beyond the KV layout): attention op, head
 * precision, int8 compute and last-row logits, alone and together (the default of setup).
 */
const VARIANTS: [string, Partial<LlamaGraphOptions>][] = [
  ['decomposed attention', {}],
  ['GroupQueryAttention', { attention: 'gqa' }],
  ['logit rows', { logitRows: true }],
  ['q8 head', { head: 'q8' }],
  ['q4 head', { head: 'q4' }],
  ['int8 compute', { int4Accuracy: 4 }],
  [
    'setup default (gqa, q8 head, int8 compute, logit rows)',
    { attention: 'gqa', head: 'q8', int4Accuracy: 4, logitRows: true },
  ],
];

describe('every graph variant keeps the exact KV properties', () => {
  for (const [name, extra] of VARIANTS) {
    for (const kv of ['concat', 'capacity'] as const) {
      it(`${name}, ${kv} KV (llama Q4_1 → int4)`, async () => {
        const lm = await build(tinyConfig(), 'Q4_1', 'int4', undefined, kv, extra);
        await propertyChecks(lm);
        await lm.dispose();
      });
    }
  }
  it('GroupQueryAttention on qwen2 (q/k/v bias), separate head, fp32', async () => {
    const cfg = tinyConfig({ arch: 'qwen2', qkvBias: true, tiedEmbeddings: false });
    const lm = await build(cfg, 'F32', 'fp32', undefined, 'capacity', { attention: 'gqa', logitRows: true });
    await propertyChecks(lm);
    await lm.dispose();
  });
  it('GroupQueryAttention grows its in-place cache past the first capacity step', async () => {
    const cfg = tinyConfig({ contextLength: 1024 });
    const ref = await build(cfg, 'F32', 'fp32', undefined, 'concat');
    const gqa = await build(cfg, 'F32', 'fp32', undefined, 'capacity', { attention: 'gqa' });
    await expectChunkedEqualsFull(ref, gqa, [60, 64, 65, 300]);
    await ref.dispose();
    await gqa.dispose();
  });
});

describe('KV-cached forward on tiny random models', () => {
  const cases: [string, LlamaConfig, 'F32' | 'Q4_1', 'fp32' | 'int4'][] = [
    ['llama fp32', tinyConfig(), 'F32', 'fp32'],
    ['llama Q4_1 → int4', tinyConfig(), 'Q4_1', 'int4'],
    [
      'qwen2 (q/k/v bias), separate head',
      tinyConfig({ arch: 'qwen2', qkvBias: true, tiedEmbeddings: false }),
      'F32',
      'fp32',
    ],
  ];
  for (const [name, cfg, quant, weights] of cases) {
    for (const kv of ['concat', 'capacity'] as const) {
      it(`${name}, ${kv} KV`, async () => {
        const lm = await build(cfg, quant, weights, undefined, kv);
        await propertyChecks(lm);
        await lm.dispose();
      });
    }
  }

  it('capacity KV: growing past the first capacity step matches one full forward', async () => {
    const cfg = tinyConfig({ contextLength: 1024 });
    const full = await build(cfg, 'F32', 'fp32', undefined, 'concat');
    const cap = await build(cfg, 'F32', 'fp32', undefined, 'capacity');
    await expectChunkedEqualsFull(full, cap, [250, 251, 300]);
    await full.dispose();
    await cap.dispose();
  });

  it('a layer subset (self-draft) keeps embeddings and head and the same properties', async () => {
    const lm = await build(tinyConfig({ numLayers: 3 }), 'F32', 'fp32', [0, 2], 'capacity');
    expect(lm.config.numLayers).toBe(2);
    await propertyChecks(lm);
    await lm.dispose();
  });

  it('rejects bad feeds with a message naming the problem', async () => {
    const lm = await build(tinyConfig(), 'F32', 'fp32');
    await expect(lm.forward([1, 2], [0], null, lm.newCache())).rejects.toThrow(/2 tokens but 1 positions/);
    await expect(lm.forward([999], [0], null, lm.newCache())).rejects.toThrow(/outside the vocabulary/);
    await expect(lm.forward([1, 2], [0, 1], new Float32Array(3), lm.newCache())).rejects.toThrow(
      /mask has 3 values/,
    );
    await expect(lm.forward([1, 2], [0, 1], null, lm.newCache(), { logitRows: [2] })).rejects.toThrow(
      /logit row 2 is outside 0..1/,
    );
    const c = lm.newCache();
    await lm.forward([1, 2, 3], [0, 1, 2], null, c);
    expect(() => c.keep([2, 1])).toThrow(/ascending/);
    await lm.dispose();
  });
});
