/**
 * GGUF → ONNX conversion into a model folder:
 *
 *   <outDir>/ragspec-model.json     manifest: source GGUF sha256, LlamaConfig, one entry per variant
 *   <outDir>/<variant>.onnx         graph (4D mask; capacity KV cache, see onnx/llama-graph.ts)
 *   <outDir>/<variant>.onnx.data    its initializers (external data)
 *   <outDir>/tokenizer.json         from the GGUF's tokenizer metadata (+ tokenizer_config.json)
 *
 * Variants accumulate in one folder (e.g. `fp32`, `int4`, `draft-int4`) as long as they come
 * from the same GGUF; converting a different GGUF into the folder starts a fresh manifest.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadWeights } from './gguf/index.ts';
import { buildLlamaGraph, type AttentionOp } from './onnx/llama-graph.ts';
import type { HeadFormat, Int4Accuracy, WeightFormat } from './onnx/linear.ts';
import { TextTokenizer } from './tokenizer/index.ts';
import type { LlamaConfig } from './types.ts';
import { RagspecError } from '../util/errors.ts';

export const MANIFEST = 'ragspec-model.json';

/**
 * Version of the graphs `buildLlamaGraph` emits. Bump it when a conversion made by an older
 * builder should be redone (setup compares it); older graphs still load and run.
 * 2: fused RotaryEmbedding/SkipSimplifiedLayerNormalization and the capacity KV cache.
 * 3: graph options (GroupQueryAttention with an in-place KV cache, Q8_0 head, int8 compute,
 *    logits only for the rows asked for) recorded per variant.
 */
export const GRAPH_BUILDER_VERSION = 3;

/** The graph-builder choices of a variant (see onnx/llama-graph.ts and onnx/linear.ts). */
export interface GraphOptions {
  attention: AttentionOp;
  /** Output head precision. */
  head: HeadFormat;
  /** MatMulNBits accuracy_level of the int4 layers: 0 = fp32 compute, 4 = int8 compute. */
  accuracy: Int4Accuracy;
  /** accuracy_level of a quantised head (8-bit MatMulNBits is only fast with 4). */
  headAccuracy: Int4Accuracy;
  /** Logits only for the rows the caller asks for (prefill: its last row). */
  logitRows: boolean;
}

/**
 * The defaults, chosen by measurement (docs/BENCHMARKS.md, Model):
 * - the GGUF's own Q8_0 head as 8-bit MatMulNBits with int8 compute: a quarter of the fp32
 *   head's bytes, and its logits do not depend on S (|Δ| ≤ 6e-5 between S = 1 and S = 40);
 * - logits only for the rows asked for: prefill runs the head once per chunk;
 * - decomposed attention over the capacity KV cache: GroupQueryAttention (in-place cache)
 *   cost 4-6 ms more per decode step on this CPU;
 * - fp32 compute in the int4 layers: with int8 compute onnxruntime's kernels give different
 *   logits for different S (|Δ| up to 1.6 on SmolLM2, argmax flips), so a draft tree could
 *   flip a near-tie that plain decoding does not.
 * fp32 weights stay the fp32 reference.
 */
export function defaultGraph(weights: WeightFormat): GraphOptions {
  return weights === 'int4'
    ? { attention: 'decomposed', head: 'q8', accuracy: 0, headAccuracy: 4, logitRows: true }
    : { attention: 'decomposed', head: 'fp32', accuracy: 0, headAccuracy: 0, logitRows: true };
}

export interface VariantEntry {
  /** Graph file name inside the folder. */
  file: string;
  weights: WeightFormat;
  /** Source layer indices kept, in order. */
  layers: number[];
  /** Config of this graph (numLayers = layers.length). */
  config: LlamaConfig;
  /** GRAPH_BUILDER_VERSION that wrote it (absent: version 1). */
  builder?: number;
  /** The graph-builder choices (absent before version 3). */
  graph?: GraphOptions;
}

export interface ModelManifest {
  format: 1;
  source: { file: string; sha256: string };
  /** Config of the full source model. */
  config: LlamaConfig;
  /** tokenizer.json (tokenizer_config.json beside it). */
  tokenizer: string;
  variants: Record<string, VariantEntry>;
}

export interface ConvertOptions {
  /** Source layers to keep (self-drafting model); default all. */
  layers?: number[];
  weights: WeightFormat;
  /** Variant name; default `fp32`/`int4`, or `draft-<weights>` for a layer subset. */
  name?: string;
  /** Graph-builder choices; each unset one takes `defaultGraph(weights)`'s. */
  graph?: Partial<GraphOptions>;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface ConvertResult {
  dir: string;
  variant: string;
  file: string;
  entry: VariantEntry;
  seconds: number;
}

export async function convertGguf(
  ggufPath: string,
  outDir: string,
  opts: ConvertOptions,
): Promise<ConvertResult> {
  const t0 = performance.now();
  const src = await loadWeights(ggufPath);
  const layers = opts.layers ?? Array.from({ length: src.config.numLayers }, (_, i) => i);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= src.config.numLayers) {
      throw new RagspecError(
        `layer ${l} does not exist: ${path.basename(ggufPath)} has layers 0..${src.config.numLayers - 1}`,
        {
          code: 'bad_layers',
          kind: 'bad_input',
        },
      );
    }
  }
  const full = !opts.layers || (layers.length === src.config.numLayers && layers.every((l, i) => l === i));
  const variant = opts.name ?? (full ? opts.weights : `draft-${opts.weights}`);
  if (!/^[A-Za-z0-9._-]+$/.test(variant))
    throw new RagspecError(`variant name "${variant}" may only use letters, digits, . _ -`, {
      code: 'bad_name',
      kind: 'bad_input',
    });
  fs.mkdirSync(outDir, { recursive: true });

  opts.onProgress?.('checksum', 0, 1);
  const sha256 = await fileSha256(ggufPath);
  const file = `${variant}.onnx`;
  const graphPath = path.join(outDir, file);
  const tmpGraph = `${graphPath}.tmp`;
  const graph: GraphOptions = { ...defaultGraph(opts.weights), ...opts.graph };
  const built = buildLlamaGraph(src, {
    layers,
    weights: opts.weights,
    mask: '4d',
    kv: 'capacity',
    attention: graph.attention,
    head: graph.head,
    int4Accuracy: graph.accuracy,
    headAccuracy: graph.headAccuracy,
    logitRows: graph.logitRows,
    externalData: path.join(outDir, `${file}.data`),
    onProgress: (done, total) => opts.onProgress?.('layers', done, total),
  });
  fs.writeFileSync(tmpGraph, built.bytes);
  fs.renameSync(tmpGraph, graphPath);

  await writeTokenizerFiles(ggufPath, outDir);
  const entry: VariantEntry = {
    file,
    weights: opts.weights,
    layers,
    config: built.config,
    builder: GRAPH_BUILDER_VERSION,
    graph,
  };
  const manifest = readManifestIfSame(outDir, sha256) ?? {
    format: 1,
    source: { file: path.basename(ggufPath), sha256 },
    config: src.config,
    tokenizer: 'tokenizer.json',
    variants: {},
  };
  manifest.tokenizer = 'tokenizer.json';
  manifest.variants[variant] = entry;
  const manifestPath = path.join(outDir, MANIFEST);
  fs.writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(`${manifestPath}.tmp`, manifestPath);
  opts.onProgress?.('done', 1, 1);
  return { dir: outDir, variant, file: graphPath, entry, seconds: (performance.now() - t0) / 1000 };
}

/** The manifest of a converted model folder, or null when there is none. */
export function readManifest(dir: string): ModelManifest | null {
  const p = path.join(dir, MANIFEST);
  if (!fs.existsSync(p)) return null;
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8')) as ModelManifest;
  } catch {
    throw new RagspecError(`${p} is not valid JSON`, {
      code: 'bad_file',
      hint: 're-run `npx ragspec convert` (or `npx ragspec setup`)',
    });
  }
}

function readManifestIfSame(dir: string, sha256: string): ModelManifest | null {
  try {
    const m = readManifest(dir);
    return m && m.format === 1 && m.source.sha256 === sha256 ? m : null;
  } catch {
    return null;
  }
}

export async function fileSha256(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** tokenizer.json + tokenizer_config.json (HF layout) from the GGUF's tokenizer metadata. */
export async function writeTokenizerFiles(ggufPath: string, outDir: string): Promise<TextTokenizer> {
  const tok = await TextTokenizer.fromGguf(ggufPath);
  writeAtomic(path.join(outDir, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
  writeAtomic(
    path.join(outDir, 'tokenizer_config.json'),
    JSON.stringify(tok.tokenizerConfig(), null, 2) + '\n',
  );
  return tok;
}

/** Write then rename, so readers never see a half-written file. */
function writeAtomic(file: string, data: string | Uint8Array): void {
  fs.writeFileSync(`${file}.tmp`, data);
  fs.renameSync(`${file}.tmp`, file);
}

/** Whether a manifest entry was written by the current graph builder. */
export function isCurrentVariant(entry: VariantEntry | undefined): boolean {
  return !!entry && entry.builder === GRAPH_BUILDER_VERSION;
}
