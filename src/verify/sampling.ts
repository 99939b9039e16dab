/**
 * Samplers shared by autoregressive decoding and speculative verification: the target
 * distribution after temperature, top-k and top-p. Both paths call `targetDistribution`,
 * so "the distribution the target samples from" means exactly one thing in ragspec.
 */
import type { Rng } from './rng.ts';

/** The one sampling-settings type: the engine, the drafters and the verifier all take it. */
export interface SamplingSettings {
  /** 0 = greedy (argmax). */
  temperature: number;
  topK?: number;
  topP?: number;
  /** Seed of the request's rng (random when absent); ignored by greedy decoding. */
  seed?: number;
  /** OpenAI semantics over the generated tokens, −2..2 (penalties.ts); 0 = off. */
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** CTRL / Hugging Face semantics over prompt + generated tokens, > 0 (penalties.ts); 1 = off. */
  repetitionPenalty?: number;
}

export function isGreedy(s: SamplingSettings): boolean {
  return !(s.temperature > 0);
}

/** Index of the largest value; the first one on ties (the same rule everywhere). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  let bestV = row[0] ?? -Infinity;
  for (let i = 1; i < row.length; i++) {
    const v = row[i]!;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Probabilities the target samples from at one position.
 * @param logits [V] one row of target logits
 * @returns [V] probabilities (zeros outside the top-k / top-p set), summing to 1
 */
export function targetDistribution(logits: ArrayLike<number>, s: SamplingSettings): Float64Array {
  const v = logits.length;
  const p = new Float64Array(v);
  if (isGreedy(s)) {
    p[argmax(logits)] = 1;
    return p;
  }
  const t = s.temperature;
  // Top-k: the k-th largest logit is the cut; ties at the cut are kept by index order.
  let keep: Uint8Array | null = null;
  if (s.topK !== undefined && s.topK > 0 && s.topK < v) {
    keep = topIndices(logits, s.topK);
  }
  let max = -Infinity;
  for (let i = 0; i < v; i++) if ((keep === null || keep[i]) && logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < v; i++) {
    if (keep !== null && !keep[i]) continue;
    const e = Math.exp((logits[i]! - max) / t);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < v; i++) p[i]! /= sum;
  if (s.topP !== undefined && s.topP > 0 && s.topP < 1) applyTopP(p, s.topP);
  return p;
}

/** Marks the k largest entries (first index wins on ties). */
function topIndices(values: ArrayLike<number>, k: number): Uint8Array {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  const keep = new Uint8Array(values.length);
  for (let i = 0; i < k; i++) keep[idx[i]!] = 1;
  return keep;
}

/**
 * Nucleus filtering in place: keep the smallest set of most probable tokens whose mass
 * reaches `topP` (at least one), renormalise. Only entries above a threshold are sorted;
 * the threshold drops until the entries above it hold the nucleus, which is then exact.
 */
function applyTopP(p: Float64Array, topP: number): void {
  let threshold = 1e-3;
  let cand: number[] = [];
  for (;;) {
    cand = [];
    let mass = 0;
    for (let i = 0; i < p.length; i++) {
      if (p[i]! >= threshold) {
        cand.push(i);
        mass += p[i]!;
      }
    }
    if (mass >= topP || threshold === 0) break;
    threshold = threshold < 1e-12 ? 0 : threshold / 100;
  }
  cand.sort((a, b) => p[b]! - p[a]! || a - b);
  const keep = new Uint8Array(p.length);
  let cum = 0;
  for (const i of cand) {
    keep[i] = 1;
    cum += p[i]!;
    if (cum >= topP) break;
  }
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    if (!keep[i]) p[i] = 0;
    else sum += p[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
}

/** Draw one index from a probability vector. */
export function sampleFrom(p: ArrayLike<number>, rng: Rng): number {
  const u = rng.next();
  let cum = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi <= 0) continue;
    cum += pi;
    last = i;
    if (u < cum) return i;
  }
  // Rounding left u above the final cumulative sum: return the last token with mass.
  return last < 0 ? 0 : last;
}
