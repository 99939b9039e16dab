/**
 * `ragspec convert <gguf>`: GGUF → ONNX model folder (see src/model/convert.ts), optionally a
 * shallower self-drafting variant (--layers) and an Optimum/transformers.js export.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { convertGguf, defaultGraph, type GraphOptions } from '../../model/convert.ts';
import { HEAD_FORMATS } from '../../model/onnx/linear.ts';
import { ATTENTION_OPS } from '../../model/onnx/llama-graph.ts';
import { exportOptimum } from '../../model/onnx/optimum.ts';
import { RagspecError } from '../../util/errors.ts';
import { startProgress, type Progress } from '../../util/progress.ts';

interface ConvertFlags {
  out?: string;
  layers?: string;
  weights: string;
  name?: string;
  exportOptimum?: string;
  attention?: string;
  head?: string;
  accuracy?: string;
  headAccuracy?: string;
  logitRows: boolean;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new RagspecError(`--${flag} must be one of ${allowed.join(', ')}, not "${value}"`, {
    code: 'bad_flag',
    kind: 'bad_input',
  });
}

/** The graph-builder flags over `defaultGraph(weights)`. */
function graphFlags(o: ConvertFlags): Partial<GraphOptions> {
  const g: Partial<GraphOptions> = {};
  if (o.attention) g.attention = oneOf('attention', o.attention, ATTENTION_OPS);
  if (o.head) g.head = oneOf('head', o.head, HEAD_FORMATS);
  if (o.accuracy) g.accuracy = Number(oneOf('accuracy', o.accuracy, ['0', '4'] as const)) as 0 | 4;
  if (o.headAccuracy)
    g.headAccuracy = Number(oneOf('head-accuracy', o.headAccuracy, ['0', '4'] as const)) as 0 | 4;
  if (!o.logitRows) g.logitRows = false;
  return g;
}

/** "0,1,2" or "0-5" or "0-3,8,10-11" → [0, 1, ...] */
export function parseLayers(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m)
      throw new RagspecError(`--layers: "${part}" is not a layer index or range`, {
        code: 'bad_flag',
        hint: 'write e.g. --layers 0,1,2 or --layers 0-5',
        kind: 'bad_input',
      });
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a)
      throw new RagspecError(`--layers: range ${part} runs backwards`, {
        code: 'bad_flag',
        kind: 'bad_input',
      });
    for (let i = a; i <= b; i++) out.push(i);
  }
  if (!out.length)
    throw new RagspecError('--layers is empty', {
      code: 'bad_flag',
      hint: 'write e.g. --layers 0-5',
      kind: 'bad_input',
    });
  return [...new Set(out)].sort((x, y) => x - y);
}

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'Convert a Llama-family GGUF (Llama, SmolLM, TinyLlama, Qwen2) to an ONNX model folder ragspec can run.',
    )
    .argument('<gguf>', 'the GGUF model file')
    .option('--out <dir>', 'output folder (default: beside the GGUF)')
    .option('--layers <list>', 'keep only these layers, e.g. 0,1,2 or 0-5 (a self-drafting model)')
    .option(
      '--weights <fp32|int4>',
      'fp32, or int4 (MatMulNBits from Q4_0/Q4_1 blocks; other tensors stay fp32)',
      'int4',
    )
    .option(
      '--name <variant>',
      'variant name in the folder (default fp32/int4, draft-<weights> with --layers)',
    )
    .option(
      '--attention <op>',
      `attention op: ${ATTENTION_OPS.join(' or ')} (default ${defaultGraph('int4').attention}; gqa = com.microsoft GroupQueryAttention, KV cache written in place)`,
    )
    .option(
      '--head <format>',
      `output head: ${HEAD_FORMATS.join(', ')} (default q8 with --weights int4: the GGUF's Q8_0 blocks as they are; fp32 with --weights fp32)`,
    )
    .option(
      '--accuracy <level>',
      'MatMulNBits compute of the int4 layers: 0 = fp32 (default), 4 = int8 (faster for small S, but S-dependent: see docs/BENCHMARKS.md)',
    )
    .option(
      '--head-accuracy <level>',
      'MatMulNBits compute of a q8/q4 head: 4 = int8 (default), 0 = fp32 (slow)',
    )
    .option(
      '--no-logit-rows',
      'compute logits for every new row, also in prefill (default: only the rows asked for)',
    )
    .option(
      '--export-optimum <dir>',
      'also write an Optimum/transformers.js folder (2D attention mask, chains only)',
    )
    .action(async (gguf: string, o: ConvertFlags) => {
      if (o.weights !== 'fp32' && o.weights !== 'int4') {
        throw new RagspecError(`--weights must be fp32 or int4, not ${o.weights}`, {
          code: 'bad_flag',
          kind: 'bad_input',
        });
      }
      const weights = o.weights;
      const layers = o.layers ? parseLayers(o.layers) : undefined;
      const out = path.resolve(o.out ?? path.dirname(gguf));
      let bar: Progress | null = null;
      const res = await convertGguf(gguf, out, {
        weights,
        layers,
        name: o.name,
        graph: graphFlags(o),
        onProgress: (stage, done, total) => {
          if (stage === 'layers') {
            bar ??= startProgress(`converting ${path.basename(gguf)} (${weights})`, total, 'layers');
            bar.update(done);
          }
        },
      });
      (bar as Progress | null)?.stop();
      const e = res.entry;
      console.log(
        `wrote ${res.file} (variant ${res.variant}: ${e.config.numLayers} layers, ${weights}, ${describeGraph(e.graph!)}) in ${res.seconds.toFixed(1)} s`,
      );
      if (o.exportOptimum) {
        const graph = await exportOptimum(gguf, path.resolve(o.exportOptimum), { weights, layers });
        console.log(`wrote Optimum/transformers.js export ${graph}`);
      }
    });
}

function describeGraph(g: GraphOptions): string {
  return `attention ${g.attention}, head ${g.head} (accuracy ${g.headAccuracy}), layers accuracy ${g.accuracy}${g.logitRows ? ', logit rows' : ''}`;
}
