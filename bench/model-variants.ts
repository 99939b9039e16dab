/**
 * The graph variants the model benchmarks compare: the current default of `ragspec convert`
 * beside the previous default and the alternatives the builder still offers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertGguf, defaultGraph, type GraphOptions } from '../src/model/convert.ts';
import type { WeightFormat } from '../src/model/onnx/linear.ts';
import { paths } from '../src/util/paths.ts';

export interface BenchVariant {
  name: string;
  weights: WeightFormat;
  graph: GraphOptions;
  what: string;
}

const int4 = defaultGraph('int4');
export const BENCH_VARIANTS: BenchVariant[] = [
  {
    name: 'int4',
    weights: 'int4',
    graph: int4,
    what: 'default: decomposed attention, Q8_0 head (int8 compute), logit rows',
  },
  {
    name: 'int4-before',
    weights: 'int4',
    graph: { attention: 'decomposed', head: 'fp32', accuracy: 0, headAccuracy: 0, logitRows: false },
    what: 'the previous default: decomposed attention, fp32 head, logits for every row',
  },
  {
    name: 'int4-int8',
    weights: 'int4',
    graph: { ...int4, accuracy: 4 },
    what: 'default + int8 compute in the int4 layers (S-dependent)',
  },
  {
    name: 'int4-q4head',
    weights: 'int4',
    graph: { ...int4, head: 'q4' },
    what: 'default with the head requantised to 4 bits (lossy)',
  },
  {
    name: 'int4-gqa',
    weights: 'int4',
    graph: { ...int4, attention: 'gqa' },
    what: 'default with GroupQueryAttention (in-place KV cache)',
  },
  {
    name: 'int4-fp32head',
    weights: 'int4',
    graph: { ...int4, head: 'fp32', headAccuracy: 0 },
    what: 'default with the fp32 head',
  },
  {
    name: 'fp32',
    weights: 'fp32',
    graph: defaultGraph('fp32'),
    what: 'fp32 weights, decomposed attention, logit rows',
  },
];

/** `--variants a,b` (default: the first two, default vs before), validated. */
export function pickVariants(spec: string | undefined): BenchVariant[] {
  const names = (spec ?? 'int4,int4-before').split(',').map((s) => s.trim());
  return names.map((n) => {
    const v = BENCH_VARIANTS.find((b) => b.name === n);
    if (!v) throw new Error(`unknown variant "${n}"; known: ${BENCH_VARIANTS.map((b) => b.name).join(', ')}`);
    return v;
  });
}

/** Fresh conversions of the target GGUF into a temp folder (removed at exit). */
export async function convertVariants(variants: BenchVariant[]): Promise<string> {
  const gguf = path.join(paths.targetModel(), 'model.gguf');
  if (!fs.existsSync(gguf)) throw new Error(`${gguf} not found — run \`npx ragspec setup\` first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-bench-model-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  for (const v of variants) {
    const r = await convertGguf(gguf, dir, { weights: v.weights, name: v.name, graph: v.graph });
    console.error(`converted ${v.name} in ${r.seconds.toFixed(1)} s`);
  }
  return dir;
}

export function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}
