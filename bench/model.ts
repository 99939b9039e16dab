/**
 * `npm run bench:model` — speed of the target model's graph variants, side by side.
 *
 * All variants are loaded at once and measured round-robin (each repetition visits every
 * variant and size), so drifting load on a shared machine hits them alike; medians are kept.
 * Per variant and thread count:
 *  - TTFT proxy: prefill of a PROMPT-token prompt in chunks of 128 (last row's logits only);
 *  - decode tok/s: single-token steps after a PROMPT-token past;
 *  - the cost curve the draft budget uses: one forward of S = 1..64 over a 512-token past;
 *  - peak RSS and the machine.
 * Flags: --variants a,b (see bench/model-variants.ts; default int4,int4-before),
 *        --threads 1,2 (intra-op threads, each measured; default 2), --runs N (default 5),
 *        --spinning off,on (each measured; default off, as in loadCausalLM), --no-write,
 *        --device cpu|webgpu|cuda (default cpu, env RAGSPEC_DEVICE; a GPU run never rewrites the
 *        CPU table in docs/BENCHMARKS.md, it prints only).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCausalLM } from '../src/model/load.ts';
import type { OnnxCausalLM } from '../src/model/onnx/causal-lm.ts';
import type { KvCache } from '../src/model/types.ts';
import { parseDevice } from '../src/cli/decode-flags.ts';
import { checkDevice } from '../src/model/onnx/device.ts';
import { errorMessage } from '../src/util/errors.ts';
import { repoRoot } from '../src/util/paths.ts';
import { flag, helpFromHeader } from './args.ts';
import { convertVariants, cpuModel, pickVariants, type BenchVariant } from './model-variants.ts';

const argv = process.argv.slice(2);
helpFromHeader(import.meta.url);
const threadList = (flag('threads') ?? '2').split(',').map(Number);
const runs = Number(flag('runs') ?? 5);
const device = parseDevice(flag('device'));
try {
  checkDevice(device); // before minutes of converting
} catch (err) {
  console.error(`bench:model: ${errorMessage(err)}`);
  process.exit(1);
}
const write = !argv.includes('--no-write') && device === 'cpu';
const spinList = (flag('spinning') ?? 'off').split(',').map((x) => x.trim() === 'on');
const variants = pickVariants(flag('variants'));
const PAST = 512;
const PROMPT = 896;
const SIZES = [1, 2, 4, 8, 16, 32, 64];
const DECODE = 16;
const CHUNK = 128;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const now = () => performance.now();
const pos = (p: number, n: number) => Array.from({ length: n }, (_, i) => p + i);
/** Deterministic token ids in the vocabulary's common range (timing does not depend on text). */
const ids = Array.from({ length: PROMPT + 64 }, (_, i) => 200 + ((i * 7919) % 20000));

interface Runner {
  v: BenchVariant;
  threads: number;
  spinning: boolean;
  lm: OnnxCausalLM;
  prompt: KvCache;
  past: KvCache;
  prefill: number[];
  decode: number[];
  curve: Map<number, number[]>;
}

async function prefill(lm: OnnxCausalLM, n: number): Promise<KvCache> {
  const c = lm.newCache();
  for (let s = 0; s < n; s += CHUNK) {
    const t = ids.slice(s, Math.min(n, s + CHUNK));
    await lm.forward(t, pos(s, t.length), null, c, { logitRows: [t.length - 1] });
  }
  return c;
}

async function oneRound(r: Runner): Promise<void> {
  let t = now();
  await prefill(r.lm, PROMPT);
  r.prefill.push(now() - t);
  const c = r.prompt.clone();
  for (let k = 0; k < DECODE; k++) {
    t = now();
    await r.lm.forward([ids[PROMPT + k]!], [PROMPT + k], null, c);
    r.decode.push(now() - t);
  }
  for (const s of SIZES) {
    const cache = r.past.clone();
    t = now();
    await r.lm.forward(ids.slice(PAST, PAST + s), pos(PAST, s), null, cache);
    (r.curve.get(s) ?? r.curve.set(s, []).get(s)!).push(now() - t);
  }
}

function markdown(rs: Runner[], rssMb: number): string {
  const load = os.loadavg().map((x) => x.toFixed(1));
  const machine = `${os.cpus().length} cores, ${cpuModel()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, load average ${load.join(' / ')} (1/5/15 min) at the end, Node ${process.version}, onnxruntime-node ${device} provider`;
  const label = (r: Runner) => `${r.v.name} ${r.threads}t${r.spinning ? ' spin' : ''}`;
  const ms = (r: Runner, s: number) => median(r.curve.get(s)!);
  return [
    `Run: \`npm run bench:model -- --variants ${variants.map((v) => v.name).join(',')} --threads ${threadList.join(',')} --spinning ${spinList.map((x) => (x ? 'on' : 'off')).join(',')}\` (${new Date().toISOString().slice(0, 16)}Z). Machine: ${machine}.`,
    `Model: SmolLM2-135M-Instruct (Q4_1 GGUF, Q8_0 embedding) converted by \`ragspec convert\`; medians of ${runs} rounds, variants interleaved.`,
    '',
    '| variant | threads | spinning | what | TTFT proxy: prefill of 896 tokens (ms) | prefill tok/s | decode tok/s (P=896) | decode ms/step |',
    '| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |',
    ...rs.map((r) => {
      const p = median(r.prefill);
      const d = median(r.decode);
      return `| ${r.v.name} | ${r.threads} | ${r.spinning ? 'on' : 'off'} | ${r.v.what} | ${p.toFixed(0)} | ${((PROMPT / p) * 1000).toFixed(0)} | ${(1000 / d).toFixed(1)} | ${d.toFixed(1)} |`;
    }),
    '',
    `One forward of S new tokens over a ${PAST}-token past (ms, and × the S = 1 step) — the cost curve the draft budget uses:`,
    '',
    `| S | ${rs.map((r) => `${label(r)} ms | ×S=1`).join(' | ')} |`,
    `| ---: | ${rs.map(() => '---: | ---:').join(' | ')} |`,
    ...SIZES.map(
      (s) =>
        `| ${s} | ${rs.map((r) => `${ms(r, s).toFixed(1)} | ${(ms(r, s) / ms(r, 1)).toFixed(2)}`).join(' | ')} |`,
    ),
    '',
    `Peak RSS: ${rssMb.toFixed(0)} MB (every variant loaded at once).`,
  ].join('\n');
}

/** Replace only the generated part of "## Model" in docs/BENCHMARKS.md; "### Notes" survive. */
function writeSection(body: string): void {
  const file = path.join(repoRoot, 'docs', 'BENCHMARKS.md');
  const doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n## Model\n';
  const start = doc.indexOf('## Model');
  if (start < 0) {
    fs.writeFileSync(file, `${doc.trimEnd()}\n\n## Model\n\n${body}\n`);
    return;
  }
  const next = doc.indexOf('\n## ', start + 1);
  const end = next < 0 ? doc.length : next + 1;
  const section = doc.slice(start, end);
  const i = section.indexOf('### Notes');
  const notes = i < 0 ? '' : `\n${section.slice(i).trimEnd()}\n`;
  fs.writeFileSync(file, `${doc.slice(0, start)}## Model\n\n${body}\n${notes}\n${doc.slice(end)}`);
}

const dir = await convertVariants(variants);
const runners: Runner[] = [];
for (const spinning of spinList)
  for (const threads of threadList) {
    for (const v of variants) {
      const lm = await loadCausalLM(dir, { variant: v.name, threads, spinning, device });
      // Warm-up (untimed): onnxruntime picks kernels and allocates on the first runs.
      const prompt = await prefill(lm, PROMPT);
      const past = await prefill(lm, PAST);
      await lm.forward(ids.slice(PAST, PAST + 8), pos(PAST, 8), null, past.clone());
      runners.push({ v, threads, spinning, lm, prompt, past, prefill: [], decode: [], curve: new Map() });
    }
  }
for (let k = 0; k < runs; k++) {
  for (const r of runners) await oneRound(r);
  console.error(`round ${k + 1}/${runs}`);
}
const md = markdown(runners, process.resourceUsage().maxRSS / 1024);
console.log(`\n${md}`);
if (write) writeSection(md);
for (const r of runners) await r.lm.dispose();
