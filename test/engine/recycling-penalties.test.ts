/**
 * Token recycling and repetition penalties stay lossless, on a tiny generated model loaded
 * the way a user loads one:
 * - greedy: a recycling-only planner, and `hybrid` (references + recycling), equal `ar`
 *   token for token, without and with penalties (random prompts, fast-check);
 * - sampling: the first three sampled tokens of recycling and of `hybrid` with penalties
 *   have exactly the AR distribution (computed from the model, penalties applied along each
 *   prefix), checked with Pearson's chi-square as distribution.test.ts does.
 * Recycling drafts must really be verified (accepted > 0), else the test proves nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DraftPlanner } from '../../src/drafting/planner.ts';
import { RecycleTable, RecyclingDrafter } from '../../src/drafting/sources/recycling.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import { runLoop } from '../../src/engine/loop.ts';
import type { SamplingSettings } from '../../src/engine/types.ts';
import { convertGguf } from '../../src/model/convert.ts';
import { chiSquare } from '../helpers/chi-square.ts';
import { writeTinyLlamaGguf } from '../helpers/tiny-gguf.ts';
import { exactArDistribution } from '../helpers/exact-ar.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-recycle-'));
let engine: Engine;
/** One table for the whole file, as the Engine shares one across requests. */
const table = new RecycleTable();

beforeAll(async () => {
  const tiny = writeTinyLlamaGguf(path.join(tmp, 'model.gguf'), { layers: 3, seed: 5 });
  await convertGguf(tiny.path, tmp, { weights: 'fp32' });
  engine = await loadEngine({ model: tmp, variant: 'fp32', costCurve: false, threads: 1, memory: false });
});
afterAll(async () => {
  await engine?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const PENALTIES = { frequencyPenalty: 0.6, presencePenalty: 0.4, repetitionPenalty: 1.5 } as const;

/** Generate with a recycling-only planner (shared table), or plain AR without one. */
async function recycle(prompt: string, sampling: SamplingSettings, maxTokens: number, withDrafts: boolean) {
  return runLoop({
    target: engine.target,
    tokenizer: engine.tokenizer,
    eosIds: engine.tokenizer.eosIds,
    promptTokens: engine.promptTokens({ prompt }),
    maxTokens,
    sampling,
    planner: new DraftPlanner(withDrafts ? [{ source: new RecyclingDrafter(table) }] : []),
  });
}

const textArb = fc.string({
  unit: fc.constantFrom(...'abcde the in er.\nzß'.split('')),
  minLength: 1,
  maxLength: 30,
});

describe('greedy: recycling and penalties = AR', () => {
  it('recycling-only drafts, with and without penalties', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(textArb, fc.boolean(), async (prompt, pen) => {
        const s: SamplingSettings = { temperature: 0, ...(pen ? PENALTIES : {}) };
        const ar = await recycle(prompt, s, 40, false);
        const sd = await recycle(prompt, s, 40, true);
        expect(sd.tokens).toEqual(ar.tokens);
        expect(sd.text).toBe(ar.text);
        accepted += sd.stats.bySource.recycling?.acceptedTokens ?? 0;
      }),
      { numRuns: 30 },
    );
    expect(accepted).toBeGreaterThan(0); // recycled drafts really were accepted
  });

  it('hybrid (references + recycling) with penalties = ar with penalties', async () => {
    await fc.assert(
      fc.asyncProperty(textArb, async (prompt) => {
        const sampling = { temperature: 0, ...PENALTIES };
        const ar = await engine.generate({ prompt, maxTokens: 40, sampling, mode: 'ar' });
        // a passage that quotes the unpenalised answer: drafts the penalties must then reject
        const plain = await engine.generate({
          prompt,
          maxTokens: 40,
          sampling: { temperature: 0 },
          mode: 'ar',
        });
        const passages = [{ id: 1, text: plain.text + ar.text.slice(2), start: 0 }];
        const sd = await engine.generate({ prompt, passages, maxTokens: 40, sampling, mode: 'hybrid' });
        expect(sd.tokens).toEqual(ar.tokens);
      }),
      { numRuns: 15 },
    );
  });

  it('penalties change the output (so the check above is not vacuous)', async () => {
    const prompt = 'the the the in';
    const a = await engine.generate({ prompt, maxTokens: 40, sampling: { temperature: 0 }, mode: 'ar' });
    const b = await engine.generate({
      prompt,
      maxTokens: 40,
      sampling: { temperature: 0, ...PENALTIES },
      mode: 'ar',
    });
    expect(b.tokens).not.toEqual(a.tokens);
  });
});

const DEPTH = 3;
const SAMPLES = 1200;
const PROMPT = 'the in er.';

/** Exact AR probabilities of the first DEPTH tokens, penalties applied along each prefix. */

describe('sampling: recycling and penalties keep the AR distribution (chi-square)', () => {
  const cases: [string, SamplingSettings, 'recycle' | 'ar' | 'hybrid'][] = [
    ['ar with penalties (calibration)', { temperature: 3, topK: 6, ...PENALTIES }, 'ar'],
    ['recycling drafts', { temperature: 3, topK: 6 }, 'recycle'],
    ['recycling drafts with penalties', { temperature: 3, topK: 6, ...PENALTIES }, 'recycle'],
    ['hybrid with penalties', { temperature: 3, topP: 0.95, ...PENALTIES }, 'hybrid'],
  ];
  for (const [name, s, how] of cases) {
    it(
      name,
      async () => {
        const exact = await exactArDistribution(engine, engine.promptTokens({ prompt: PROMPT }), DEPTH, s);
        const counts = new Map<string, number>();
        let accepted = 0;
        for (let seed = 0; seed < SAMPLES; seed++) {
          const sampling = { ...s, seed };
          const r =
            how === 'hybrid'
              ? await engine.generate({ prompt: PROMPT, maxTokens: DEPTH, sampling, mode: 'hybrid' })
              : await recycle(PROMPT, sampling, DEPTH, how === 'recycle');
          const k = r.tokens.join(',');
          counts.set(k, (counts.get(k) ?? 0) + 1);
          accepted += r.stats.acceptedTokens;
        }
        const c = chiSquare(counts, exact, SAMPLES);
        console.log(
          `${name}: chi2 ${c.stat.toFixed(1)} (critical ${c.crit.toFixed(1)}, ${c.cells} cells), ${accepted} accepted`,
        );
        if (how === 'recycle') expect(accepted).toBeGreaterThan(SAMPLES / 10);
        expect(c.stat).toBeLessThan(c.crit);
      },
      180_000,
    );
  }
});
