/**
 * LOSSLESS GREEDY ON THE REAL MODEL. For every question of ../shared/eval/npm-docs-dev.jsonl,
 * with its retrieved passages in the prompt and as draft references, the modes `reference`,
 * `model` and `hybrid` emit exactly the tokens of `ar` greedy decoding (max 128 new tokens).
 *
 * Cost control for CI: the dev set is split into interleaved parts, one test file each
 * (real-model-lossless-*.test.ts), so vitest's two workers check them side by side; each
 * part loads one Engine (target + self-drafter); per question the prompt is prefilled once
 * and reused by every mode (prefix cache); modes run interleaved. Every mode runs on every
 * question by default; RAGSPEC_LOSSLESS_MODEL_EVERY=n checks `model` on 1 in n questions.
 * RAGSPEC_LOSSLESS_LIMIT=n checks only the first n questions (local iteration).
 * Needs the converted model and an ingested corpus: it FAILS (never skips) without them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import { completeAnswer, prepareAnswer } from '../../src/answer/answer.ts';
import type { DecodeMode } from '../../src/engine/types.ts';
import { openCorpus, type Corpus } from '../../src/retrieval/index.ts';
import { paths, repoRoot } from '../../src/util/paths.ts';
import { targetGguf } from '../helpers/assets.ts';

const EVAL = path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const limit = Number(process.env.RAGSPEC_LOSSLESS_LIMIT ?? Infinity);
const modelEvery = Math.max(1, Number(process.env.RAGSPEC_LOSSLESS_MODEL_EVERY ?? 1));
const allItems = fs
  .readFileSync(EVAL, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; question: string })
  .slice(0, limit);

/** Registers the lossless check for questions with index ≡ part (mod parts). */
export function describeLossless(part: number, parts: number): void {
  const items = allItems.filter((_, i) => i % parts === part);
  let engine: Engine;
  let corpus: Corpus;

  beforeAll(async () => {
    targetGguf(); // fails with "run `npx ragspec setup`" when the model is missing
    if (!fs.existsSync(path.join(paths.data(), 'ragspec.db'))) {
      throw new Error(
        `no corpus at ${paths.data()} — run \`npx ragspec setup\` and \`npx ragspec ingest\` first`,
      );
    }
    engine = await loadEngine();
    corpus = await openCorpus(paths.data(), { readOnly: true });
  }, 600_000);

  afterAll(async () => {
    await corpus?.close();
    await engine?.dispose();
  });

  describe(`real model: speculative greedy = AR greedy on the dev set (part ${part + 1}/${parts})`, () => {
    it(`${items.length} questions × reference, hybrid and model (model on 1 in ${modelEvery})`, async () => {
      expect(engine.drafter).not.toBeNull();
      let accepted = 0;
      let spans = 0;
      for (const [qi, item] of items.entries()) {
        const prepared = await prepareAnswer(corpus, {
          question: item.question,
          k: 4,
          maxTokens: 128,
          sampling: { temperature: 0 },
          mode: 'ar',
        });
        const { passages } = prepared;
        const generate = async (mode: DecodeMode) =>
          (await completeAnswer(engine, { ...prepared, request: { ...prepared.request, mode } })).result;
        const ar = await generate('ar');
        const modes: DecodeMode[] =
          qi % modelEvery === 0 ? ['reference', 'model', 'hybrid'] : ['reference', 'hybrid'];
        // rotate the mode order so each mode sometimes runs right after ar
        for (const mode of modes.map((_, i) => modes[(i + qi) % modes.length]!)) {
          const r = await generate(mode);
          expect(r.tokens, `${item.id} ${mode}`).toEqual(ar.tokens);
          expect(r.text).toBe(ar.text);
          expect(r.finishReason).toBe(ar.finishReason);
          accepted += r.stats.acceptedTokens;
          // attribution: every citation points at passage text equal to the copied answer text
          for (const span of r.copiedSpans) {
            const p = passages.find((x) => x.id === span.passageId)!;
            expect(p.text.slice(span.sourceStart - p.start, span.sourceEnd - p.start)).toBe(span.text);
            expect(r.text.slice(span.answerStart, span.answerEnd)).toBe(span.text);
            spans++;
          }
        }
      }
      // the drafts were really used, not just empty trees
      expect(accepted).toBeGreaterThan(0);
      console.log(`${items.length} questions: ${accepted} accepted draft tokens, ${spans} citations checked`);
    }, 3_600_000);
  });
}
