/**
 * The independent baseline (plain-greedy.ts) on a tiny generated model: engine `ar` and every
 * mode equal it, each run in a fresh engine; and it catches a planted prefix-cache bug that
 * the engine's own `ar`-vs-speculative comparison cannot see, because it hits `ar` too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import type { DecodeMode } from '../../src/engine/types.ts';
import { convertGguf } from '../../src/model/convert.ts';
import type { KvCache } from '../../src/model/types.ts';
import type { ScoredPassage } from '../../src/retrieval/types.ts';
import { writeTinyLlamaGguf } from '../helpers/tiny-gguf.ts';
import { plainGreedy } from './plain-greedy.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-plain-'));
const dir = path.join(tmp, 'tiny');
const load = () =>
  loadEngine({
    model: dir,
    variant: 'fp32',
    drafter: dir,
    drafterVariant: 'draft-fp32',
    costCurve: false,
    threads: 1,
  });

beforeAll(async () => {
  fs.mkdirSync(dir);
  const tiny = writeTinyLlamaGguf(path.join(dir, 'model.gguf'), { layers: 3, seed: 5 });
  await convertGguf(tiny.path, dir, { weights: 'fp32' });
  await convertGguf(tiny.path, dir, { weights: 'fp32', layers: [0], name: 'draft-fp32' });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const passage = (text: string): ScoredPassage => ({
  id: 1,
  docId: 'd1',
  path: 'doc1.md',
  title: 'Doc 1',
  headingPath: [],
  text,
  start: 0,
  end: text.length,
  scores: { dense: null, bm25: null, fused: 0 },
});
const MODES: DecodeMode[] = ['ar', 'reference', 'model', 'hybrid'];
// a shared 20+-token head, so the engine's prefix cache (min reuse 16) hits between prompts
const HEAD = 'the in er. abcde fghij the in er. ';
const PROMPTS = [`${HEAD}zß中é abc`, `${HEAD}the cat`, `${HEAD}hello there`];

/**
 * The planted bug: the engine's prefix cache hands back one cached position fewer than it
 * reports, so the prompt token at the seam is never prefilled. `ar` and the speculative
 * modes share the loss, so they still agree with each other.
 */
function breakPrefixCache(engine: Engine): void {
  const pc = engine.prefixCache;
  const lookup = pc.lookup.bind(pc);
  pc.lookup = (prefix: readonly number[]): { cache: KvCache; length: number } | null => {
    const hit = lookup(prefix);
    if (hit) hit.cache.truncate(hit.length - 1);
    return hit;
  };
}

describe('plain greedy baseline (tiny model)', () => {
  it('engine ar and every mode equal plain greedy, each in a fresh engine', async () => {
    for (const prompt of PROMPTS) {
      for (const mode of MODES) {
        const engine = await load();
        try {
          const ids = engine.promptTokens({ prompt });
          const want = await plainGreedy(engine.target, ids, 40, engine.tokenizer.eosIds);
          const r = await engine.generate({
            prompt,
            passages: [passage(engine.tokenizer.decode(want.tokens))],
            maxTokens: 40,
            sampling: { temperature: 0 },
            mode,
          });
          expect(r.tokens, `${mode}: ${prompt}`).toEqual(want.tokens);
          expect(r.finishReason).toBe(want.finishReason);
        } finally {
          await engine.dispose();
        }
      }
    }
  });

  it('catches a planted prefix-cache bug that ar-vs-speculative comparison misses', async () => {
    const engine = await load();
    try {
      breakPrefixCache(engine);
      let differs = 0;
      for (const prompt of PROMPTS) {
        const want = await plainGreedy(
          engine.target,
          engine.promptTokens({ prompt }),
          40,
          engine.tokenizer.eosIds,
        );
        const req = { prompt, maxTokens: 40, sampling: { temperature: 0 } };
        const ar = await engine.generate({ ...req, mode: 'ar' });
        const ref = await engine.generate({ ...req, mode: 'reference', passages: [passage(ar.text)] });
        expect(ref.tokens).toEqual(ar.tokens); // the engine agrees with itself ...
        if (JSON.stringify(ar.tokens) !== JSON.stringify(want.tokens)) differs++;
      }
      expect(differs).toBeGreaterThan(0); // ... the baseline does not
    } finally {
      await engine.dispose();
    }
  });
});
