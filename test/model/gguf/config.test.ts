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

describe('configFromGguf range checks (finding 11)', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'context_length 0',
      { 'llama.context_length': 0 },
      /llama\.context_length is 0, expected a whole number/,
    ],
    ['context_length huge', { 'llama.context_length': 2 ** 40 }, /llama\.context_length is 1099511627776/],
    ['context_length fractional', { 'llama.context_length': 1.5 }, /context_length is 1\.5/],
    ['head_count 0', { 'llama.attention.head_count': 0 }, /attention\.head_count is 0/],
    [
      'head_count_kv not a divisor',
      { 'llama.attention.head_count_kv': 3 },
      /head_count_kv is 3, expected a divisor of the 4/,
    ],
    ['head_count_kv above heads', { 'llama.attention.head_count_kv': 8 }, /head_count_kv is 8/],
    ['vocab_size negative', { 'llama.vocab_size': -1 }, /vocab_size is -1/],
    ['vocab_size huge', { 'llama.vocab_size': 1e9 }, /vocab_size is 1000000000/],
    ['block_count huge', { 'llama.block_count': 100_000 }, /block_count is 100000/],
    ['embedding_length NaN', { 'llama.embedding_length': NaN }, /embedding_length is NaN/],
    ['feed_forward_length 0', { 'llama.feed_forward_length': 0 }, /feed_forward_length is 0/],
    ['rms eps 0', { 'llama.attention.layer_norm_rms_epsilon': 0 }, /layer_norm_rms_epsilon is 0/],
    ['rope base infinite', { 'llama.rope.freq_base': Infinity }, /rope\.freq_base is Infinity/],
    [
      'rope scaling factor huge',
      { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 1e9 },
      /rope\.scaling\.factor is 1000000000/,
    ],
  ];
  it.each(cases)('%s fails with one line naming the key and the value', (_name, patch, msg) => {
    let err: unknown;
    try {
      configFromGguf({ ...base, ...patch } as Parameters<typeof configFromGguf>[0], [], 'm.gguf');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadFileError);
    const line = (err as BadFileError).oneLine();
    expect(line).toMatch(msg);
    expect(line).not.toContain('\n');
  });

  it('still takes the in-range base config', () => {
    expect(configFromGguf(base, []).contextLength).toBe(256);
  });
});
