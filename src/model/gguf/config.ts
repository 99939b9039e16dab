/** LlamaConfig from GGUF metadata (llama.cpp key names, `{arch}.` prefixed). */
import path from 'node:path';
import type { MetadataValue } from '@huggingface/gguf';
import { BadFileError } from '../../util/errors.ts';
import type { LlamaConfig } from '../types.ts';

export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'] as const;

const ARCH_HINT = `ragspec runs ${SUPPORTED_ARCHITECTURES.join(' and ')} GGUF models (Llama, SmolLM, TinyLlama, Qwen2); pick one of those`;

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
  const names = new Set(tensorNames);

  const hiddenSize = num('embedding_length');
  const numHeads = num('attention.head_count');
  const headDim = num('attention.key_length', hiddenSize / numHeads);
  const ropeDim = num('rope.dimension_count', headDim);
  if (!Number.isInteger(headDim) || ropeDim !== headDim) {
    throw new BadFileError(
      file,
      `rotary dimension ${ropeDim} differs from head dimension ${headDim} (partial rotary)`,
      'ragspec supports full-rotary Llama/Qwen2 models only',
    );
  }
  const tokens = metadata['tokenizer.ggml.tokens'];
  const vocabSize = num('vocab_size', Array.isArray(tokens) ? tokens.length : NaN);
  if (!Number.isFinite(vocabSize))
    throw new BadFileError(
      file,
      `metadata has neither ${arch}.vocab_size nor tokenizer.ggml.tokens`,
      'the file is incomplete',
    );

  const name = metadata['general.name'];
  return {
    arch: arch as LlamaConfig['arch'],
    name: typeof name === 'string' ? name : path.basename(file, '.gguf'),
    vocabSize,
    hiddenSize,
    intermediateSize: num('feed_forward_length'),
    numLayers: num('block_count'),
    numHeads,
    numKvHeads: num('attention.head_count_kv', numHeads),
    headDim,
    contextLength: num('context_length'),
    rmsNormEps: num('attention.layer_norm_rms_epsilon'),
    // llama.cpp's default when the key is absent.
    ropeTheta: num('rope.freq_base', 10000),
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
  if (type === 'linear') return { ropeScaling: { type: 'linear', factor } };
  if (type === 'yarn') {
    const orig = metadata[`${arch}.rope.scaling.original_context_length`];
    if (orig === undefined)
      throw new BadFileError(
        file,
        `yarn rope scaling without ${arch}.rope.scaling.original_context_length`,
        'the file is incomplete',
      );
    return { ropeScaling: { type: 'yarn', factor, originalContextLength: Number(orig) } };
  }
  throw new BadFileError(
    file,
    `unsupported rope scaling type '${String(type)}'`,
    'ragspec supports none, linear and yarn rope scaling',
  );
}
