/**
 * The conversion step of setup: GGUF → the ONNX variants ragspec runs by default. Each
 * variant is skipped when the folder's manifest already lists it for the same source GGUF
 * (same sha256), so setup stays idempotent and cheap on a second run.
 */
import {
  convertGguf,
  defaultGraph,
  fileSha256,
  isCurrentVariant,
  readManifest,
} from '../../model/convert.ts';
import type { WeightFormat } from '../../model/onnx/linear.ts';
import { startProgress, type Progress } from '../../util/progress.ts';

export interface DefaultVariant {
  name: string;
  weights: WeightFormat;
  /** Source layers kept; undefined = all (the target). */
  layers?: number[];
  why: string;
}

/**
 * What setup converts. `int4` is the default target on CPU (MatMulNBits, Q4_1 repacked
 * exactly); `fp32` is kept for comparison and the perplexity check; `draft-int4` is the
 * self-drafting model (a layer subset of the same GGUF, chosen by measured acceptance —
 * see docs/BENCHMARKS.md, Engine).
 */
export const DEFAULT_VARIANTS: DefaultVariant[] = [
  { name: 'int4', weights: 'int4', why: 'target (default on CPU)' },
  { name: 'fp32', weights: 'fp32', why: 'target, fp32 reference' },
  { name: 'draft-int4', weights: 'int4', layers: [0, 1, 2, 3, 4, 5], why: 'self-drafting model' },
];

export async function ensureConverted(
  gguf: string,
  outDir: string,
  log: (line: string) => void,
  /** The GGUF's sha256 when the caller already verified it (saves hashing it again). */
  knownSha256?: string,
): Promise<void> {
  const manifest = readManifest(outDir);
  const sha = manifest ? (knownSha256 ?? (await fileSha256(gguf))) : null;
  for (const v of DEFAULT_VARIANTS) {
    const have = manifest?.variants[v.name];
    const sameLayers = !v.layers || JSON.stringify(have?.layers) === JSON.stringify(v.layers);
    // A graph from an older builder version is reconverted: the runtime expects the current I/O layout.
    const sameGraph = JSON.stringify(have?.graph) === JSON.stringify(defaultGraph(v.weights));
    if (have && manifest?.source.sha256 === sha && sameLayers && sameGraph && isCurrentVariant(have)) {
      log(`✓ ONNX ${v.name} (${v.why}) already converted`);
      continue;
    }
    let bar: Progress | null = null;
    const r = await convertGguf(gguf, outDir, {
      weights: v.weights,
      layers: v.layers,
      name: v.name,
      onProgress: (stage, done, total) => {
        if (stage !== 'layers') return;
        bar ??= startProgress(`convert ${v.name}`, total, 'layers');
        bar.update(done);
      },
    });
    (bar as Progress | null)?.stop();
    log(`✓ ONNX ${v.name} (${v.why}) → ${r.file} in ${r.seconds.toFixed(1)} s`);
  }
}
