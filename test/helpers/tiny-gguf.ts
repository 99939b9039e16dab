/**
 * Tiny random-weight GGUF models for exact property tests (incremental == full forward,
 * tree == branches, speculative == autoregressive). Written by code, never committed.
 *
 * Usage:
 *   const tiny = writeTinyLlamaGguf(path.join(tmpDir, 'tiny.gguf'));            // llama, tied
 *   const q = writeTinyLlamaGguf(p, { arch: 'qwen2', tied: false, seed: 7 });    // q/k/v biases, output.weight
 *   tiny.config  // the LlamaConfig the reader will derive
 *
 * Defaults: 2 layers, hidden 64, 4 heads, 2 KV heads (head dim 16), ffn 128, context 256,
 * rope theta 10000, rms eps 1e-5, seed 1. Tensor types mix F16, Q8_0 and Q4_1 (issue 2):
 * token_embd Q8_0, attention F16, FFN Q4_1, output.weight (untied) Q8_0, norms and biases F32.
 *
 * Tokenizer: a real byte-level BPE vocabulary in SmolLM2's layout — ids 0..2 are the control
 * tokens `<|endoftext|>`, `<|im_start|>` (bos), `<|im_end|>` (eos); ids 3..258 are the 256
 * GPT-2 byte chars in byte order; then a few merged tokens (ids 259..) with their merges.
 * The chat template is SmolLM2's ChatML template.
 */
import { writeGguf, type GgufWriteTensor, type GgufWriteValue } from '../../src/model/gguf/writer.ts';
import type { QuantizableType } from '../../src/model/gguf/quantize.ts';
import { BYTE_TO_CHAR } from '../../src/model/tokenizer/byte-level.ts';
import type { LlamaConfig } from '../../src/model/types.ts';

export interface TinyGgufOptions {
  /** 'qwen2' adds q/k/v biases. Default 'llama'. */
  arch?: 'llama' | 'qwen2';
  /** Tied embeddings (no output.weight). Default true. */
  tied?: boolean;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  context?: number;
  ropeTheta?: number;
  /** Written as `{arch}.rope.scaling.type = linear` + factor. */
  ropeLinearScale?: number;
  seed?: number;
  /** Include the extra merged tokens and merges (default true). */
  merges?: boolean;
  /** Per-role tensor types; defaults as in the file comment. */
  types?: Partial<Record<'embedding' | 'attention' | 'ffn' | 'output' | 'norm', QuantizableType>>;
  /** tokenizer.ggml.pre (default 'smollm'). */
  pre?: string;
  /** Overrides general.architecture only (for bad-input tests, e.g. 'mamba'). */
  architectureName?: string;
  /** Extra or overriding metadata. */
  extraMetadata?: Record<string, GgufWriteValue>;
  /** Extra tensors appended after the model's (e.g. an unsupported quant type for bad-input tests). */
  extraTensors?: GgufWriteTensor[];
}

export interface TinyGguf {
  path: string;
  config: LlamaConfig;
  /** Token strings in id order. */
  tokens: string[];
}

export const TINY_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
/** Extra merged tokens, each the merge of the pair listed in TINY_MERGES at the same index. */
const EXTRA_TOKENS = ['Ġt', 'he', 'Ġthe', 'in', 'er', 'Ġa'];
export const TINY_MERGES = ['Ġ t', 'h e', 'Ġt he', 'i n', 'e r', 'Ġ a'];

/** SmolLM2-135M-Instruct's chat template, byte for byte. */
export const SMOLLM2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** Deterministic PRNG (mulberry32) so fixtures are identical run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tinyTokens(withMerges = true): string[] {
  return [...TINY_SPECIAL_TOKENS, ...BYTE_TO_CHAR, ...(withMerges ? EXTRA_TOKENS : [])];
}

export function writeTinyLlamaGguf(file: string, opts: TinyGgufOptions = {}): TinyGguf {
  const arch = opts.arch ?? 'llama';
  const tied = opts.tied ?? true;
  const L = opts.layers ?? 2;
  const H = opts.hidden ?? 64;
  const nh = opts.heads ?? 4;
  const nkv = opts.kvHeads ?? 2;
  const F = opts.ffn ?? 128;
  const ctx = opts.context ?? 256;
  const theta = opts.ropeTheta ?? 10000;
  const hd = H / nh;
  const kvDim = nkv * hd;
  const withMerges = opts.merges ?? true;
  const tokens = tinyTokens(withMerges);
  const V = tokens.length;
  const types = {
    embedding: 'Q8_0',
    attention: 'F16',
    ffn: 'Q4_1',
    output: 'Q8_0',
    norm: 'F32',
    ...opts.types,
  } as const;
  const rand = seededRandom(opts.seed ?? 1);
  const gauss = (): number => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const tensors: GgufWriteTensor[] = [];
  // A weight [out, in] is stored with ne = [in, out]; std 1/sqrt(in) keeps activations O(1).
  const weight = (
    name: string,
    inDim: number,
    outDim: number,
    type: QuantizableType,
    std = 1 / Math.sqrt(inDim),
  ): void => {
    const values = new Float32Array(inDim * outDim);
    for (let i = 0; i < values.length; i++) values[i] = gauss() * std;
    tensors.push({ name, ne: [inDim, outDim], type, values });
  };
  const vector = (name: string, n: number, mean: number, std: number): void => {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = mean + gauss() * std;
    tensors.push({ name, ne: [n], type: types.norm, values });
  };

  weight('token_embd.weight', H, V, types.embedding, 1);
  for (let i = 0; i < L; i++) {
    vector(`blk.${i}.attn_norm.weight`, H, 1, 0.1);
    weight(`blk.${i}.attn_q.weight`, H, H, types.attention);
    weight(`blk.${i}.attn_k.weight`, H, kvDim, types.attention);
    weight(`blk.${i}.attn_v.weight`, H, kvDim, types.attention);
    if (arch === 'qwen2') {
      vector(`blk.${i}.attn_q.bias`, H, 0, 0.1);
      vector(`blk.${i}.attn_k.bias`, kvDim, 0, 0.1);
      vector(`blk.${i}.attn_v.bias`, kvDim, 0, 0.1);
    }
    weight(`blk.${i}.attn_output.weight`, H, H, types.attention);
    vector(`blk.${i}.ffn_norm.weight`, H, 1, 0.1);
    weight(`blk.${i}.ffn_gate.weight`, H, F, types.ffn);
    weight(`blk.${i}.ffn_up.weight`, H, F, types.ffn);
    weight(`blk.${i}.ffn_down.weight`, F, H, types.ffn);
  }
  vector('output_norm.weight', H, 1, 0.1);
  if (!tied) weight('output.weight', H, V, types.output);
  tensors.push(...(opts.extraTensors ?? []));

  const f32 = (value: number): GgufWriteValue => ({ type: 'FLOAT32', value });
  const metadata: Record<string, GgufWriteValue> = {
    'general.architecture': opts.architectureName ?? arch,
    'general.name': `tiny-${arch}`,
    [`${arch}.block_count`]: L,
    [`${arch}.context_length`]: ctx,
    [`${arch}.embedding_length`]: H,
    [`${arch}.feed_forward_length`]: F,
    [`${arch}.attention.head_count`]: nh,
    [`${arch}.attention.head_count_kv`]: nkv,
    [`${arch}.rope.freq_base`]: f32(theta),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(1e-5),
    [`${arch}.vocab_size`]: V,
    [`${arch}.rope.dimension_count`]: hd,
    ...(opts.ropeLinearScale
      ? {
          [`${arch}.rope.scaling.type`]: 'linear',
          [`${arch}.rope.scaling.factor`]: f32(opts.ropeLinearScale),
        }
      : {}),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': opts.pre ?? 'smollm',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': {
      type: 'INT32',
      value: tokens.map((_, id) => (id < TINY_SPECIAL_TOKENS.length ? 3 : 1)),
    },
    'tokenizer.ggml.merges': { type: 'STRING', value: withMerges ? TINY_MERGES : [] },
    'tokenizer.ggml.bos_token_id': 1,
    'tokenizer.ggml.eos_token_id': 2,
    'tokenizer.ggml.unknown_token_id': 0,
    'tokenizer.ggml.padding_token_id': 2,
    'tokenizer.ggml.add_bos_token': false,
    'tokenizer.chat_template': SMOLLM2_CHAT_TEMPLATE,
    ...opts.extraMetadata,
  };
  writeGguf(file, { metadata, tensors });

  const config: LlamaConfig = {
    arch,
    name: `tiny-${arch}`,
    vocabSize: V,
    hiddenSize: H,
    intermediateSize: F,
    numLayers: L,
    numHeads: nh,
    numKvHeads: nkv,
    headDim: hd,
    contextLength: ctx,
    rmsNormEps: Math.fround(1e-5),
    ropeTheta: theta,
    ...(opts.ropeLinearScale
      ? { ropeScaling: { type: 'linear' as const, factor: opts.ropeLinearScale } }
      : {}),
    tiedEmbeddings: tied,
    qkvBias: arch === 'qwen2',
  };
  return { path: file, config, tokens };
}
