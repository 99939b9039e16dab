/**
 * LOSSLESS UNDER BATCHING ON THE REAL MODEL. Dev-set questions with different prompt lengths
 * (1 to 4 passages) and modes, served together through the Scheduler (admitted at staggered
 * times, so prefill chunks share ticks with other requests' decode steps), give exactly the
 * greedy tokens each gives served alone; cancelling one of them changes no other output.
 * Needs the converted model and an ingested corpus: it FAILS (never skips) without them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeAnswer, prepareAnswer, type PreparedAnswer } from '../../src/answer/answer.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import type { TickInfo } from '../../src/engine/scheduler.ts';
import type { DecodeMode, GenerationCallbacks, GenerationResult } from '../../src/engine/types.ts';
import { openCorpus, type Corpus } from '../../src/retrieval/index.ts';
import { paths, repoRoot } from '../../src/util/paths.ts';
import { targetGguf } from '../helpers/assets.ts';

const EVAL =
  process.env.RAGSPEC_EVAL_FILE ?? path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const CASES: { k: number; mode: DecodeMode }[] = [
  { k: 4, mode: 'hybrid' },
  { k: 1, mode: 'reference' },
  { k: 2, mode: 'ar' },
  { k: 3, mode: 'hybrid' },
];
let alone: Engine;
let batched: Engine;
let corpus: Corpus;
let prepared: PreparedAnswer[];
const ticks: TickInfo[] = [];

beforeAll(async () => {
  targetGguf(); // fails with "run `npx ragspec setup`" when the model is missing
  if (!fs.existsSync(path.join(paths.data(), 'ragspec.db')))
    throw new Error(
      `no corpus at ${paths.data()} — run \`npx ragspec setup\` and \`npx ragspec ingest\` first`,
    );
  alone = await loadEngine({ maxBatch: 1 });
  batched = await loadEngine({ maxBatch: 4 });
  batched.tickListeners.push((t) => ticks.push(t));
  corpus = await openCorpus(paths.data(), { readOnly: true });
  const items = fs
    .readFileSync(EVAL, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { question: string });
  prepared = await Promise.all(
    CASES.map((c, i) =>
      prepareAnswer(corpus, {
        question: items[i]!.question,
        k: c.k,
        maxTokens: 24,
        sampling: { temperature: 0 },
        mode: c.mode,
      }),
    ),
  );
}, 600_000);

afterAll(async () => {
  await corpus?.close();
  await alone?.dispose();
  await batched?.dispose();
});

const run = async (e: Engine, p: PreparedAnswer, cb: GenerationCallbacks = {}): Promise<GenerationResult> =>
  (await completeAnswer(e, p, cb)).result;

/** Served together, the i-th request submitted 150·i ms after the first. */
function together(cbs: GenerationCallbacks[] = []): Promise<GenerationResult[]> {
  return Promise.all(
    prepared.map((p, i) => new Promise((r) => setTimeout(r, 150 * i)).then(() => run(batched, p, cbs[i]))),
  );
}

describe('real model: requests served together = served alone (greedy)', () => {
  it('4 requests, different prompt lengths and modes, staggered admission; then one cancelled', async () => {
    const want: GenerationResult[] = [];
    for (const p of prepared) want.push(await run(alone, p));
    const lengths = new Set(prepared.map((p) => alone.promptTokens(p.request).length));
    expect(lengths.size).toBe(CASES.length);

    const got = await together();
    got.forEach((g, i) =>
      expect(g.tokens, `request ${i} (${CASES[i]!.mode}, k ${CASES[i]!.k})`).toEqual(want[i]!.tokens),
    );
    expect(Math.max(...ticks.map((t) => t.requests))).toBeGreaterThan(1);

    // Cancel request 0 after its 3rd step: the others are unchanged.
    const ctrl = new AbortController();
    let steps = 0;
    const cbs: GenerationCallbacks[] = [
      { signal: ctrl.signal, onStep: () => void (++steps === 3 && ctrl.abort()) },
    ];
    const again = await together(cbs);
    expect(again[0]!.finishReason).toBe('cancelled');
    for (const i of [1, 2, 3])
      expect(again[i]!.tokens, `request ${i} beside a cancelled one`).toEqual(want[i]!.tokens);
    expect(batched.scheduler!.batch.free).toBe(4);
  }, 900_000);
});
