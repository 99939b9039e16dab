/**
 * Tiny GGUF files written by the test (F16 attention, Q4_1 FFN, Q8_0 embedding) → convertGguf
 * (fp32 and int4) → loadCausalLM: the exact KV-cache and tree properties hold on what a user
 * would actually load, and the Optimum export is a chain-only model with the same logits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertGguf, defaultGraph, readManifest } from '../../../src/model/convert.ts';
import { loadCausalLM } from '../../../src/model/load.ts';
import { exportOptimum } from '../../../src/model/onnx/optimum.ts';
import { MASK_BLOCKED, causalMask } from '../../../src/model/types.ts';
import { parseLayers } from '../../../src/cli/commands/convert.ts';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';
import { maxAbsDiff, propertyChecks, range } from './properties.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-convert-'));
/** A fresh folder under the test's temp dir. */
const folder = (name: string) => {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('convertGguf on tiny generated GGUF models', () => {
  const cases = [
    { name: 'llama, tied head', opts: {} },
    { name: 'qwen2 (q/k/v bias), separate head', opts: { arch: 'qwen2' as const, tied: false, seed: 7 } },
  ];
  for (const c of cases) {
    for (const weights of ['fp32', 'int4'] as const) {
      it(`${c.name}, ${weights}`, async () => {
        const dir = folder(`${c.name.replace(/\W+/g, '-')}-${weights}`);
        const tiny = writeTinyLlamaGguf(path.join(dir, 'model.gguf'), c.opts);
        const res = await convertGguf(tiny.path, dir, { weights });
        expect(res.variant).toBe(weights);
        expect(fs.existsSync(path.join(dir, `${weights}.onnx.data`))).toBe(true);
        expect(fs.existsSync(path.join(dir, 'tokenizer.json'))).toBe(true);
        const lm = await loadCausalLM(dir, { variant: weights, threads: 1 });
        expect(lm.capabilities.treeMask).toBe(true);
        expect(lm.config.numLayers).toBe(tiny.config.numLayers);
        await propertyChecks(lm);
        await lm.dispose();
      });
    }
  }

  it('int4 agrees with fp32 (same Q4_1 weights, never dequantised) and variants share one manifest', async () => {
    const dir = folder('both');
    const tiny = writeTinyLlamaGguf(path.join(dir, 'model.gguf'), { layers: 3 });
    await convertGguf(tiny.path, dir, { weights: 'fp32' });
    // fp32 compute and an fp32 head: the int4 layers alone, exact to float rounding.
    await convertGguf(tiny.path, dir, { weights: 'int4', graph: { accuracy: 0, head: 'fp32' } });
    await convertGguf(tiny.path, dir, { weights: 'int4', layers: [0, 2] });
    const m = readManifest(dir)!;
    expect(Object.keys(m.variants).sort()).toEqual(['draft-int4', 'fp32', 'int4']);
    expect(m.variants.int4!.graph).toEqual({ ...defaultGraph('int4'), accuracy: 0, head: 'fp32' });
    expect(m.variants['draft-int4']!.graph).toEqual(defaultGraph('int4'));
    expect(m.variants['draft-int4']!.layers).toEqual([0, 2]);
    const ids = [1, 40, 77, 200, 3, 9];
    const a = await loadCausalLM(dir, { variant: 'fp32', threads: 1 });
    const b = await loadCausalLM(dir, { variant: 'int4', threads: 1 });
    const la = await a.forward(ids, range(0, ids.length), null, a.newCache());
    const lb = await b.forward(ids, range(0, ids.length), null, b.newCache());
    expect(maxAbsDiff(la.data, lb.data)).toBeLessThanOrEqual(1e-3);
    const draft = await loadCausalLM(path.join(dir, 'draft-int4.onnx'), { threads: 1 });
    expect(draft.config.numLayers).toBe(2);
    await propertyChecks(draft);
    for (const lm of [a, b, draft]) await lm.dispose();
  });

  it('the Q8_0 head as 8-bit MatMulNBits equals the fp32 head; int8 compute stays close', async () => {
    const dir = folder('heads');
    // Untied output.weight is Q8_0 in the tiny GGUF, as SmolLM2's tied embedding is.
    const tiny = writeTinyLlamaGguf(path.join(dir, 'model.gguf'), { tied: false });
    const exact = { accuracy: 0 as const, headAccuracy: 0 as const, attention: 'decomposed' as const };
    await convertGguf(tiny.path, dir, {
      weights: 'int4',
      name: 'fp32-head',
      graph: { ...exact, head: 'fp32' },
    });
    await convertGguf(tiny.path, dir, { weights: 'int4', name: 'q8-head', graph: { ...exact, head: 'q8' } });
    await convertGguf(tiny.path, dir, { weights: 'int4', name: 'default' });
    const ids = [1, 40, 77, 200, 3, 9];
    const out: Record<string, Float32Array> = {};
    for (const v of ['fp32-head', 'q8-head', 'default']) {
      const lm = await loadCausalLM(dir, { variant: v, threads: 1 });
      out[v] = (await lm.forward(ids, range(0, ids.length), null, lm.newCache())).data;
      await lm.dispose();
    }
    expect(maxAbsDiff(out['q8-head']!, out['fp32-head']!)).toBeLessThanOrEqual(1e-4);
    // int8 activations in the head: approximate, so compare against the logits' spread.
    let spread = 0;
    for (const x of out['fp32-head']!) spread = Math.max(spread, Math.abs(x));
    expect(maxAbsDiff(out.default!, out['fp32-head']!)).toBeLessThanOrEqual(0.05 * spread);
  });

  it('rejects a layer that does not exist with a one-line error', async () => {
    const tiny = writeTinyLlamaGguf(path.join(folder('bad-layers'), 'model.gguf'));
    await expect(
      convertGguf(tiny.path, path.join(tmp, 'bad-layers'), { weights: 'fp32', layers: [0, 5] }),
    ).rejects.toThrow(/layer 5 does not exist/);
  });
});

describe('Optimum / transformers.js export', () => {
  it('loads as a chain-only CausalLM with the same logits as the tree-capable graph', async () => {
    const dir = path.join(tmp, 'optimum');
    const tiny = writeTinyLlamaGguf(path.join(folder('opt-src'), 'model.gguf'), { arch: 'qwen2', seed: 3 });
    await exportOptimum(tiny.path, dir, { weights: 'fp32' });
    for (const f of [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model.onnx',
    ]) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    await convertGguf(tiny.path, path.join(tmp, 'opt-src'), { weights: 'fp32' });
    const ours = await loadCausalLM(path.join(tmp, 'opt-src'), { variant: 'fp32', threads: 1 });
    const opt = await loadCausalLM(dir, { threads: 1 });
    expect(opt.capabilities.treeMask).toBe(false);
    expect(opt.config).toMatchObject({ ...tiny.config, name: expect.any(String) });

    // A prefill then two chain steps: same logits as ours.
    const c1 = ours.newCache();
    const c2 = opt.newCache();
    for (const [ids, p] of [
      [[1, 50, 60, 70], 0],
      [[80], 4],
      [[90, 91], 5],
    ] as [number[], number][]) {
      const a = await ours.forward(ids, range(p, ids.length), null, c1);
      const b = await opt.forward(ids, range(p, ids.length), causalMask(p, ids.length), c2);
      expect(maxAbsDiff(a.data, b.data)).toBeLessThanOrEqual(1e-4);
    }
    // A tree mask is refused with a clear error.
    const tree = causalMask(c2.length, 2);
    tree[1 * (c2.length + 2) + c2.length] = MASK_BLOCKED; // node 1 does not see node 0: two branches
    await expect(opt.forward([5, 6], [7, 7], tree, c2)).rejects.toThrow(/only runs causal chains/);
    await ours.dispose();
    await opt.dispose();
  });
});

describe('ragspec convert --layers', () => {
  it('parses lists and ranges, and rejects malformed specs with a one-line message', () => {
    expect(parseLayers('0,1,2')).toEqual([0, 1, 2]);
    expect(parseLayers('0-3,8,10-11')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseLayers('5,1,1')).toEqual([1, 5]);
    expect(() => parseLayers('a-b')).toThrow(/--layers: "a-b" is not a layer index or range/);
    expect(() => parseLayers('5-2')).toThrow(/runs backwards/);
    expect(() => parseLayers(',')).toThrow(/empty/);
  });
});
