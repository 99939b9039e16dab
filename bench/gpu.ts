/**
 * `npm run bench:gpu` — the target model on a GPU, meant for a lent GPU machine, a few
 * minutes at most. First checks that a GPU adapter is there (exit 2 with the reason if
 * not), then measures, on the device:
 *  - the cost curve: one forward of S = 1..64 new tokens over a 512-token past (median ms,
 *    and × the S = 1 step), which is where tree verification pays on a GPU;
 *  - prefill tok/s (512 tokens in chunks of 128, last row's logits) and decode tok/s;
 *  - a few greedy answers (dev questions, each with its evidence passage, so no corpus index
 *    is needed) in `ar` and `hybrid`, checked token-identical (exit 1 if not);
 * and prints one JSON summary on stdout (also written to DIR/gpu-summary.json).
 * Writes nothing outside --out DIR: the forward-cost cache and anything else ragspec keeps
 * under RAGSPEC_HOME go to DIR/home (a temporary folder, removed, without --out).
 * Needs the converted model (`npx ragspec setup`, or --model DIR).
 * Flags: --device webgpu|cuda|cpu (default webgpu; cpu runs the same script without a GPU, to
 *        check it), --out DIR, --model DIR, --variant NAME, --questions N (3),
 *        --max-tokens N (64), --runs N (5), --threads N (CPU threads), --help.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { answerMessages } from '../src/answer/prompt.ts';
import { parseDevice } from '../src/cli/decode-flags.ts';
import { loadEngine } from '../src/engine/load.ts';
import type { DecodeMode, GenerationResult } from '../src/engine/types.ts';
import { readManifest } from '../src/model/convert.ts';
import { loadCausalLM } from '../src/model/load.ts';
import type { OnnxCausalLM } from '../src/model/onnx/causal-lm.ts';
import type { KvCache } from '../src/model/types.ts';
import { errorMessage, RagspecError } from '../src/util/errors.ts';
import { paths, repoRoot } from '../src/util/paths.ts';
import { flag, helpFromHeader } from './args.ts';

helpFromHeader(import.meta.url);
const device = parseDevice(flag('device') ?? 'webgpu');
const modelDir = path.resolve(flag('model') ?? paths.targetModel());
const variant = flag('variant');
const questions = Number(flag('questions') ?? 3);
const maxTokens = Number(flag('max-tokens') ?? 64);
const runs = Number(flag('runs') ?? 5);
const threads = flag('threads') === undefined ? undefined : Number(flag('threads'));
const PAST = 512;
const CHUNK = 128;
const SIZES = [1, 2, 4, 8, 16, 32, 64];
const DECODE = 32;

// Everything ragspec would write under its home goes inside the output folder.
const outFlag = flag('out');
const out = outFlag ? path.resolve(outFlag) : fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-bench-gpu-'));
if (!outFlag) process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
process.env.RAGSPEC_HOME = path.join(out, 'home');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const now = () => performance.now();
const pos = (p: number, n: number) => Array.from({ length: n }, (_, i) => p + i);
/** Deterministic ids in the vocabulary's common range (timing does not depend on text). */
const ids = Array.from({ length: PAST + 128 }, (_, i) => 200 + ((i * 7919) % 20000));

async function prefill(lm: OnnxCausalLM, n: number): Promise<KvCache> {
  const c = lm.newCache();
  for (let s = 0; s < n; s += CHUNK) {
    const t = ids.slice(s, Math.min(n, s + CHUNK));
    await lm.forward(t, pos(s, t.length), null, c, { logitRows: [t.length - 1] });
  }
  return c;
}

/** Step 0: the adapter. A missing GPU is exit 2 with one line, before anything is measured. */
let placement: string | null = null;
let lm: OnnxCausalLM;
try {
  lm = await loadCausalLM(modelDir, {
    device,
    variant,
    threads,
    onPlacement: (line) => (placement = line),
  });
} catch (err) {
  const noGpu = err instanceof RagspecError && err.kind === 'unavailable' && device !== 'cpu';
  console.error(`bench:gpu: ${errorMessage(err)}`);
  process.exit(noGpu ? 2 : 1);
}

// 1. Cost curve, prefill and decode (warm-up first: kernels are compiled on first use).
const past = await prefill(lm, PAST);
for (const s of SIZES) await lm.forward(ids.slice(PAST, PAST + s), pos(PAST, s), null, past.clone());
const curve = new Map<number, number[]>(SIZES.map((s) => [s, []]));
const prefillMs: number[] = [];
const decodeMs: number[] = [];
for (let r = 0; r < runs; r++) {
  for (const s of SIZES) {
    const cache = past.clone();
    const t = now();
    await lm.forward(ids.slice(PAST, PAST + s), pos(PAST, s), null, cache);
    curve.get(s)!.push(now() - t);
  }
  let t = now();
  const c = await prefill(lm, PAST);
  prefillMs.push(now() - t);
  for (let k = 0; k < DECODE; k++) {
    t = now();
    await lm.forward([ids[PAST + k]!], [PAST + k], null, c);
    decodeMs.push(now() - t);
  }
  console.error(`round ${r + 1}/${runs}`);
}
await lm.dispose();
const s1 = median(curve.get(1)!);

// 2. Greedy answers, ar and hybrid, token-identical.
const manifest = readManifest(modelDir);
const engine = await loadEngine({
  model: modelDir,
  variant,
  device,
  threads,
  // 'auto' would convert the self-drafting variant into the model folder when it is missing.
  drafter: manifest?.variants['draft-int4'] ? 'auto' : 'none',
});
const evalFile = path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const items = fs.existsSync(evalFile)
  ? fs
      .readFileSync(evalFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; question: string; source: string; evidence: string })
      .slice(0, questions)
  : [];
const answers = [];
for (const item of items) {
  const passage = { id: 1, text: item.evidence, start: 0, title: item.source, path: item.source };
  const res = new Map<DecodeMode, GenerationResult>();
  for (const mode of ['ar', 'hybrid'] as const) {
    res.set(
      mode,
      await engine.generate({
        messages: answerMessages(item.question, [passage]),
        passages: [passage],
        maxTokens,
        sampling: { temperature: 0 },
        mode,
      }),
    );
  }
  const ar = res.get('ar')!;
  const hy = res.get('hybrid')!;
  answers.push({
    id: item.id,
    tokens: ar.tokens.length,
    identical: ar.tokens.length === hy.tokens.length && ar.tokens.every((t, i) => t === hy.tokens[i]),
    arDecodeTokPerS: +ar.stats.decodeTokensPerSecond.toFixed(1),
    hybridDecodeTokPerS: +hy.stats.decodeTokensPerSecond.toFixed(1),
    hybridTokensPerForward: +hy.stats.tokensPerStep.toFixed(2),
  });
  console.error(`${item.id}: ${answers[answers.length - 1]!.identical ? 'identical' : 'DIFFERENT'}`);
}
await engine.dispose();

const summary = {
  device,
  placement,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load average ${os.loadavg()[0]!.toFixed(1)}`,
  model: `${path.basename(modelDir)} ${variant ?? 'default variant'}`,
  costCurve: {
    past: PAST,
    runs,
    ms: Object.fromEntries(SIZES.map((s) => [s, +median(curve.get(s)!).toFixed(2)])),
    timesS1: Object.fromEntries(SIZES.map((s) => [s, +(median(curve.get(s)!) / s1).toFixed(2)])),
  },
  prefillTokPerS: +((PAST / median(prefillMs)) * 1000).toFixed(0),
  decodeTokPerS: +(1000 / median(decodeMs)).toFixed(1),
  answers,
  allIdentical: answers.every((a) => a.identical),
};
const json = JSON.stringify(summary, null, 1);
console.log(json);
fs.mkdirSync(out, { recursive: true });
if (outFlag) fs.writeFileSync(path.join(out, 'gpu-summary.json'), `${json}\n`);
if (!summary.allIdentical) {
  console.error('bench:gpu: hybrid differs from ar — FAILED');
  process.exitCode = 1;
}
