/**
 * `ragspec convert <gguf>`: GGUF → ONNX model folder (see src/model/convert.ts), optionally a
 * shallower self-drafting variant (--layers) and an Optimum/transformers.js export.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { convertGguf } from '../../model/convert.ts';
import { exportOptimum } from '../../model/onnx/optimum.ts';
import { RagspecError } from '../../util/errors.ts';
import { startProgress, type Progress } from '../../util/progress.ts';

interface ConvertFlags {
  out?: string;
  layers?: string;
  weights: string;
  name?: string;
  exportOptimum?: string;
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
        `wrote ${res.file} (variant ${res.variant}: ${e.config.numLayers} layers, ${weights}) in ${res.seconds.toFixed(1)} s`,
      );
      if (o.exportOptimum) {
        const graph = await exportOptimum(gguf, path.resolve(o.exportOptimum), { weights, layers });
        console.log(`wrote Optimum/transformers.js export ${graph}`);
      }
    });
}
