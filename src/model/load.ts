/**
 * One factory for every model folder ragspec can run:
 * - a folder converted by `ragspec convert` / `ragspec setup` (ragspec-model.json + graphs),
 *   or one graph file inside it → tree-capable `OnnxCausalLM`;
 * - an Optimum / transformers.js export (config.json + onnx/model.onnx) → chain-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MissingAssetError, RagspecError } from '../util/errors.ts';
import { MANIFEST, readManifest, type ModelManifest } from './convert.ts';
import { OnnxCausalLM } from './onnx/causal-lm.ts';
import { optimumConfig } from './onnx/optimum.ts';
import { describePlacement, type Placement } from './onnx/placement.ts';
import type { ExecutionProvider } from './onnx/session.ts';
import { TextTokenizer } from './tokenizer/index.ts';

export interface LoadOptions {
  /**
   * Where the graph runs (see onnx/device.ts): 'cpu' (default); 'webgpu' (bundled in
   * onnxruntime-node; needs a GPU with a Vulkan driver on Linux); 'cuda' (onnxruntime-node
   * installed with CUDA). On a GPU, nodes its provider lacks run on the CPU; which ones is
   * reported once per graph through `onPlacement`. No usable GPU: a RagspecError of kind
   * 'unavailable' before onnxruntime is asked.
   */
  device?: ExecutionProvider;
  /** Where the GPU placement report goes; default one line on stderr per graph and device. */
  onPlacement?: (line: string, p: Placement) => void;
  /** Intra-op threads; default onnxruntime's choice (all cores). */
  threads?: number;
  /**
   * Let onnxruntime's idle threads spin (default false). Measured on the shared 2-core box: a
   * decode step 2.5× faster with spinning off, and a draft+verify cycle of two sessions 2.5-3.5×.
   */
  spinning?: boolean;
  /** Variant of a converted folder (`fp32`, `int4`, `draft-int4`, ...); default see `defaultVariant`. */
  variant?: string;
  /** Write onnxruntime's per-op profile to files with this prefix (bench/profile.ts). */
  profilePrefix?: string;
}

/** Preferred variants when none is named: int4 decodes faster on CPU and agrees with fp32 greedily. */
const DEFAULT_ORDER = ['int4', 'fp32'];

export function defaultVariant(m: ModelManifest): string {
  const names = Object.keys(m.variants);
  const pick = DEFAULT_ORDER.find((v) => names.includes(v)) ?? names[0];
  if (!pick)
    throw new RagspecError('the model folder lists no converted variants', {
      code: 'bad_model',
      hint: 'run `npx ragspec convert`',
    });
  return pick;
}

/** Graphs whose placement was already reported (the log says it once per process). */
const reported = new Set<string>();

function placementReporter(file: string, opts: LoadOptions): ((p: Placement) => void) | undefined {
  const device = opts.device ?? 'cpu';
  if (device === 'cpu') return undefined;
  const key = `${device}|${path.resolve(file)}`;
  if (reported.has(key) && !opts.onPlacement) return undefined;
  return (p) => {
    reported.add(key);
    const line = describePlacement(p, path.basename(file));
    if (opts.onPlacement) opts.onPlacement(line, p);
    else process.stderr.write(`ragspec: ${line}\n`);
  };
}

export async function loadCausalLM(dirOrFile: string, opts: LoadOptions = {}): Promise<OnnxCausalLM> {
  const session = (file: string) => ({
    providers: [opts.device ?? 'cpu'],
    intraOpThreads: opts.threads,
    spinning: opts.spinning ?? false,
    profilePrefix: opts.profilePrefix,
    onPlacement: placementReporter(file, opts),
  });
  if (!fs.existsSync(dirOrFile)) {
    throw new MissingAssetError(
      `model ${dirOrFile}`,
      'run `npx ragspec setup`, or `npx ragspec convert <file.gguf> --out <dir>`',
    );
  }
  const isDir = fs.statSync(dirOrFile).isDirectory();
  const dir = isDir ? dirOrFile : path.dirname(dirOrFile);

  const manifest = readManifest(dir);
  if (manifest) {
    let name = opts.variant;
    if (!isDir && !name)
      name = Object.entries(manifest.variants).find(([, v]) => v.file === path.basename(dirOrFile))?.[0];
    name ??= defaultVariant(manifest);
    const entry = manifest.variants[name];
    if (!entry) {
      throw new RagspecError(
        `${dir} has no variant "${name}" (has ${Object.keys(manifest.variants).join(', ')})`,
        {
          code: 'missing_variant',
          hint: `run \`npx ragspec convert <gguf> --out ${dir}\` with the options for it`,
        },
      );
    }
    const file = path.join(dir, entry.file);
    return OnnxCausalLM.load(file, entry.config, { ...session(file), mask: '4d' });
  }

  const optimumDir = fs.existsSync(path.join(dir, 'config.json')) ? dir : path.dirname(dir);
  if (fs.existsSync(path.join(optimumDir, 'config.json'))) {
    const graph = isDir ? path.join(optimumDir, 'onnx', 'model.onnx') : dirOrFile;
    if (!fs.existsSync(graph))
      throw new MissingAssetError(graph, 'an Optimum export keeps its graph at onnx/model.onnx');
    return OnnxCausalLM.load(graph, optimumConfig(optimumDir), { ...session(graph), mask: '2d' });
  }
  if (dirOrFile.endsWith('.gguf') || fs.existsSync(path.join(dir, 'model.gguf'))) {
    throw new RagspecError(`${dirOrFile} is not converted to ONNX yet`, {
      code: 'not_converted',
      hint: `run \`npx ragspec convert ${dirOrFile.endsWith('.gguf') ? dirOrFile : path.join(dir, 'model.gguf')} --out ${dir}\``,
    });
  }
  throw new RagspecError(`${dirOrFile} is not a model folder (no ${MANIFEST} or config.json)`, {
    code: 'bad_model',
    hint: 'point at a folder written by `ragspec convert` or an Optimum/transformers.js export',
  });
}

/** The tokenizer of a model folder (tokenizer.json + tokenizer_config.json). */
export function loadModelTokenizer(dirOrFile: string): TextTokenizer {
  const dir =
    fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory() ? dirOrFile : path.dirname(dirOrFile);
  for (const d of [dir, path.dirname(dir)]) {
    const p = path.join(d, 'tokenizer.json');
    if (fs.existsSync(p)) return TextTokenizer.fromFile(p);
  }
  throw new MissingAssetError(
    `tokenizer.json beside ${dirOrFile}`,
    'run `npx ragspec setup` or `npx ragspec convert`',
  );
}
