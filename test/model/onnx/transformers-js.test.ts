/**
 * The Optimum/transformers.js export really runs in @huggingface/transformers (offline, local
 * folder) and its greedy tokens equal ours.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, expect, it } from 'vitest';
import { convertGguf } from '../../../src/model/convert.ts';
import { loadCausalLM, loadModelTokenizer } from '../../../src/model/load.ts';
import { exportOptimum } from '../../../src/model/onnx/optimum.ts';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-tjs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('transformers.js loads the export and decodes the same greedy tokens', async () => {
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  const tiny = writeTinyLlamaGguf(path.join(src, 'model.gguf'), { seed: 5 });
  await exportOptimum(tiny.path, path.join(tmp, 'export', 'tiny'), { weights: 'int4' });
  await convertGguf(tiny.path, src, { weights: 'int4' });

  env.allowRemoteModels = false;
  env.localModelPath = path.join(tmp, 'export') + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained('tiny');
  const model = await AutoModelForCausalLM.from_pretrained('tiny', { dtype: 'fp32', device: 'cpu' });
  const prompt = 'the cat sat in the hat';
  const inputs = tokenizer(prompt);
  const n = inputs.input_ids.dims[1] as number;
  const out = await model.generate({
    ...inputs,
    max_new_tokens: 12,
    do_sample: false,
    eos_token_id: -1,
  } as never);
  const theirs = Array.from((out as { data: BigInt64Array }).data, Number).slice(n);
  await model.dispose();

  const lm = await loadCausalLM(src, { variant: 'int4', threads: 1 });
  const tok = loadModelTokenizer(src);
  let ids = tok.encode(prompt);
  expect(ids.length).toBe(n);
  const cache = lm.newCache();
  const ours: number[] = [];
  for (let k = 0; k < 12; k++) {
    const r = await lm.forward(
      ids,
      ids.map((_, i) => cache.length + i),
      null,
      cache,
    );
    const row = r.data.subarray((r.rows - 1) * r.vocabSize);
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
    ours.push(best);
    ids = [best];
  }
  await lm.dispose();
  expect(theirs).toEqual(ours);
}, 60_000);
