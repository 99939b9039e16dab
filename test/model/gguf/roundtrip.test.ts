import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gguf } from '@huggingface/gguf';
import { writeGguf } from '../../../src/model/gguf/writer.ts';
import { loadWeights, openGguf } from '../../../src/model/gguf/reader.ts';
import { dequantize, q4BlockFields } from '../../../src/model/gguf/dequant.ts';
import { quantize, type QuantizableType } from '../../../src/model/gguf/quantize.ts';
import { seededRandom, writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-gguf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function randomValues(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * (1 + 3 * r());
  return v;
}

/** Largest error a type may make on a 32-element block with range [min, max]. */
function blockTolerance(type: QuantizableType, block: Float32Array): number {
  let min = Infinity,
    max = -Infinity,
    amax = 0;
  for (const x of block) {
    min = Math.min(min, x);
    max = Math.max(max, x);
    amax = Math.max(amax, Math.abs(x));
  }
  // Half the step, plus the f16 rounding of the scale (and min) carried through the quants.
  switch (type) {
    case 'F32':
      return 0;
    case 'F16':
      return amax * 2 ** -11 + 6e-8;
    case 'BF16':
      return amax * 2 ** -8;
    case 'Q8_0':
      return (amax / 127) * 0.5 + amax * 2 ** -10;
    // Q4_0 spans [-8d, 7d] with 8|d| = amax: the side opposite the extreme may clip by one step.
    case 'Q4_0':
      return amax / 8 + amax * 2 ** -10 * 2;
    case 'Q4_1':
      return ((max - min) / 15) * 0.5 + (max - min + Math.abs(min)) * 2 ** -10;
  }
}

describe('GGUF writer round trip', () => {
  const types: QuantizableType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1'];
  it.each(types)('%s: write, parse with @huggingface/gguf, dequantise ≈ original', async (type) => {
    const ne = [64, 3];
    const values = randomValues(64 * 3, 42);
    const file = path.join(dir, `rt-${type}.gguf`);
    writeGguf(file, {
      metadata: {
        'general.architecture': 'llama',
        'test.float': { type: 'FLOAT32', value: 0.5 },
        'test.list': ['a', 'b'],
      },
      tensors: [
        { name: 'a', ne: [32], type: 'F32', values: new Float32Array(32).fill(1) },
        { name: 'w', ne, type, values },
      ],
    });
    const parsed = await gguf(file, { allowLocalFile: true });
    expect(parsed.metadata['general.alignment' as never]).toBe(32);
    expect(parsed.metadata['test.float' as never]).toBe(0.5);
    expect(parsed.metadata['test.list' as never]).toEqual(['a', 'b']);
    const info = parsed.tensorInfos[1]!;
    expect(info.shape.map(Number)).toEqual(ne);
    expect(Number(parsed.tensorDataOffset + info.offset) % 32).toBe(0);

    const g = await openGguf(file);
    const t = g.tensors[1]!;
    const bytes = fs.readFileSync(file).subarray(t.fileOffset, t.fileOffset + t.byteSize!);
    const back = dequantize(t.type!, bytes, 64 * 3);
    for (let b = 0; b < back.length / 32; b++) {
      const orig = values.subarray(b * 32, b * 32 + 32);
      const tol = blockTolerance(type, orig);
      for (let j = 0; j < 32; j++) expect(Math.abs(back[b * 32 + j]! - orig[j]!)).toBeLessThanOrEqual(tol);
    }
  });

  it('Q4 block fields reproduce dequantised values exactly (value = q*d + m)', () => {
    const values = randomValues(128, 3);
    for (const type of ['Q4_0', 'Q4_1'] as const) {
      const raw = quantize(type, values);
      const deq = dequantize(type, raw, 128);
      const f = q4BlockFields({ name: 'x', ne: [64, 2], type, raw });
      expect(f.blocks).toBe(4);
      for (let i = 0; i < 128; i++) {
        const b = Math.floor(i / 32);
        expect(f.q[i]).toBeLessThan(16);
        expect(Math.fround(f.q[i]! * f.d[b]! + f.m[b]!)).toBe(deq[i]);
      }
    }
  });
});

describe('tiny GGUF fixture', () => {
  it('reads back with the config it declares (llama, tied)', async () => {
    const tiny = writeTinyLlamaGguf(path.join(dir, 'tiny.gguf'));
    const w = await loadWeights(tiny.path);
    expect(w.config).toEqual(tiny.config);
    expect(w.raw('token_embd.weight').type).toBe('Q8_0');
    expect(w.raw('blk.0.attn_q.weight').type).toBe('F16');
    expect(w.raw('blk.1.ffn_down.weight').type).toBe('Q4_1');
    expect(w.raw('blk.1.ffn_down.weight').ne).toEqual([128, 64]);
    expect(w.has('output.weight')).toBe(false);
    expect(w.f32('token_embd.weight').length).toBe(64 * tiny.config.vocabSize);
    expect(w.names()).toContain('output_norm.weight');
  });

  it('qwen2 with biases and a separate output head', async () => {
    const tiny = writeTinyLlamaGguf(path.join(dir, 'tiny-qwen2.gguf'), {
      arch: 'qwen2',
      tied: false,
      seed: 5,
      ropeLinearScale: 2,
    });
    const w = await loadWeights(tiny.path);
    expect(w.config).toEqual(tiny.config);
    expect(w.config).toMatchObject({
      arch: 'qwen2',
      qkvBias: true,
      tiedEmbeddings: false,
      ropeScaling: { type: 'linear', factor: 2 },
    });
    expect(w.f32('blk.0.attn_k.bias').length).toBe(32);
    expect(w.raw('output.weight').type).toBe('Q8_0');
  });

  it('is deterministic for a seed', () => {
    const a = writeTinyLlamaGguf(path.join(dir, 'a.gguf'), { seed: 9 });
    const b = writeTinyLlamaGguf(path.join(dir, 'b.gguf'), { seed: 9 });
    expect(fs.readFileSync(a.path).equals(fs.readFileSync(b.path))).toBe(true);
  });
});
