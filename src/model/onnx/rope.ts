/**
 * Rotary position embedding frequencies, with the rope-scaling variants a GGUF can declare.
 * The graph computes angle = position * invFreq[j] from `position_ids`, never from an
 * implicit range, because tree positions repeat (tree depth).
 */
import type { LlamaConfig } from '../types.ts';

export interface RopeTables {
  /** [D/2] inverse frequencies after scaling. */
  invFreq: Float32Array;
  /** Multiplier on cos/sin (YaRN attention factor; 1 otherwise). */
  attentionFactor: number;
}

export function ropeTables(cfg: LlamaConfig): RopeTables {
  const dim = cfg.headDim;
  const half = dim / 2;
  const base = new Float64Array(half);
  for (let j = 0; j < half; j++) base[j] = 1 / cfg.ropeTheta ** ((2 * j) / dim);
  const sc = cfg.ropeScaling;
  let inv = base;
  let attentionFactor = 1;
  if (sc?.type === 'linear') {
    inv = base.map((f) => f / sc.factor);
  } else if (sc?.type === 'llama3') {
    const low = sc.lowFreqFactor ?? 1;
    const high = sc.highFreqFactor ?? 4;
    const lowWavelen = sc.originalContextLength / low;
    const highWavelen = sc.originalContextLength / high;
    inv = base.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / sc.factor;
      const smooth = (sc.originalContextLength / wavelen - low) / (high - low);
      return (1 - smooth) * (f / sc.factor) + smooth * f;
    });
  } else if (sc?.type === 'yarn') {
    // YaRN: interpolate low frequencies, keep high ones, blend with a linear ramp between the
    // correction dims for 32 and 1 rotations over the original context.
    const orig = sc.originalContextLength;
    const corr = (rot: number) =>
      (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(cfg.ropeTheta));
    const lo = Math.max(Math.floor(corr(32)), 0);
    let hi = Math.min(Math.ceil(corr(1)), dim - 1);
    if (hi === lo) hi += 0.001;
    inv = base.map((f, j) => {
      const ramp = Math.min(Math.max((j - lo) / (hi - lo), 0), 1);
      const extrapolation = 1 - ramp;
      return (f / sc.factor) * (1 - extrapolation) + f * extrapolation;
    });
    attentionFactor = 0.1 * Math.log(sc.factor) + 1;
  }
  return { invFreq: Float32Array.from(inv), attentionFactor };
}
