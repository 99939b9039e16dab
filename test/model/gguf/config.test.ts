/** LlamaConfig from GGUF metadata: the real SmolLM2 file and metadata edge cases. */
import { describe, expect, it } from 'vitest';
import { configFromGguf } from '../../../src/model/gguf/config.ts';
import { loadWeights } from '../../../src/model/gguf/reader.ts';
import { BadFileError } from '../../../src/util/errors.ts';
import { targetGguf } from '../../helpers/assets.ts';

const base = {
  'general.architecture': 'llama',
  'llama.block_count': 2,
  'llama.context_length': 256,
  'llama.embedding_length': 64,
  'llama.feed_forward_length': 128,
  'llama.attention.head_count': 4,
  'llama.attention.layer_norm_rms_epsilon': 1e-6,
  'llama.vocab_size': 300,
};

describe('configFromGguf', () => {
  it('reads SmolLM2-135M-Instruct as the model card states', async () => {
    const w = await loadWeights(targetGguf());
    expect(w.config).toMatchObject({
      arch: 'llama',
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      contextLength: 8192,
      ropeTheta: 100000,
      tiedEmbeddings: true,
      qkvBias: false,
    });
    expect(w.config.rmsNormEps).toBeCloseTo(1e-5, 10);
    expect(w.config.ropeScaling).toBeUndefined();
    // Q4_1 weights, Q8_0 token embedding, F32 norms.
    expect(w.raw('blk.0.attn_q.weight').type).toBe('Q4_1');
    expect(w.raw('token_embd.weight').type).toBe('Q8_0');
    expect(w.raw('output_norm.weight').type).toBe('F32');
  });

  it('fills llama.cpp defaults: kv heads = heads, theta 10000, vocab from the token list', () => {
    const { 'llama.vocab_size': _, ...noVocab } = base;
    const c = configFromGguf({ ...noVocab, 'tokenizer.ggml.tokens': ['a', 'b', 'c'] }, [
      'token_embd.weight',
      'output.weight',
    ]);
    expect(c).toMatchObject({
      numKvHeads: 4,
      headDim: 16,
      ropeTheta: 10000,
      vocabSize: 3,
      tiedEmbeddings: false,
      qkvBias: false,
    });
  });

  it('reads rope scaling: linear, yarn, none', () => {
    expect(
      configFromGguf({ ...base, 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 }, [])
        .ropeScaling,
    ).toEqual({ type: 'linear', factor: 4 });
    expect(
      configFromGguf(
        {
          ...base,
          'llama.rope.scaling.type': 'yarn',
          'llama.rope.scaling.factor': 4,
          'llama.rope.scaling.original_context_length': 32768,
        },
        [],
      ).ropeScaling,
    ).toEqual({ type: 'yarn', factor: 4, originalContextLength: 32768 });
    expect(
      configFromGguf({ ...base, 'llama.rope.scaling.type': 'none', 'llama.rope.scaling.factor': 1 }, [])
        .ropeScaling,
    ).toBeUndefined();
    expect(configFromGguf({ ...base, 'llama.rope.scale_linear': 2 }, []).ropeScaling).toEqual({
      type: 'linear',
      factor: 2,
    });
  });

  it('qwen2: q/k/v bias from the tensors', () => {
    const q = Object.fromEntries(Object.entries(base).map(([k, v]) => [k.replace(/^llama\./, 'qwen2.'), v]));
    const c = configFromGguf({ ...q, 'general.architecture': 'qwen2' }, ['blk.0.attn_q.bias']);
    expect(c).toMatchObject({ arch: 'qwen2', qkvBias: true, tiedEmbeddings: true });
  });

  it('refuses missing keys, partial rotary and unknown rope scaling with one-line errors', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...base, 'llama.block_count': undefined },
        /m\.gguf: metadata key llama\.block_count is missing or not a number — /,
      ],
      [{ ...base, 'llama.rope.dimension_count': 8 }, /rotary dimension 8 differs from head dimension 16/],
      [
        { ...base, 'llama.rope.scaling.type': 'longrope', 'llama.rope.scaling.factor': 2 },
        /unsupported rope scaling type 'longrope'/,
      ],
      [
        { ...base, 'general.architecture': 'gemma2' },
        /unsupported architecture 'gemma2' — ragspec runs llama and qwen2/,
      ],
    ];
    for (const [meta, re] of cases) {
      const clean = Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as Parameters<
        typeof configFromGguf
      >[0];
      try {
        configFromGguf(clean, [], 'm.gguf');
        throw new Error('expected an error');
      } catch (err) {
        expect(err).toBeInstanceOf(BadFileError);
        expect((err as BadFileError).oneLine()).toMatch(re);
      }
    }
  });
});
