/** LlamaConfig from GGUF metadata (llama.cpp key names, `{arch}.` prefixed). */
import path from 'node:path';
import type { MetadataValue } from '@huggingface/gguf';
import { BadFileError } from '../../util/errors.ts';
import type { LlamaConfig } from '../types.ts';

export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'] as const;

const ARCH_HINT = `ragspec runs ${SUPPORTED_ARCHITECTURES.join(' and ')} GGUF models (Llama, SmolLM, TinyLlama, Qwen2); pick one of those`;

/**
 * What a GGUF may declare before ragspec trusts it: these values size tables, buffers and
 * graph dimensions, so a damaged or hostile file must not reach that code. Wide enough for
 * any real Llama/Qwen2 checkpoint; `[min, max]`, inclusive, whole numbers.
 */
export const METADATA_RANGES = {
  vocab_size: [1, 1 << 21],
  embedding_length: [1, 65_536],
  feed_forward_length: [1, 262_144],
  block_count: [1, 1024],
  'attention.head_count': [1, 1024],
  'attention.head_count_kv': [1, 1024],
  'attention.key_length': [1, 1024],
  context_length: [1, 1 << 21],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * @param metadata   the GGUF key/values
 * @param tensorNames every tensor name in the file (decides tied embeddings and q/k/v bias)
 * @param file       for error messages
 */
export function configFromGguf(
  metadata: Record<string, MetadataValue>,
  tensorNames: readonly string[],
  file = '<gguf>',
): LlamaConfig {
  const arch = metadata['general.architecture'];
  if (typeof arch !== 'string')
    throw new BadFileError(file, 'metadata has no general.architecture', 'this is not a model GGUF');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new BadFileError(file, `unsupported architecture '${arch}'`, ARCH_HINT);
  }
  const num = (key: string, fallback?: number): number => {
    const v = metadata[`${arch}.${key}`];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (fallback !== undefined) return fallback;
    throw new BadFileError(
      file,
      `metadata key ${arch}.${key} is missing or not a number`,
      'the file is incomplete or not a model GGUF',
    );
  };
  const outOfRange = (key: string, v: number, what: string) =>
    new BadFileError(
      file,
      `metadata ${arch}.${key} is ${v}, ${what}`,
      'the file is damaged or not a supported model GGUF',
    );
  /** A whole number within METADATA_RANGES[key]. */
  const int = (key: keyof typeof METADATA_RANGES, fallback?: number): number => {
    const v = num(key, fallback);
    const [min, max] = METADATA_RANGES[key];
    if (!Number.isInteger(v) || v < min || v > max)
      throw outOfRange(key, v, `expected a whole number from ${min} to ${max}`);
    return v;
  };
  /** A finite number in (0, max]. */
  const positive = (key: string, max: number, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isFinite(v) || v <= 0 || v > max)
      throw outOfRange(key, v, `expected a number above 0 and at most ${max}`);
    return v;
  };
  const names = new Set(tensorNames);

  const hiddenSize = int('embedding_length');
  const numHeads = int('attention.head_count');
  const headDim = int('attention.key_length', hiddenSize / numHeads);
  const numKvHeads = int('attention.head_count_kv', numHeads);
  if (numKvHeads > numHeads || numHeads % numKvHeads !== 0)
    throw outOfRange(
      'attention.head_count_kv',
      numKvHeads,
      `expected a divisor of the ${numHeads} attention heads`,
    );
  const ropeDim = num('rope.dimension_count', headDim);
  if (!Number.isInteger(headDim) || ropeDim !== headDim) {
    throw new BadFileError(
      file,
      `rotary dimension ${ropeDim} differs from head dimension ${headDim} (partial rotary)`,
      'ragspec supports full-rotary Llama/Qwen2 models only',
    );
  }
  const tokens = metadata['tokenizer.ggml.tokens'];
  if (metadata[`${arch}.vocab_size`] === undefined && !Array.isArray(tokens))
    throw new BadFileError(
      file,
      `metadata has neither ${arch}.vocab_size nor tokenizer.ggml.tokens`,
      'the file is incomplete',
    );
  const vocabSize = int('vocab_size', Array.isArray(tokens) ? tokens.length : undefined);

  const name = metadata['general.name'];
  return {
    arch: arch as LlamaConfig['arch'],
    name: typeof name === 'string' ? name : path.basename(file, '.gguf'),
    vocabSize,
    hiddenSize,
    intermediateSize: int('feed_forward_length'),
    numLayers: int('block_count'),
    numHeads,
    numKvHeads,
    headDim,
    contextLength: int('context_length'),
    rmsNormEps: positive('attention.layer_norm_rms_epsilon', 0.1),
    // llama.cpp's default when the key is absent.
    ropeTheta: positive('rope.freq_base', 1e12, 10000),
    ...ropeScaling(metadata, arch, file),
    tiedEmbeddings: !names.has('output.weight'),
    qkvBias: names.has('blk.0.attn_q.bias'),
  };
}

function ropeScaling(
  metadata: Record<string, MetadataValue>,
  arch: string,
  file: string,
): Pick<LlamaConfig, 'ropeScaling'> {
  const type = metadata[`${arch}.rope.scaling.type`];
  const factorRaw =
    metadata[`${arch}.rope.scaling.factor`] ??
    (type === 'linear' ? metadata[`${arch}.rope.scale_linear`] : undefined);
  const factor = factorRaw === undefined ? undefined : Number(factorRaw);
  if (type === undefined) {
    // Old files declare linear scaling only through rope.scale_linear.
    const lin = metadata[`${arch}.rope.scale_linear`];
    return lin !== undefined && Number(lin) !== 1
      ? { ropeScaling: { type: 'linear', factor: Number(lin) } }
      : {};
  }
  if (type === 'none' || factor === undefined || factor === 1 || factor === 0) return {};
  if (!Number.isFinite(factor) || factor < 0 || factor > 1024)
    throw new BadFileError(
      file,
      `metadata ${arch}.rope.scaling.factor is ${factor}, expected a number above 0 and at most 1024`,
      'the file is damaged or not a supported model GGUF',
    );
  if (type === 'linear') return { ropeScaling: { type: 'linear', factor } };
  if (type === 'yarn') {
    const orig = metadata[`${arch}.rope.scaling.original_context_length`];
    if (orig === undefined)
      throw new BadFileError(
        file,
        `yarn rope scaling without ${arch}.rope.scaling.original_context_length`,
        'the file is incomplete',
      );
    const originalContextLength = Number(orig);
    if (
      !Number.isInteger(originalContextLength) ||
      originalContextLength < 1 ||
      originalContextLength > 1 << 21
    )
      throw new BadFileError(
        file,
        `metadata ${arch}.rope.scaling.original_context_length is ${String(orig)}, expected a whole number from 1 to ${1 << 21}`,
        'the file is damaged or not a supported model GGUF',
      );
    return { ropeScaling: { type: 'yarn', factor, originalContextLength } };
  }
  throw new BadFileError(
    file,
    `unsupported rope scaling type '${String(type)}'`,
    'ragspec supports none, linear and yarn rope scaling',
  );
}
