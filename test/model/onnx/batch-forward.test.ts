/**
 * Continuous batching on tiny random models: the logits of requests run together in one
 * forward (mixed prefill chunks and decode trees of different lengths, across capacity steps,
 * with a slot released in the middle) equal each request run alone.
 */
import { describe, expect, it } from 'vitest';
import { OnnxCausalLM } from '../../../src/model/onnx/causal-lm.ts';
import { buildLlamaGraph, type LlamaGraphOptions } from '../../../src/model/onnx/llama-graph.ts';
import { MASK_BLOCKED, type BatchPart, type KvCache } from '../../../src/model/types.ts';
import { maxAbsDiff, range } from './properties.ts';
import { randomWeights, tinyConfig } from './random-weights.ts';

async function build(extra: Partial<LlamaGraphOptions> = {}) {
  const cfg = tinyConfig({ numHeads: 4, numKvHeads: 2 });
  const g = buildLlamaGraph(randomWeights(cfg, 11), {
    weights: 'fp32',
    mask: '4d',
    kv: 'capacity',
    ...extra,
  });
  return OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 });
}

/** A tree of `n` nodes after `past` rows: node i's parent is `parents[i]` (-1 for the root). */
function treeMask(past: number, parents: number[]): Float32Array {
  const s = parents.length;
  const m = new Float32Array(s * (past + s)).fill(MASK_BLOCKED);
  for (let i = 0; i < s; i++) {
    m.fill(0, i * (past + s), i * (past + s) + past);
    for (let j = i; j >= 0; j = parents[j]!) m[i * (past + s) + past + j] = 0;
  }
  return m;
}

interface Op {
  tokens: number[];
  /** tree parents (null: causal chain) */
  parents?: number[];
  /** keep these of the appended rows after the step */
  keep?: number[];
  logitRows?: number[];
}

const tok = (seed: number, n: number) => range(0, n).map((i) => (seed * 7 + i * 13) % 64);

/** Three requests' schedules, step by step (undefined: the request sits this step out). */
const SCHEDULE: (Op | undefined)[][] = [
  // prefill chunks of different lengths (one crosses the 64-row capacity step)
  [{ tokens: tok(1, 10), logitRows: [9] }, { tokens: tok(2, 5) }, { tokens: tok(3, 70), logitRows: [69] }],
  // mixed: a decode tree, a prefill chunk, a single decode row
  [{ tokens: [3, 4, 5], parents: [-1, 0, 0], keep: [0, 2] }, { tokens: tok(4, 8) }, { tokens: [6] }],
  // a chain, nothing, a deeper tree
  [{ tokens: [7, 8] }, undefined, { tokens: [9, 10, 11, 12], parents: [-1, 0, 1, 0], keep: [0, 3] }],
  [{ tokens: [13] }, { tokens: [14, 15], parents: [-1, 0] }, { tokens: [16] }],
];

function part(op: Op, cache: KvCache): BatchPart {
  const p = cache.length;
  const positions = op.parents
    ? op.parents.map((_, i) => {
        let d = 0;
        for (let j = i; op.parents![j]! >= 0; j = op.parents![j]!) d++;
        return p + d;
      })
    : op.tokens.map((_, i) => p + i);
  return {
    tokens: op.tokens,
    positions,
    mask: op.parents ? treeMask(p, op.parents) : null,
    cache,
    logitRows: op.logitRows,
  };
}

async function alone(lm: OnnxCausalLM, r: number, steps: number): Promise<Float32Array[]> {
  const cache = lm.newCache();
  const out: Float32Array[] = [];
  for (const step of SCHEDULE.slice(0, steps)) {
    const op = step[r];
    if (!op) continue;
    const pt = part(op, cache);
    out.push((await lm.forward(pt.tokens, pt.positions, pt.mask, cache, { logitRows: op.logitRows })).data);
    if (op.keep) cache.keep(op.keep);
  }
  return out;
}

describe.each([
  ['logit rows', { logitRows: true }],
  ['all rows', {}],
] as const)('batched forward = each request alone (%s)', (_name, extra) => {
  it('mixed prefill and decode trees of different lengths, then a slot released mid-batch', async () => {
    const lm = await build(extra);
    expect(lm.capabilities.batch).toBe(true);
    const batch = lm.newBatch(4);
    const caches = [batch.newCache(), batch.newCache(), batch.newCache()];
    const got: Float32Array[][] = [[], [], []];
    const live = [true, true, true];
    for (let t = 0; t < SCHEDULE.length; t++) {
      if (t === 3) {
        // request 0 leaves: request 2's slot moves into its place
        batch.release(caches[0]!);
        live[0] = false;
        expect(batch.free).toBe(2);
      }
      const idx = SCHEDULE[t]!.map((op, r) => (op && live[r] ? r : -1)).filter((r) => r >= 0);
      const logits = await batch.forward(idx.map((r) => part(SCHEDULE[t]![r]!, caches[r]!)));
      idx.forEach((r, i) => {
        got[r]!.push(logits[i]!.data);
        const keep = SCHEDULE[t]![r]!.keep;
        if (keep) caches[r]!.keep(keep);
      });
    }
    for (let r = 0; r < 3; r++) {
      const want = await alone(lm, r, r === 0 ? 3 : SCHEDULE.length);
      expect(got[r]!.length).toBe(want.length);
      want.forEach((w, i) =>
        expect(maxAbsDiff(got[r]![i]!, w), `request ${r} step ${i}`).toBeLessThanOrEqual(1e-4),
      );
    }
    // a slot's clone continues like the slot (a forward over slot 1 alone: the arena fed from an offset)
    const solo = caches[1]!.clone();
    const a = await lm.forward([20], [solo.length], null, solo);
    const [b] = await batch.forward([
      { tokens: [20], positions: [caches[1]!.length], mask: null, cache: caches[1]! },
    ]);
    expect(maxAbsDiff(a.data, b!.data)).toBeLessThanOrEqual(1e-4);
    // a new slot can start from a standalone cache (prefix-cache hit)
    const resumed = batch.newCache(solo);
    const [c] = await batch.forward([
      { tokens: [21], positions: [resumed.length], mask: null, cache: resumed },
    ]);
    const d = await lm.forward([21], [solo.length], null, solo);
    expect(maxAbsDiff(c!.data, d.data)).toBeLessThanOrEqual(1e-4);
    await lm.dispose();
  });
});

it('a slot of another batch, two parts in one slot and a full batch are refused', async () => {
  const lm = await build({ logitRows: true });
  const a = lm.newBatch(1);
  const b = lm.newBatch(1);
  const ca = a.newCache();
  expect(() => a.newCache()).toThrow(/batch slots/);
  await expect(b.forward([{ tokens: [1], positions: [0], mask: null, cache: ca }])).rejects.toThrow(
    /live slot/,
  );
  const p = { tokens: [1], positions: [0], mask: null, cache: ca };
  await expect(a.forward([p, p])).rejects.toThrow(/share one KV slot/);
  a.release(ca);
  await expect(a.forward([p])).rejects.toThrow(/live slot/);
  await lm.dispose();
});
