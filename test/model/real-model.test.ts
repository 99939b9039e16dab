/**
 * The real target model (SmolLM2-135M-Instruct, Q4_1 GGUF) converted by our own builder, fp32
 * and int4. Fails — never skips — when the model is missing (`targetGguf()` says to run setup).
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertGguf } from '../../src/model/convert.ts';
import { loadCausalLM, loadModelTokenizer } from '../../src/model/load.ts';
import type { OnnxCausalLM } from '../../src/model/onnx/causal-lm.ts';
import { renderChat, type TextTokenizer } from '../../src/model/tokenizer/index.ts';
import type { CausalLM } from '../../src/model/types.ts';
import { targetGguf } from '../helpers/assets.ts';
import { propertyChecks } from './onnx/properties.ts';

const argmax = (row: Float32Array) => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
};

async function greedy(
  lm: CausalLM,
  prompt: number[],
  maxNew: number,
  stop: readonly number[] = [],
): Promise<number[]> {
  const cache = lm.newCache();
  const out: number[] = [];
  let ids = prompt;
  for (let k = 0; k < maxNew; k++) {
    const r = await lm.forward(
      ids,
      ids.map((_, i) => cache.length + i),
      null,
      cache,
    );
    const next = argmax(r.data.subarray((r.rows - 1) * r.vocabSize, r.rows * r.vocabSize));
    if (stop.includes(next)) break;
    out.push(next);
    ids = [next];
  }
  return out;
}

/** Perplexity of `ids` under one causal forward: exp(mean NLL of ids[1..] given the prefix). */
async function perplexity(lm: CausalLM, ids: number[]): Promise<number> {
  const r = await lm.forward(
    ids,
    ids.map((_, i) => i),
    null,
    lm.newCache(),
  );
  let nll = 0;
  for (let i = 0; i + 1 < ids.length; i++) {
    const row = r.data.subarray(i * r.vocabSize, (i + 1) * r.vocabSize);
    let mx = -Infinity;
    for (const v of row) mx = Math.max(mx, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - mx);
    nll += mx + Math.log(z) - row[ids[i + 1]!]!;
  }
  return Math.exp(nll / (ids.length - 1));
}

/** A paragraph of npm's own docs (the default corpus): the Description of `npm install`. */
function npmDocsParagraph(): string {
  const root = execSync('npm root -g', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const md = fs.readFileSync(path.join(root, 'npm', 'docs', 'content', 'commands', 'npm-install.md'), 'utf8');
  const start = md.indexOf('### Description');
  expect(start).toBeGreaterThan(0);
  return md
    .slice(start + '### Description'.length)
    .trim()
    .slice(0, 900);
}

describe('real model: SmolLM2-135M-Instruct', () => {
  let dir: string;
  let tok: TextTokenizer;
  const lms: Record<'fp32' | 'int4', OnnxCausalLM> = {} as never;

  beforeAll(async () => {
    const gguf = targetGguf();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-real-'));
    for (const weights of ['fp32', 'int4'] as const) {
      await convertGguf(gguf, dir, { weights });
      lms[weights] = await loadCausalLM(dir, { variant: weights });
    }
    tok = loadModelTokenizer(dir);
  }, 180_000);

  afterAll(async () => {
    for (const lm of Object.values(lms)) await lm?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const weights of ['fp32', 'int4'] as const) {
    it(`${weights}: greedy completion of "The capital of France is" names Paris`, async () => {
      const out = await greedy(lms[weights], tok.encode('The capital of France is'), 8);
      expect(tok.decode(out)).toContain('Paris');
    });

    it(`${weights}: chat answer to "What is 2+2?" contains 4`, async () => {
      const prompt = renderChat(tok, [{ role: 'user', content: 'What is 2+2?' }]);
      const out = await greedy(lms[weights], tok.encode(prompt), 40, tok.eosIds);
      expect(tok.decode(out, { skipSpecial: true })).toContain('4');
    });
  }

  it('perplexity on a paragraph of npm docs stays under the measured bound, fp32 and int4 alike', async () => {
    const ids = tok.encode(npmDocsParagraph());
    expect(ids.length).toBeGreaterThan(100);
    const fp32 = await perplexity(lms.fp32, ids);
    const int4 = await perplexity(lms.int4, ids);
    // Measured on npm 11's npm-install.md (249 tokens of markdown): fp32 11.26, int4 11.26.
    // A broken RoPE, attention or weight layout gives hundreds to tens of thousands (uniform
    // over the vocabulary is 49152); 25 leaves ~2× room for other npm versions of the paragraph.
    expect(fp32).toBeLessThan(25);
    expect(int4).toBeLessThan(25);
    // fp32 and int4 compute the same Q4_1 weights (int4 just never dequantises them), so their
    // perplexities agree to float rounding.
    expect(Math.abs(fp32 - int4) / fp32).toBeLessThan(0.01);
    console.log(`perplexity over ${ids.length} tokens: fp32 ${fp32.toFixed(3)}, int4 ${int4.toFixed(3)}`);
  });

  for (const weights of ['fp32', 'int4'] as const) {
    it(`${weights}: incremental = full forward, tree = branches, keep = chosen branch (max |Δlogit| ≤ 1e-3)`, async () => {
      await propertyChecks(lms[weights]);
    });
  }

  it('fp32 and int4 agree on a 32-token greedy continuation', async () => {
    const prompt = tok.encode('npm is the package manager for');
    const a = await greedy(lms.fp32, prompt, 32);
    const b = await greedy(lms.int4, prompt, 32);
    expect(b).toEqual(a);
  });
});
