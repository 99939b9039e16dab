/**
 * Continuous batching on a tiny generated GGUF model (converted and loaded the way a user
 * loads one): requests served together — mixed prefill chunks and decode trees in the same
 * ticks, admitted at different times, every mode — give exactly the tokens each gives alone;
 * cancelling one request leaves the others' outputs unchanged and frees its slot.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { loadEngine } from '../../src/engine/load.ts';
import { groupByRows, type TickInfo } from '../../src/engine/scheduler.ts';
import type { DecodeMode, GenerationRequest, GenerationResult } from '../../src/engine/types.ts';
import { convertGguf } from '../../src/model/convert.ts';
import { writeTinyLlamaGguf } from '../helpers/tiny-gguf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-sched-'));
let alone: Engine;
let batched: Engine;
const ticks: TickInfo[] = [];

beforeAll(async () => {
  const dir = path.join(tmp, 'tiny');
  fs.mkdirSync(dir);
  const tiny = writeTinyLlamaGguf(path.join(dir, 'model.gguf'), { layers: 3, seed: 9, context: 512 });
  await convertGguf(tiny.path, dir, { weights: 'fp32' });
  await convertGguf(tiny.path, dir, { weights: 'fp32', layers: [0], name: 'draft-fp32' });
  const common = {
    model: dir,
    variant: 'fp32',
    drafter: dir,
    drafterVariant: 'draft-fp32',
    costCurve: false,
    threads: 1,
  };
  alone = await loadEngine({ ...common, maxBatch: 1 });
  batched = await loadEngine({ ...common, maxBatch: 4 });
  batched.tickListeners.push((t) => ticks.push(t));
});
afterAll(async () => {
  await alone?.dispose();
  await batched?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const words = 'the cat in a hat er the fig in the bin a cab the tea'.split(' ');
const text = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => words[(seed * 5 + i * 3) % words.length]).join(' ');
const passage = (id: number, t: string) => ({ id, text: t, start: 0 });

/** Prompts of very different lengths (one needs several 128-token prefill chunks) and modes. */
function requests(): GenerationRequest[] {
  const modes: DecodeMode[] = ['ar', 'reference', 'hybrid', 'model', 'reference', 'ar'];
  return modes.map((mode, i) => ({
    prompt: text(i, [3, 40, 9, 160, 1, 25][i]!),
    passages: [passage(i, text(i + 1, 30))],
    maxTokens: 20 + 4 * i,
    sampling: { temperature: 0 },
    mode,
  }));
}

describe('Scheduler: served together = served alone', () => {
  it('six requests (more than the 4 slots), admitted together and staggered', async () => {
    expect(batched.scheduler).not.toBeNull();
    expect(alone.scheduler).toBeNull();
    const reqs = requests();
    const want: GenerationResult[] = [];
    for (const r of reqs) want.push(await alone.generate(r));
    ticks.length = 0;
    // the first three at once, the others a little later (admitted while those decode)
    const got = await Promise.all(
      reqs.map((r, i) =>
        i < 3
          ? batched.generate(r)
          : new Promise((res) => setTimeout(res, 5 * i)).then(() => batched.generate(r)),
      ),
    );
    got.forEach((g, i) => {
      expect(g.tokens, `request ${i} (${reqs[i]!.mode})`).toEqual(want[i]!.tokens);
      expect(g.text).toBe(want[i]!.text);
      expect(g.finishReason).toBe(want[i]!.finishReason);
      expect(g.stats.batch?.queueWaitMs).toBeGreaterThanOrEqual(0);
    });
    // the requests really shared forwards, and prefill chunks ran in ticks with decode steps
    expect(Math.max(...ticks.map((t) => t.requests))).toBeGreaterThan(1);
    expect(Math.max(...ticks.map((t) => t.requests))).toBeLessThanOrEqual(4);
    expect(batched.scheduler!.activeCount).toBe(0);
  });

  it('cancelling one request in a batch does not change the others, and frees its slot', async () => {
    const reqs = requests().slice(0, 4);
    const want: GenerationResult[] = [];
    for (const r of reqs) want.push(await alone.generate(r));
    const ctrl = new AbortController();
    let steps = 0;
    const got = await Promise.all(
      reqs.map((r, i) =>
        batched.generate(
          r,
          i === 1
            ? {
                signal: ctrl.signal,
                onStep: () => {
                  if (++steps === 3) ctrl.abort();
                },
              }
            : {},
        ),
      ),
    );
    expect(got[1]!.finishReason).toBe('cancelled');
    expect(got[1]!.tokens).toEqual(want[1]!.tokens.slice(0, got[1]!.tokens.length));
    for (const i of [0, 2, 3]) expect(got[i]!.tokens, `request ${i}`).toEqual(want[i]!.tokens);
    expect(batched.scheduler!.batch.free).toBe(4);
  });

  it('a request cancelled before it starts never takes a slot; a bad prompt is refused', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const r = await batched.generate(requests()[0]!, { signal: ctrl.signal });
    expect(r.finishReason).toBe('cancelled');
    expect(r.tokens).toEqual([]);
    await expect(
      batched.generate({ prompt: text(0, 600), maxTokens: 4, sampling: { temperature: 0 }, mode: 'ar' }),
    ).rejects.toThrow(/context holds/);
  });
});

describe('Scheduler: prefill oldest first', () => {
  /** Two prompts of more than one 128-token chunk each, sent at once. */
  const long = (): GenerationRequest[] =>
    [0, 1].map((i) => ({
      prompt: text(i + 7, 100),
      maxTokens: 12,
      sampling: { temperature: 0 },
      mode: 'reference' as DecodeMode,
    }));

  it('the first prompt prefills alone, then decodes beside the second prefill; outputs unchanged', async () => {
    const reqs = long();
    const want: GenerationResult[] = [];
    for (const r of reqs) want.push(await alone.generate(r));
    for (const r of reqs) expect(alone.promptTokens(r).length).toBeGreaterThan(129); // 2+ chunks
    ticks.length = 0;
    const got = await Promise.all(reqs.map((r) => batched.generate(r)));
    got.forEach((g, i) => expect(g.tokens, `request ${i}`).toEqual(want[i]!.tokens));
    // one prompt chunk per tick (the oldest request's first): never both prompts in lockstep
    expect(Math.max(...ticks.map((t) => t.prefillChunks))).toBe(1);
    // the first request's decode trees share ticks with the second request's prefill
    expect(ticks.some((t) => t.prefillChunks === 1 && t.requests === 2)).toBe(true);
  });

  it('prefillChunksPerTick 0 prefills both prompts in lockstep, with the same outputs', async () => {
    const lockstep = await loadEngine({
      model: path.join(tmp, 'tiny'),
      variant: 'fp32',
      drafter: 'none',
      costCurve: false,
      threads: 1,
      maxBatch: 4,
      prefillChunksPerTick: 0,
    });
    try {
      const seen: TickInfo[] = [];
      lockstep.tickListeners.push((t) => seen.push(t));
      const reqs = long();
      const want: GenerationResult[] = [];
      for (const r of reqs) want.push(await alone.generate(r));
      const got = await Promise.all(reqs.map((r) => lockstep.generate(r)));
      got.forEach((g, i) => expect(g.tokens, `request ${i}`).toEqual(want[i]!.tokens));
      expect(Math.max(...seen.map((t) => t.prefillChunks))).toBe(2);
    } finally {
      await lockstep.dispose();
    }
  });
});

describe('groupByRows', () => {
  const rows = (p: { rows: number; slot: number }) => p.rows;
  const slot = (p: { rows: number; slot: number }) => p.slot;
  const shape = (g: { rows: number; slot: number }[][]) => g.map((x) => x.map((p) => `${p.slot}:${p.rows}`));
  it('a 128-row prefill chunk runs apart from the decode trees; small trees share one forward', () => {
    const parts = [
      { slot: 0, rows: 3 },
      { slot: 1, rows: 1 },
      { slot: 2, rows: 2 },
      { slot: 3, rows: 128 },
    ];
    // one forward: 4 slots × 128 rows; split: 1 × 128 + 3 × 3 (+ 6 per forward)
    expect(shape(groupByRows(parts, rows, slot))).toEqual([['3:128'], ['0:3', '1:1', '2:2']]);
    expect(shape(groupByRows(parts.slice(0, 3), rows, slot))).toEqual([['0:3', '1:1', '2:2']]);
  });
  it('a split that would not shrink the slot range is not worth a second forward', () => {
    // the 3-row tree sits between the 1-row ones, so the 1-row group still spans 3 slots:
    // one forward 3 × 3 + 6 = 15 rows, split (1 × 3 + 6) + (3 × 1 + 6) = 18
    const parts = [
      { slot: 0, rows: 1 },
      { slot: 1, rows: 3 },
      { slot: 2, rows: 1 },
    ];
    expect(shape(groupByRows(parts, rows, slot))).toEqual([['0:1', '1:3', '2:1']]);
  });
});
