import { describe, expect, it } from 'vitest';
import { argmax, sampleFrom, targetDistribution } from '../../src/verify/sampling.ts';
import { Rng } from '../../src/verify/rng.ts';

describe('samplers', () => {
  it('temperature 0 is argmax (first index on ties)', () => {
    expect(argmax([1, 3, 3, 0])).toBe(1);
    expect(Array.from(targetDistribution([1, 3, 3, 0], { temperature: 0 }))).toEqual([0, 1, 0, 0]);
  });

  it('temperature scales logits before softmax', () => {
    const p = targetDistribution([0, Math.log(3)], { temperature: 1 });
    expect(p[1]! / p[0]!).toBeCloseTo(3, 6);
    const p2 = targetDistribution([0, Math.log(3)], { temperature: 0.5 });
    expect(p2[1]! / p2[0]!).toBeCloseTo(9, 6);
  });

  it('top-k keeps the k most likely tokens', () => {
    const p = targetDistribution([1, 4, 2, 3], { temperature: 1, topK: 2 });
    expect(p[0]).toBe(0);
    expect(p[2]).toBe(0);
    expect(p[1]! + p[3]!).toBeCloseTo(1, 9);
  });

  it('top-p keeps the smallest set reaching the mass, at least one token', () => {
    // probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.7 keeps {0.5, 0.3}; top-p 0.1 keeps {0.5}.
    const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
    const p = targetDistribution(logits, { temperature: 1, topP: 0.7 });
    expect(p[0]).toBeCloseTo(0.5 / 0.8, 9);
    expect(p[1]).toBeCloseTo(0.3 / 0.8, 9);
    expect(p[2]).toBe(0);
    const p1 = targetDistribution(logits, { temperature: 1, topP: 0.1 });
    expect(Array.from(p1)).toEqual([1, 0, 0, 0]);
  });

  it('top-p on a flat large vocabulary stays exact (threshold search lowers itself)', () => {
    const v = 50000;
    const logits = new Float32Array(v); // uniform: every p = 2e-5 < the first threshold
    const p = targetDistribution(logits, { temperature: 1, topP: 0.5 });
    let kept = 0;
    for (const x of p) if (x > 0) kept++;
    expect(kept).toBe(25000);
  });

  it('the seeded rng is reproducible and roughly uniform', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    const counts = [0, 0, 0];
    const r = new Rng(7);
    for (let i = 0; i < 30000; i++) counts[sampleFrom([0.2, 0.5, 0.3], r)]!++;
    expect(counts[1]! / 30000).toBeCloseTo(0.5, 1);
  });
});
