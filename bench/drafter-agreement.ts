/**
 * How well a self-drafting model (a layer subset of the target GGUF) predicts the target:
 * top-1 agreement with the target's greedy token at every answer position (prompt + the
 * target's own answer, teacher-forced), and its forward cost relative to the target.
 * Part of `npm run bench`; results go into the Engine section of docs/BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertGguf } from '../src/model/convert.ts';
import { loadCausalLM } from '../src/model/load.ts';
import type { CausalLM } from '../src/model/types.ts';
import { argmax } from '../src/verify/sampling.ts';

export interface SubsetResult {
  name: string;
  layers: number[];
  agreement: number;
  positions: number;
  relCost: number;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
export const SUBSETS: Record<string, number[]> = {
  'first 6 (0-5)': range(0, 5),
  'first 10 (0-9)': range(0, 9),
  'first 15 (0-14)': range(0, 14),
  'first 6 + last 6': [...range(0, 5), ...range(24, 29)],
  'every other (0,2,…,28)': range(0, 14).map((x) => 2 * x),
};

async function greedyRows(lm: CausalLM, ids: number[]): Promise<{ argmax: number[]; ms: number }> {
  const cache = lm.newCache();
  const out: number[] = [];
  const t0 = performance.now();
  for (let s = 0; s < ids.length; s += 256) {
    const chunk = ids.slice(s, s + 256);
    const l = await lm.forward(
      chunk,
      chunk.map((_, i) => s + i),
      null,
      cache,
    );
    for (let i = 0; i < l.rows; i++)
      out.push(argmax(l.data.subarray(i * l.vocabSize, (i + 1) * l.vocabSize)));
  }
  return { argmax: out, ms: performance.now() - t0 };
}

/** @param seqs prompt+answer token sequences, with the index where the answer's predictions start */
export async function drafterAgreement(
  gguf: string,
  targetDir: string,
  seqs: { ids: number[]; from: number }[],
): Promise<SubsetResult[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-subsets-'));
  try {
    const target = await loadCausalLM(targetDir);
    const ref: number[][] = [];
    let targetMs = 0;
    for (const s of seqs) {
      const r = await greedyRows(target, s.ids);
      ref.push(r.argmax);
      targetMs += r.ms;
    }
    await target.dispose();
    const results: SubsetResult[] = [];
    for (const [name, layers] of Object.entries(SUBSETS)) {
      await convertGguf(gguf, tmp, { weights: 'int4', layers, name: 'sub' });
      const lm = await loadCausalLM(tmp, { variant: 'sub' });
      let agree = 0;
      let n = 0;
      let ms = 0;
      for (const [k, s] of seqs.entries()) {
        const r = await greedyRows(lm, s.ids);
        ms += r.ms;
        for (let i = s.from; i < s.ids.length; i++) {
          n++;
          if (r.argmax[i] === ref[k]![i]) agree++;
        }
      }
      await lm.dispose();
      results.push({ name, layers, agreement: agree / Math.max(1, n), positions: n, relCost: ms / targetMs });
    }
    return results;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function subsetsMarkdown(rs: SubsetResult[]): string {
  return [
    '| self-drafting layers | top-1 agreement with the target on answer tokens | forward cost vs target |',
    '| --- | --- | --- |',
    ...rs.map(
      (r) =>
        `| ${r.name} | ${(100 * r.agreement).toFixed(1)}% (${r.positions} positions) | ${r.relCost.toFixed(2)} |`,
    ),
  ].join('\n');
}
