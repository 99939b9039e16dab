/**
 * The history source through the whole engine on a tiny generated model (as
 * test/engine/tiny-model.test.ts and distribution.test.ts do for the other sources):
 * - greedy: `hybrid` with a warm history (the engine's own recorded answers, plus noise)
 *   emits exactly the tokens of `ar`, and history drafts really are accepted;
 * - sampling: the first three tokens sampled in `hybrid` with a history holding the likeliest
 *   AR continuations (ranked by repetition) have the exact AR distribution (chi-square at 0.999);
 * - recording: every finished generation is appended, in every mode; `recordHistory: false`
 *   and a read-only engine add nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/engine.ts';
import { loadEngine } from '../../../src/engine/load.ts';
import type { GenerationRequest, SamplingSettings } from '../../../src/engine/types.ts';
import { HistoryStore } from '../../../src/drafting/history/store.ts';
import { convertGguf } from '../../../src/model/convert.ts';
import { chiSquare } from '../../helpers/chi-square.ts';
import { seededRandom, writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';
import { exactArDistribution } from '../../helpers/exact-ar.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-history-tiny-'));
const modelDir = path.join(tmp, 'tiny');
let engine: Engine; // records into history/
const COST = {
  policy: 'cost' as const,
  costCurve: Array.from({ length: 64 }, (_, s) => (s === 0 ? 0 : 1 + 0.15 * (s - 1))),
};

beforeAll(async () => {
  fs.mkdirSync(modelDir);
  const tiny = writeTinyLlamaGguf(path.join(modelDir, 'model.gguf'), { layers: 3, seed: 5 });
  await convertGguf(tiny.path, modelDir, { weights: 'fp32' });
  engine = await loadEngine({
    model: modelDir,
    variant: 'fp32',
    drafter: 'none',
    costCurve: false,
    threads: 1,
    budget: COST,
    history: { dir: path.join(tmp, 'history') },
  });
});
afterAll(async () => {
  await engine?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const textArb = fc.string({
  unit: fc.constantFrom(...'abcde fghij the in er.\nézß中'.split('')),
  minLength: 1,
  maxLength: 40,
});

const gen = (e: Engine, req: Partial<GenerationRequest>) =>
  e.generate({ maxTokens: 48, sampling: { temperature: 0 }, mode: 'ar', ...req });

describe('history source on the tiny model', () => {
  it('records every finished generation, in every mode, unless told not to', async () => {
    const store = engine.history!.store;
    const before = store.entryCount;
    const a = await gen(engine, { prompt: 'the cat' });
    const h = await gen(engine, { prompt: 'the cat', mode: 'hybrid' });
    expect(store.entryCount).toBe(before + 2);
    expect(store.entryAt(store.entryCount - 1).tokens).toEqual(h.tokens);
    expect(h.tokens).toEqual(a.tokens);
    await gen(engine, { prompt: 'the hat', recordHistory: false });
    expect(store.entryCount).toBe(before + 2);
    // and it is on disk: a second engine (read-only, as benchmarks open it) sees it, adds nothing
    const ro = await loadEngine({
      model: modelDir,
      variant: 'fp32',
      drafter: 'none',
      costCurve: false,
      threads: 1,
      history: { dir: path.join(tmp, 'history'), record: false },
    });
    try {
      expect(ro.history!.store.entryCount).toBe(before + 2);
      await gen(ro, { prompt: 'the cat', mode: 'hybrid' });
      expect(ro.history!.store.entryCount).toBe(before + 2);
    } finally {
      await ro.dispose();
    }
    expect(HistoryStore.open(path.join(tmp, 'history')).entryCount).toBe(before + 2);
  });

  it('greedy: hybrid with a warm history = ar, and history drafts are accepted', async () => {
    const rand = seededRandom(3);
    const noise = engine.history!.store;
    for (let i = 0; i < 5; i++) noise.append(Array.from({ length: 40 }, () => Math.floor(rand() * 200)));
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(textArb, fc.boolean(), async (prompt, chat) => {
        const base: Partial<GenerationRequest> = chat
          ? { messages: [{ role: 'user', content: prompt }] }
          : { prompt };
        const ar = await gen(engine, base); // recorded: the history now holds this answer
        for (let round = 0; round < 2; round++) {
          const sd = await gen(engine, { ...base, mode: 'hybrid' });
          expect(sd.tokens).toEqual(ar.tokens);
          expect(sd.text).toBe(ar.text);
          expect(sd.finishReason).toBe(ar.finishReason);
          accepted += sd.stats.bySource.history?.acceptedTokens ?? 0;
        }
        // a different prompt: the history drafts (often wrong now) must not change the output
        const other = { prompt: `${prompt} er` };
        expect((await gen(engine, { ...other, mode: 'hybrid', recordHistory: false })).tokens).toEqual(
          (await gen(engine, { ...other, recordHistory: false })).tokens,
        );
      }),
      { numRuns: 20 },
    );
    expect(accepted).toBeGreaterThan(100);
  }, 300_000);
});

const DEPTH = 3;
const SAMPLES = 1200;
const PROMPT = 'the in er.';
const TOP_P: SamplingSettings = { temperature: 3, topP: 0.95 };

describe('history source keeps the AR sampling distribution (tiny model, chi-square)', () => {
  it(`hybrid with a history of the likeliest continuations, temperature ${TOP_P.temperature}, top-p ${TOP_P.topP}`, async () => {
    const prompt = engine.promptTokens({ prompt: PROMPT });
    const exact = await exactArDistribution(engine, prompt, DEPTH, TOP_P);
    // the history: the prompt's tail followed by the likeliest outcomes, the likelier more often
    const dir = path.join(tmp, 'history-dist');
    const store = HistoryStore.open(dir);
    const top = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 6);
    top.forEach(([k], rank) => {
      for (let r = 0; r < 6 - rank; r++) store.append([...prompt.slice(-4), ...k.split(',').map(Number), 7]);
    });
    store.flush();
    const e = await loadEngine({
      model: modelDir,
      variant: 'fp32',
      drafter: 'none',
      costCurve: false,
      threads: 1,
      budget: COST,
      history: { dir, record: false },
    });
    try {
      const counts = new Map<string, number>();
      let accepted = 0;
      for (let seed = 0; seed < SAMPLES; seed++) {
        const r = await e.generate({
          prompt: PROMPT,
          maxTokens: DEPTH,
          sampling: { ...TOP_P, seed },
          mode: 'hybrid',
        });
        const k = r.tokens.join(',');
        counts.set(k, (counts.get(k) ?? 0) + 1);
        accepted += r.stats.bySource.history?.acceptedTokens ?? 0;
      }
      const fit = chiSquare(counts, exact, SAMPLES);
      console.log(
        `history hybrid ${JSON.stringify(TOP_P)}: chi2 ${fit.stat.toFixed(1)} (critical ${fit.crit.toFixed(1)}, ` +
          `${fit.cells} cells), ${accepted} accepted history draft tokens`,
      );
      expect(accepted).toBeGreaterThan(SAMPLES / 10); // history drafts really were verified and used
      expect(fit.stat).toBeLessThan(fit.crit);
    } finally {
      await e.dispose();
    }
  }, 300_000);
});

/** Exact AR probabilities of the first DEPTH tokens (keys "a,b,c"; shorter when EOS ends it). */
