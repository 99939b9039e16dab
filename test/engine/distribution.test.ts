/**
 * Lossless sampling through the whole engine: on a tiny generated model, the first three
 * tokens that Engine.generate samples in `reference`, `model` and `hybrid` modes (copied
 * spans from a passage, the prompt and the output; q-drafts from a drafter model; the
 * tree pruned by the cost rule; the KV cache kept to the accepted branch) have exactly the
 * distribution of AR sampling, at temperature with top-k and with top-p.
 *
 * The exact AR distribution over three-token outcomes is computed from the target model
 * (fresh cache per prefix, every prefix the sampling settings allow). Each mode draws SAMPLES
 * generations with seeds 0.., and Pearson's chi-square (test/helpers/chi-square.ts, 0.999
 * critical value; the seeds are fixed, so the result is deterministic) compares the counts
 * with it. `ar` itself passes too (the test is calibrated), and two planted broken rules
 * (planted-verifier.ts, injected by vi.mock) must fail it.
 *
 * Settings: this random tiny model is nearly deterministic at temperature 1 (one outcome
 * takes > 98%), so the temperatures are high enough for 10–40 outcomes to matter.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import type { DecodeMode, SamplingSettings } from '../../src/engine/types.ts';
import { convertGguf } from '../../src/model/convert.ts';
import type { ScoredPassage } from '../../src/retrieval/types.ts';
import { chiSquare } from '../helpers/chi-square.ts';
import { writeTinyLlamaGguf } from '../helpers/tiny-gguf.ts';
import type { PlantedBug } from './planted-verifier.ts';
import { exactArDistribution } from '../helpers/exact-ar.ts';

const plant = vi.hoisted(() => ({ bug: null as PlantedBug | null }));
vi.mock('../../src/verify/accept.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/verify/accept.ts')>();
  const { plantedVerifySampling } = await import('./planted-verifier.ts');
  const verifyTree: typeof real.verifyTree = (tree, logits, sampling, rng, opts) =>
    plant.bug && sampling.temperature > 0 && rng
      ? plantedVerifySampling(tree, logits, sampling, rng, plant.bug)
      : real.verifyTree(tree, logits, sampling, rng, opts);
  return { ...real, verifyTree };
});

const DEPTH = 3;
const SAMPLES = 1200;
const PROMPT = 'the in er.';
const TOP_K: SamplingSettings = { temperature: 3, topK: 6 };
const TOP_P: SamplingSettings = { temperature: 3, topP: 0.95 };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-dist-'));
let engine: Engine;
afterAll(async () => {
  await engine?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeAll(async () => {
  const tiny = writeTinyLlamaGguf(path.join(tmp, 'model.gguf'), { layers: 3, seed: 5 });
  await convertGguf(tiny.path, tmp, { weights: 'fp32' });
  await convertGguf(tiny.path, tmp, { weights: 'fp32', layers: [0], name: 'draft-fp32' });
  engine = await loadEngine({
    model: tmp,
    variant: 'fp32',
    drafter: tmp,
    drafterVariant: 'draft-fp32',
    costCurve: false,
    threads: 1,
    // the cost rule, so trees are pruned as on a real machine (forward of s tokens: 1 + 0.15(s − 1))
    budget: {
      policy: 'cost',
      costCurve: Array.from({ length: 64 }, (_, s) => (s === 0 ? 0 : 1 + 0.15 * (s - 1))),
    },
  });
});

/** Exact AR probabilities of the first DEPTH tokens (keys "a,b,c"; shorter when EOS ends it). */

/** A passage holding the likeliest AR continuations, so copied drafts are often right. */
function passageFor(exact: Map<string, number>): ScoredPassage {
  const top = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 6);
  const text = top.map(([k]) => engine.tokenizer.decode(k.split(',').map(Number))).join('');
  return {
    id: 1,
    docId: 'd1',
    path: 'doc1.md',
    title: 'Doc 1',
    headingPath: [],
    text,
    start: 0,
    end: text.length,
    scores: { dense: null, bm25: null, fused: 0 },
  };
}

async function sample(mode: DecodeMode, s: SamplingSettings, passages: ScoredPassage[]) {
  const counts = new Map<string, number>();
  let accepted = 0;
  for (let seed = 0; seed < SAMPLES; seed++) {
    const r = await engine.generate({
      prompt: PROMPT,
      passages,
      maxTokens: DEPTH,
      sampling: { ...s, seed },
      mode,
    });
    const k = r.tokens.join(',');
    counts.set(k, (counts.get(k) ?? 0) + 1);
    accepted += r.stats.acceptedTokens;
  }
  return { counts, accepted };
}

async function fit(mode: DecodeMode, s: SamplingSettings) {
  const exact = await exactArDistribution(engine, engine.promptTokens({ prompt: PROMPT }), DEPTH, s);
  const { counts, accepted } = await sample(mode, s, [passageFor(exact)]);
  const r = chiSquare(counts, exact, SAMPLES);
  console.log(
    `${mode} ${JSON.stringify(s)}${plant.bug ? ` planted ${plant.bug}` : ''}: chi2 ${r.stat.toFixed(1)} ` +
      `(critical ${r.crit.toFixed(1)}, ${r.cells} cells), ${accepted} accepted draft tokens`,
  );
  return { ...r, accepted };
}

describe('engine sampling has the AR distribution (tiny model, chi-square)', () => {
  it('ar itself fits the exact distribution (the test is calibrated)', async () => {
    const r = await fit('ar', TOP_K);
    expect(r.stat).toBeLessThan(r.crit);
  }, 120_000);

  for (const [mode, s] of [
    ['reference', TOP_K],
    ['model', TOP_K],
    ['hybrid', TOP_P],
  ] as const) {
    it(`${mode}, temperature ${s.temperature}${s.topK ? `, top-k ${s.topK}` : ''}${s.topP ? `, top-p ${s.topP}` : ''}`, async () => {
      const r = await fit(mode, s);
      expect(r.accepted).toBeGreaterThan(SAMPLES / 10); // drafts really were verified and used
      expect(r.stat).toBeLessThan(r.crit);
    }, 120_000);
  }

  for (const bug of ['residual-from-p', 'bonus-from-q'] as const) {
    it(`catches the planted bug "${bug}" in the model-draft rule`, async () => {
      plant.bug = bug;
      try {
        const r = await fit('model', TOP_K);
        expect(r.stat).toBeGreaterThan(r.crit);
      } finally {
        plant.bug = null;
      }
    }, 120_000);
  }
});
