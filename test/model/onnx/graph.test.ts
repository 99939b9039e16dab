import { describe, expect, it } from 'vitest';
import { OnnxCausalLM } from '../../../src/model/onnx/causal-lm.ts';
import { buildLlamaGraph } from '../../../src/model/onnx/llama-graph.ts';
import type { LlamaConfig } from '../../../src/model/types.ts';
import { randomWeights, referenceForward, tinyConfig } from './random-weights.ts';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function load(
  cfg: LlamaConfig,
  quant: 'F32' | 'Q4_1',
  weights: 'fp32' | 'int4',
  fusedOps: boolean,
  seed = 3,
  attention: 'decomposed' | 'gqa' = 'decomposed',
) {
  const w = randomWeights(cfg, seed, quant);
  const g = buildLlamaGraph(w, { weights, mask: '4d', fusedOps, attention });
  return { w, lm: await OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 }) };
}

const tokens = [5, 17, 3, 42, 8, 8, 61, 0, 33];
const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

describe('llama graph vs plain-JS reference', () => {
  const cases: [string, LlamaConfig, 'F32' | 'Q4_1', 'fp32' | 'int4'][] = [
    ['llama fp32', tinyConfig(), 'F32', 'fp32'],
    ['qwen2 bias', tinyConfig({ arch: 'qwen2', qkvBias: true }), 'F32', 'fp32'],
    ['separate head', tinyConfig({ tiedEmbeddings: false }), 'F32', 'fp32'],
    ['Q4_1 as int4', tinyConfig({ tiedEmbeddings: false }), 'Q4_1', 'int4'],
    ['Q4_1 as fp32', tinyConfig({ arch: 'qwen2', qkvBias: true }), 'Q4_1', 'fp32'],
  ];
  for (const [name, cfg, quant, weights] of cases) {
    it(`${name} (GroupQueryAttention)`, async () => {
      const { w, lm } = await load(cfg, quant, weights, true, 3, 'gqa');
      const ref = referenceForward(w, tokens);
      const out = await lm.forward(tokens, range(0, tokens.length), null, lm.newCache());
      expect(maxAbsDiff(out.data, ref)).toBeLessThan(1e-3);
      await lm.dispose();
    });
    for (const fused of [true, false]) {
      it(`${name}${fused ? '' : ' (plain ai.onnx ops)'}`, async () => {
        const { w, lm } = await load(cfg, quant, weights, fused);
        const ref = referenceForward(w, tokens);
        const out = await lm.forward(tokens, range(0, tokens.length), null, lm.newCache());
        expect(maxAbsDiff(out.data, ref)).toBeLessThan(1e-3);
        await lm.dispose();
      });
    }
  }
});

describe('rope scaling', () => {
  it('linear scaling by 2 at positions 0,2,4,… equals no scaling at 0,1,2,…', async () => {
    const w = randomWeights(tinyConfig(), 11);
    const scaledSrc = { ...w, config: { ...w.config, ropeScaling: { type: 'linear' as const, factor: 2 } } };
    const plain = await OnnxCausalLM.load(
      buildLlamaGraph(w, { weights: 'fp32', mask: '4d' }).bytes,
      w.config,
      { intraOpThreads: 1 },
    );
    const g = buildLlamaGraph(scaledSrc, { weights: 'fp32', mask: '4d' });
    const scaled = await OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 });
    const a = await plain.forward(tokens, range(0, tokens.length), null, plain.newCache());
    const b = await scaled.forward(
      tokens,
      tokens.map((_, i) => 2 * i),
      null,
      scaled.newCache(),
    );
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-4);
    await plain.dispose();
    await scaled.dispose();
  });
});
