/**
 * The Optimum / transformers.js folder layout, both ways:
 * - `exportOptimum` writes config.json, generation_config.json, tokenizer.json,
 *   tokenizer_config.json and onnx/model.onnx with the 2D int64 `attention_mask` [B, P+S]
 *   convention, so other ONNX tools (e.g. transformers.js) can run the same model.
 * - `optimumConfig` reads such a folder's config.json back into a `LlamaConfig`.
 * Weight layout: Q/K rows are un-permuted to the Hugging Face order (see linear.ts), which is
 * what `model_type: llama` means to those tools.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BadFileError } from '../../util/errors.ts';
import { loadWeights } from '../gguf/index.ts';
import { TextTokenizer } from '../tokenizer/index.ts';
import type { LlamaConfig } from '../types.ts';
import { buildLlamaGraph } from './llama-graph.ts';
import type { WeightFormat } from './linear.ts';

export interface ExportOptions {
  weights: WeightFormat;
  layers?: number[];
}

/** Export a GGUF as an Optimum-style folder. Returns the path of onnx/model.onnx. */
export async function exportOptimum(ggufPath: string, outDir: string, opts: ExportOptions): Promise<string> {
  const src = await loadWeights(ggufPath);
  const tok = await TextTokenizer.fromGguf(ggufPath);
  fs.mkdirSync(path.join(outDir, 'onnx'), { recursive: true });
  // One self-contained file (< 2 GB for the models we target): transformers.js reads it whole.
  const built = buildLlamaGraph(src, { weights: opts.weights, mask: '2d', layers: opts.layers });
  const graph = path.join(outDir, 'onnx', 'model.onnx');
  fs.writeFileSync(graph, built.bytes);
  const c = built.config;
  const eos = tok.eosIds.length > 1 ? [...tok.eosIds] : tok.eosId;
  const config = {
    architectures: [c.arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.arch,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling ? hfRopeScaling(c.ropeScaling) : null,
    tie_word_embeddings: c.tiedEmbeddings,
    hidden_act: 'silu',
    attention_bias: c.qkvBias,
    bos_token_id: tok.bosId,
    eos_token_id: eos,
    pad_token_id: tok.padId,
    torch_dtype: 'float32',
    use_cache: true,
    transformers_js_config: { dtype: 'fp32' },
    ragspec: { source: path.basename(ggufPath), weights: opts.weights, layers: built.layers, name: c.name },
  };
  fs.writeFileSync(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.writeFileSync(
    path.join(outDir, 'generation_config.json'),
    JSON.stringify({ bos_token_id: tok.bosId, eos_token_id: eos, pad_token_id: tok.padId }, null, 2) + '\n',
  );
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
  fs.writeFileSync(
    path.join(outDir, 'tokenizer_config.json'),
    JSON.stringify(tok.tokenizerConfig(), null, 2) + '\n',
  );
  return graph;
}

function hfRopeScaling(s: NonNullable<LlamaConfig['ropeScaling']>): Record<string, unknown> {
  if (s.type === 'linear') return { rope_type: 'linear', factor: s.factor };
  return {
    rope_type: s.type,
    factor: s.factor,
    original_max_position_embeddings: s.originalContextLength,
    ...(s.lowFreqFactor === undefined ? {} : { low_freq_factor: s.lowFreqFactor }),
    ...(s.highFreqFactor === undefined ? {} : { high_freq_factor: s.highFreqFactor }),
  };
}

/** LlamaConfig from an Optimum folder's config.json. */
export function optimumConfig(dir: string): LlamaConfig {
  const file = path.join(dir, 'config.json');
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new BadFileError(
      file,
      'cannot read config.json',
      'point at an Optimum/transformers.js export folder',
    );
  }
  const type = j.model_type;
  if (type !== 'llama' && type !== 'qwen2') {
    throw new BadFileError(
      file,
      `model_type ${String(type)} is not supported (llama, qwen2)`,
      'export a Llama-family model',
    );
  }
  const num = (k: string, dflt?: number): number => {
    const v = j[k];
    if (typeof v === 'number') return v;
    if (dflt !== undefined) return dflt;
    throw new BadFileError(file, `config.json lacks ${k}`, 'point at a complete export');
  };
  const heads = num('num_attention_heads');
  const hidden = num('hidden_size');
  const rs = j.rope_scaling as Record<string, number | string> | null | undefined;
  const rsType = rs ? String(rs.rope_type ?? rs.type) : null;
  return {
    arch: type,
    name: String((j.ragspec as { name?: string } | undefined)?.name ?? j._name_or_path ?? path.basename(dir)),
    vocabSize: num('vocab_size'),
    hiddenSize: hidden,
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num('num_key_value_heads', heads),
    headDim: num('head_dim', hidden / heads),
    contextLength: num('max_position_embeddings', 2048),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ...(rs && rsType === 'linear'
      ? { ropeScaling: { type: 'linear' as const, factor: Number(rs.factor) } }
      : {}),
    ...(rs && (rsType === 'yarn' || rsType === 'llama3')
      ? {
          ropeScaling: {
            type: rsType,
            factor: Number(rs.factor),
            originalContextLength: Number(rs.original_max_position_embeddings),
          },
        }
      : {}),
    tiedEmbeddings: j.tie_word_embeddings !== false,
    qkvBias: j.attention_bias === true || type === 'qwen2',
  };
}
