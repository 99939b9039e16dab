/**
 * Lossless sampling: the first three tokens drawn by speculative sampling (deterministic
 * drafts and drafter-model drafts with q) have exactly AR sampling's distribution.
 *
 * Method: a toy model with a 5-token vocabulary gives logits for every prefix (computed once
 * per prefix and cached — the verifier is pure, so calling it on these rows is what the
 * engine does after a tree forward). The exact AR distribution over the 125 three-token
 * outcomes is the product of the per-step target distributions. We draw 20 000 speculative
 * samples and apply Pearson's chi-square goodness-of-fit test against it.
 *
 * Threshold: the 0.999 quantile of chi-square with (cells − 1) degrees of freedom
 * (Wilson–Hilferty approximation), so a correct verifier fails by chance once in 1000 runs
 * (the seeds are fixed, so the test is deterministic). Cells with expected count < 5 are
 * pooled. The same test on a deliberately broken acceptance rule must reject.
 */
import { describe, expect, it } from 'vitest';
import { verifyTree, type VerifyTree } from '../../src/verify/accept.ts';
import { brokenVerifyTree } from './broken-verifier.ts';
import { Rng } from '../../src/verify/rng.ts';
import { sampleFrom, targetDistribution, type SamplingSettings } from '../../src/verify/sampling.ts';
import type { Logits } from '../../src/model/types.ts';
import { ToyLM } from '../engine/toy-lm.ts';

const V = 5;
const DEPTH = 3;
const SAMPLES = 20_000;
const PROMPT = [1, 3, 0];

/** Logits after every prefix, from a model run once per prefix. */
async function logitsTable(seed: number): Promise<(suffix: readonly number[]) => Float32Array> {
  const lm = new ToyLM({ vocab: V, seed, markovWeight: 1.5 });
  const table = new Map<string, Float32Array>();
  const walk = async (suffix: number[]): Promise<void> => {
    const toks = [...PROMPT, ...suffix];
    const out = await lm.forward(
      toks,
      toks.map((_, i) => i),
      null,
      lm.newCache(),
    );
    table.set(suffix.join(','), out.data.slice((toks.length - 1) * V, toks.length * V));
    if (suffix.length < DEPTH) for (let t = 0; t < V; t++) await walk([...suffix, t]);
  };
  await walk([]);
  return (suffix) => table.get(suffix.join(','))!;
}

function exactAr(logitsOf: (s: readonly number[]) => Float32Array, s: SamplingSettings): Float64Array {
  const out = new Float64Array(V ** DEPTH);
  for (let c = 0; c < out.length; c++) {
    const toks = [Math.floor(c / 25), Math.floor(c / 5) % 5, c % 5];
    let p = 1;
    for (let i = 0; i < DEPTH; i++) p *= targetDistribution(logitsOf(toks.slice(0, i)), s)[toks[i]!]!;
    out[c] = p;
  }
  return out;
}

type Drafter = (
  prefix: number[],
  rng: Rng,
) => { tokens: number[]; parents: number[]; q: (Float32Array | null)[] };

/** Speculative sampling of the first DEPTH tokens: steps of (draft tree, verify) until DEPTH are out. */
function specSample(
  logitsOf: (s: readonly number[]) => Float32Array,
  s: SamplingSettings,
  draft: Drafter,
  rng: Rng,
  broken: boolean,
): number {
  const out: number[] = [];
  while (out.length < DEPTH) {
    const t = draft(out, rng);
    const tree: VerifyTree = {
      tokens: [-1, ...t.tokens],
      parents: [-1, ...t.parents.map((p) => p + 1)],
      q: [null, ...t.q],
    };
    // rows: logits after the prefix + path to each node (what the tree forward returns)
    const rows = tree.tokens.map((_, i) => {
      const path: number[] = [];
      for (let a = i; a > 0; a = tree.parents[a]!) path.unshift(tree.tokens[a]!);
      const pre = [...out, ...path];
      return pre.length <= DEPTH ? logitsOf(pre.slice(0, DEPTH)) : new Float32Array(V);
    });
    const logits: Logits = {
      data: Float32Array.from(rows.flatMap((r) => [...r])),
      rows: rows.length,
      vocabSize: V,
    };
    const r = (broken ? brokenVerifyTree : verifyTree)(tree, logits, s, rng);
    out.push(...r.accepted, r.bonus);
  }
  return out[0]! * 25 + out[1]! * 5 + out[2]!;
}

/** Pearson chi-square with pooling of small cells; returns [statistic, critical value at 0.999]. */
function chiSquare(counts: number[], probs: Float64Array, n: number): [number, number] {
  let stat = 0;
  let cells = 0;
  let pooledObs = 0;
  let pooledExp = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i]! * n;
    if (e < 5) {
      pooledObs += counts[i]!;
      pooledExp += e;
      continue;
    }
    stat += (counts[i]! - e) ** 2 / e;
    cells++;
  }
  if (pooledExp > 0) {
    stat += (pooledObs - pooledExp) ** 2 / Math.max(pooledExp, 1e-9);
    cells++;
  }
  const df = cells - 1;
  const z = 3.0902; // standard normal 0.999 quantile
  const crit = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
  return [stat, crit];
}

// Drafters: deterministic copied-span trees (random tokens, sometimes right), and a drafter
// model that samples a chain from its own distribution q (a different toy model).
const copyDrafter: Drafter = (prefix, rng) => {
  const left = DEPTH - prefix.length;
  const a = Array.from({ length: left }, () => Math.floor(rng.next() * V));
  const b0 = Math.floor(rng.next() * V);
  if (b0 === a[0]) return { tokens: a, parents: a.map((_, i) => i - 1), q: a.map(() => null) };
  return { tokens: [...a, b0], parents: [...a.map((_, i) => i - 1), -1], q: [...a.map(() => null), null] };
};

async function modelDrafter(s: SamplingSettings): Promise<Drafter> {
  const qLogits = await logitsTable(99);
  return (prefix, rng) => {
    const tokens: number[] = [];
    const q: Float32Array[] = [];
    while (prefix.length + tokens.length < DEPTH) {
      const dist = Float32Array.from(
        targetDistribution(qLogits([...prefix, ...tokens]), { ...s, temperature: s.temperature * 1.5 }),
      );
      const x = sampleFrom(dist, rng);
      tokens.push(x);
      q.push(dist);
    }
    return { tokens, parents: tokens.map((_, i) => i - 1), q };
  };
}

const SETTINGS: SamplingSettings[] = [
  { temperature: 0.8, topP: 0.9 },
  { temperature: 1.3, topK: 4 },
];

describe('speculative sampling has the AR distribution (chi-square, 20k samples)', () => {
  for (const s of SETTINGS) {
    for (const kind of ['copied spans', 'drafter model'] as const) {
      it(`${kind}, temperature ${s.temperature}${s.topP ? `, top-p ${s.topP}` : ''}${s.topK ? `, top-k ${s.topK}` : ''}`, async () => {
        const logitsOf = await logitsTable(7);
        const exact = exactAr(logitsOf, s);
        const draft = kind === 'copied spans' ? copyDrafter : await modelDrafter(s);
        const run = (broken: boolean): [number, number] => {
          const rng = new Rng(12345);
          const counts = new Array<number>(V ** DEPTH).fill(0);
          for (let i = 0; i < SAMPLES; i++) counts[specSample(logitsOf, s, draft, rng, broken)]!++;
          return chiSquare(counts, exact, SAMPLES);
        };
        const [ok, crit] = run(false);
        console.log(`${kind} ${JSON.stringify(s)}: chi2 = ${ok.toFixed(1)} (critical ${crit.toFixed(1)})`);
        expect(ok).toBeLessThan(crit);
        // The broken rule (accept any draft the target could produce) must be caught.
        const [bad] = run(true);
        console.log(`  broken acceptance rule: chi2 = ${bad.toFixed(1)}`);
        expect(bad).toBeGreaterThan(crit);
      });
    }
  }

  it('AR sampling through the same verifier (root-only trees) also passes — the test is calibrated', async () => {
    const s = SETTINGS[0]!;
    const logitsOf = await logitsTable(7);
    const exact = exactAr(logitsOf, s);
    const rng = new Rng(777);
    const none: Drafter = () => ({ tokens: [], parents: [], q: [] });
    const counts = new Array<number>(V ** DEPTH).fill(0);
    for (let i = 0; i < SAMPLES; i++) counts[specSample(logitsOf, s, none, rng, false)]!++;
    const [stat, crit] = chiSquare(counts, exact, SAMPLES);
    expect(stat).toBeLessThan(crit);
  });
});
