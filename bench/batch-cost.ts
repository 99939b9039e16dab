/**
 * One-off cost probe for issue 11: one forward of N requests' rows vs N separate forwards, for
 * (a) a batch dimension [B,...] and (b) concatenated rows over one shared KV pool (B = 1).
 *   node bin/run-ts.js bench/batch-cost.ts [past=600] [threads=2]
 */
import path from 'node:path';
import { OrtModel, type HostTensor } from '../src/model/onnx/session.ts';
import { paths } from '../src/util/paths.ts';

const past = Number(process.argv[2] ?? 600);
const threads = Number(process.argv[3] ?? 2);
const file = path.join(paths.targetModel(), 'int4.onnx');
const m = await OrtModel.load(file, { intraOpThreads: threads, spinning: false });
const L = 30,
  HKV = 3,
  D = 64;
const hasRows = m.inputNames.includes('logit_rows');

function feeds(b: number, s: number, c: number): Record<string, HostTensor> {
  const f: Record<string, HostTensor> = {
    input_ids: { type: 'int64', data: new BigInt64Array(b * s).fill(100n), dims: [b, s] },
    position_ids: {
      type: 'int64',
      data: BigInt64Array.from({ length: b * s }, (_, i) => BigInt(past + (i % s))),
      dims: [b, s],
    },
    attention_mask: { type: 'float32', data: new Float32Array(b * s * (c + s)), dims: [b, 1, s, c + s] },
  };
  for (let i = 0; i < L; i++) {
    for (const kv of ['key', 'value'])
      f[`past_key_values.${i}.${kv}`] = {
        type: 'float32',
        data: new Float32Array(b * HKV * c * D).fill(0.01),
        dims: [b, HKV, c, D],
      };
  }
  if (hasRows)
    f.logit_rows = {
      type: 'int64',
      data: BigInt64Array.from({ length: b * s }, (_, i) => BigInt(i)),
      dims: [b * s],
    };
  return f;
}
async function time(b: number, s: number, c: number, reps = 5): Promise<number> {
  const f = feeds(b, s, c);
  await m.run(f);
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await m.run(f);
    ts.push(performance.now() - t);
  }
  ts.sort((x, y) => x - y);
  return ts[Math.floor(ts.length / 2)]!;
}
const n = 8;
console.log(`past ${past} rows per request, ${n} requests, threads ${threads}, logit_rows ${hasRows}`);
for (const rows of [1, 2, 4, 8]) {
  const single = await time(1, rows, past);
  let a = NaN;
  try {
    a = await time(n, rows, past);
  } catch (e) {
    console.log('batch dim failed', String(e).slice(0, 200));
  }
  const bcat = await time(1, n * rows, n * past);
  console.log(
    `rows ${rows}: separate ${n}x${single.toFixed(1)} = ${(n * single).toFixed(1)} ms | (a) B=${n} ${a.toFixed(1)} ms | (b) concat S=${n * rows} C=${n * past} ${bcat.toFixed(1)} ms`,
  );
}
await m.dispose();
