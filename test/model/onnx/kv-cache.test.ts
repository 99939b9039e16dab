/**
 * Exact properties of the KV-cached forward on tiny random models: incremental equals full,
 * a two-branch tree through the 4D mask equals each branch alone, and `keep` after a tree
 * continues exactly like the chosen branch alone.
 */
import { describe, expect, it } from 'vitest';
import { OnnxCausalLM } from '../../../src/model/onnx/causal-lm.ts';
import { buildLlamaGraph } from '../../../src/model/onnx/llama-graph.ts';
import type { LlamaConfig } from '../../../src/model/types.ts';
import { maxAbsDiff, propertyChecks, range } from './properties.ts';
import { randomWeights, tinyConfig } from './random-weights.ts';

async function build(
  cfg: LlamaConfig,
  quant: 'F32' | 'Q4_1',
  weights: 'fp32' | 'int4',
  layers?: number[],
  kv: 'concat' | 'capacity' = 'concat',
) {
  const w = randomWeights(cfg, 7, quant);
  const g = buildLlamaGraph(w, { weights, mask: '4d', layers, kv });
  return OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 });
}

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
    const ids = Array.from({ length: 300 }, (_, i) => (i * 13) % cfg.vocabSize);
    const a = await full.forward(ids, range(0, 300), null, full.newCache());
    const c = cap.newCache();
    const parts: Float32Array[] = [];
    for (const [from, to] of [
      [0, 250],
      [250, 251],
      [251, 300],
    ] as const) {
      parts.push((await cap.forward(ids.slice(from, to), range(from, to - from), null, c)).data);
    }
    const joined = new Float32Array(a.data.length);
    let o = 0;
    for (const x of parts) {
      joined.set(x, o);
      o += x.length;
    }
    expect(maxAbsDiff(joined, a.data)).toBeLessThanOrEqual(1e-3);
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
    const c = lm.newCache();
    await lm.forward([1, 2, 3], [0, 1, 2], null, c);
    expect(() => c.keep([2, 1])).toThrow(/ascending/);
    await lm.dispose();
  });
});
