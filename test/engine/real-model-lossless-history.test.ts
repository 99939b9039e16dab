/**
 * LOSSLESS GREEDY ON THE REAL MODEL WITH A WARM HISTORY DATASTORE. The engine records its
 * `ar` answers to the first WARM dev questions into a fresh history (in a temp folder); then
 * `hybrid` (references + history) must emit exactly the `ar` tokens on those questions (the
 * history holds the very answer: long accepted history chains) and on the next ones (the
 * history holds related answers: partial matches, rejections). A second engine opens the
 * history read-only from disk and must agree too. Kept small for CI (6 questions, 128 tokens).
 * Needs the converted model and an ingested corpus: it FAILS (never skips) without them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeAnswer, prepareAnswer, type PreparedAnswer } from '../../src/answer/answer.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import type { DecodeMode } from '../../src/engine/types.ts';
import { openCorpus, type Corpus } from '../../src/retrieval/index.ts';
import { paths, repoRoot } from '../../src/util/paths.ts';
import { targetGguf } from '../helpers/assets.ts';

const EVAL =
  process.env.RAGSPEC_EVAL_FILE ?? path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const WARM = 3;
const QUESTIONS = 6;
const items = fs
  .readFileSync(EVAL, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; question: string })
  .slice(0, QUESTIONS);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-lossless-history-'));
let engine: Engine;
let corpus: Corpus;

beforeAll(async () => {
  targetGguf();
  if (!fs.existsSync(path.join(paths.data(), 'ragspec.db')))
    throw new Error(
      `no corpus at ${paths.data()} — run \`npx ragspec setup\` and \`npx ragspec ingest\` first`,
    );
  engine = await loadEngine({ drafter: 'none', history: { dir: tmp }, memory: false });
  corpus = await openCorpus(paths.data(), { readOnly: true });
}, 600_000);

afterAll(async () => {
  await corpus?.close();
  await engine?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const prepare = (question: string) =>
  prepareAnswer(corpus, { question, k: 4, maxTokens: 128, sampling: { temperature: 0 }, mode: 'ar' });
const generate = async (eng: Engine, prepared: PreparedAnswer, mode: DecodeMode) =>
  (await completeAnswer(eng, { ...prepared, request: { ...prepared.request, mode } })).result;

describe('real model: hybrid with a warm history = AR greedy', () => {
  it(`${QUESTIONS} dev questions, the history warmed with the ar answers of the first ${WARM}`, async () => {
    const prepared = await Promise.all(items.map((i) => prepare(i.question)));
    const ar: number[][] = [];
    for (let q = 0; q < QUESTIONS; q++) {
      // ar answers of the first WARM questions are recorded; the others are not
      const r = await completeAnswer(engine, {
        ...prepared[q]!,
        request: { ...prepared[q]!.request, recordHistory: q < WARM },
      });
      ar.push(r.result.tokens);
    }
    expect(engine.history!.store.entryCount).toBe(WARM);
    let historyAccepted = 0;
    for (let q = 0; q < QUESTIONS; q++) {
      const r = await completeAnswer(engine, {
        ...prepared[q]!,
        request: { ...prepared[q]!.request, mode: 'hybrid', recordHistory: false },
      });
      expect(r.result.tokens, `${items[q]!.id} hybrid (warm history)`).toEqual(ar[q]);
      const h = r.result.stats.bySource.history?.acceptedTokens ?? 0;
      console.log(
        `${items[q]!.id}: ${ar[q]!.length} tokens, history accepted ${h}, steps ${r.result.stats.steps}`,
      );
      if (q < WARM) historyAccepted += h;
    }
    // the recorded answers really were drafted from (their repeats are long history copies)
    expect(historyAccepted).toBeGreaterThan(WARM * 20);

    // the history on disk, opened read-only by another engine, drafts the same lossless way
    const fresh = await loadEngine({ drafter: 'none', history: { dir: tmp, record: false }, memory: false });
    try {
      expect(fresh.history!.store.entryCount).toBe(WARM);
      const r = await generate(fresh, prepared[0]!, 'hybrid');
      expect(r.tokens).toEqual(ar[0]);
      expect(r.stats.bySource.history?.acceptedTokens ?? 0).toBeGreaterThan(0);
      expect(fresh.history!.store.entryCount).toBe(WARM);
    } finally {
      await fresh.dispose();
    }
  }, 900_000);
});
