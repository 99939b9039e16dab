/**
 * `npm run bench:model` — speed of the target model as ragspec builds it.
 *
 * Prints and records (docs/BENCHMARKS.md, "## Model"):
 *  - prefill tok/s and decode tok/s for the fp32 and int4 variants;
 *  - the cost curve the draft budget uses: time of one forward of S = 1..64 new tokens over a
 *    512-token past (median of several runs), and its ratio to a single-token step;
 *  - peak RSS and the machine.
 * Flags: --threads N (intra-op threads, default all cores), --runs N (default 7),
 *        --model DIR (a converted folder with fp32 and int4 variants; default: convert the
 *        target GGUF of `npx ragspec setup` afresh into a temp folder),
 *        --spinning (let onnxruntime threads spin; off by default, as in loadCausalLM),
 *        --no-write (print only).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertGguf } from '../src/model/convert.ts';
import { loadCausalLM, loadModelTokenizer } from '../src/model/load.ts';
import type { OnnxCausalLM } from '../src/model/onnx/causal-lm.ts';
import { paths, repoRoot } from '../src/util/paths.ts';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const threads = flag('threads') ? Number(flag('threads')) : undefined;
const runs = Number(flag('runs') ?? 7);
const write = !argv.includes('--no-write');
const spinning = argv.includes('--spinning');
const VARIANTS = ['fp32', 'int4'] as const;
const PAST = 512;
const SIZES = [1, 2, 4, 8, 16, 32, 64];
const PREFILL = 128;
const DECODE = 32;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const now = () => performance.now();

/**
 * The folder to measure: --model DIR as it is, or else fresh conversions of the target GGUF
 * (so the numbers always describe the current graph builder) into a temp folder.
 */
async function prepareModelDir(): Promise<string> {
  const given = flag('model');
  if (given) return path.resolve(given);
  const gguf = path.join(paths.targetModel(), 'model.gguf');
  if (!fs.existsSync(gguf)) throw new Error(`${gguf} not found — run \`npx ragspec setup\` first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-bench-model-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  for (const v of VARIANTS) {
    const r = await convertGguf(gguf, dir, { weights: v });
    console.error(`converted ${v} in ${r.seconds.toFixed(1)} s`);
  }
  return dir;
}

/** Real text tokens (npm-ish prose), repeated to the length we need. */
function benchTokens(modelDir: string, n: number): number[] {
  const tok = loadModelTokenizer(modelDir);
  const text =
    'npm install saves any specified packages into dependencies by default. Additionally, you can control where and how they get saved with some additional flags. ';
  const base = tok.encode(text);
  return Array.from({ length: n }, (_, i) => base[i % base.length]!);
}

interface VariantResult {
  variant: string;
  prefillTokS: number;
  decodeTokS: number;
  decodeMs: number;
  curve: { s: number; ms: number }[];
}

async function benchVariant(lm: OnnxCausalLM, variant: string, ids: number[]): Promise<VariantResult> {
  const pos = (p: number, n: number) => Array.from({ length: n }, (_, i) => p + i);
  // Warm-up: onnxruntime allocates and picks kernels on the first runs.
  for (let i = 0; i < 2; i++) await lm.forward(ids.slice(0, 16), pos(0, 16), null, lm.newCache());

  // 1. Prefill: one forward over PREFILL tokens.
  const prefill: number[] = [];
  for (let r = 0; r < Math.max(3, Math.ceil(runs / 2)); r++) {
    const t = now();
    await lm.forward(ids.slice(0, PREFILL), pos(0, PREFILL), null, lm.newCache());
    prefill.push(now() - t);
  }
  // 2. Decode: DECODE single-token steps after the prefill.
  const cache = lm.newCache();
  await lm.forward(ids.slice(0, PREFILL), pos(0, PREFILL), null, cache);
  const steps: number[] = [];
  for (let k = 0; k < DECODE; k++) {
    const t = now();
    await lm.forward([ids[PREFILL + k]!], [PREFILL + k], null, cache);
    steps.push(now() - t);
  }
  // 3. Cost curve: S new tokens over a PAST-token past; the cache is rolled back between runs.
  const past = lm.newCache();
  await lm.forward(ids.slice(0, PAST), pos(0, PAST), null, past);
  const curve: { s: number; ms: number }[] = [];
  for (const s of SIZES) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = now();
      await lm.forward(ids.slice(PAST, PAST + s), pos(PAST, s), null, past);
      times.push(now() - t);
      past.truncate(PAST);
    }
    curve.push({ s, ms: median(times) });
  }
  const decodeMs = median(steps);
  return {
    variant,
    prefillTokS: (PREFILL / median(prefill)) * 1000,
    decodeTokS: 1000 / decodeMs,
    decodeMs,
    curve,
  };
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

function markdown(results: VariantResult[], rssMb: number): string {
  const machine = `${os.cpus().length} cores, ${cpuModel()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, load average ${os.loadavg()[0]!.toFixed(1)} at the end, Node ${process.version}, onnxruntime-node CPU provider, intra-op threads ${threads ?? 'default (all cores)'}, thread spinning ${spinning ? 'on' : 'off'}`;
  const lines = [
    `Run: \`npm run bench:model\` (${new Date().toISOString().slice(0, 16)}Z). Machine: ${machine}.`,
    `Model: SmolLM2-135M-Instruct (Q4_1 GGUF) converted by \`ragspec convert\`; medians of ${runs} runs.`,
    '',
    '| variant | prefill tok/s (S=128) | decode tok/s (P=128) | decode ms/step |',
    '| --- | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.variant} | ${r.prefillTokS.toFixed(0)} | ${r.decodeTokS.toFixed(1)} | ${r.decodeMs.toFixed(1)} |`,
    ),
    '',
    `One forward of S new tokens over a ${PAST}-token past (ms, and × the S = 1 step) — the cost curve the draft budget uses:`,
    '',
    `| S | ${results.map((r) => `${r.variant} ms | ${r.variant} ×S=1`).join(' | ')} |`,
    `| ---: | ${results.map(() => '---: | ---:').join(' | ')} |`,
    ...SIZES.map(
      (s, i) =>
        `| ${s} | ${results.map((r) => `${r.curve[i]!.ms.toFixed(1)} | ${(r.curve[i]!.ms / r.curve[0]!.ms).toFixed(2)}`).join(' | ')} |`,
    ),
    '',
    `Peak RSS: ${rssMb.toFixed(0)} MB (both variants loaded one after the other).`,
  ];
  return lines.join('\n');
}

/** Replace only the body of "## Model" in docs/BENCHMARKS.md. */
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
  const notes = modelNotes(doc.slice(start, end));
  fs.writeFileSync(file, `${doc.slice(0, start)}## Model\n\n${body}\n${notes}\n${doc.slice(end)}`);
}

/** Hand-written analysis under "### Notes" in the Model section survives re-runs. */
function modelNotes(section: string): string {
  const i = section.indexOf('### Notes');
  return i < 0 ? '' : `\n${section.slice(i).trimEnd()}\n`;
}

const modelDir = await prepareModelDir();
const ids = benchTokens(modelDir, PAST + 64);
const results: VariantResult[] = [];
for (const v of VARIANTS) {
  const lm = await loadCausalLM(modelDir, { variant: v, threads, spinning });
  const r = await benchVariant(lm, v, ids);
  await lm.dispose();
  results.push(r);
  console.log(
    `${v}: prefill ${r.prefillTokS.toFixed(0)} tok/s, decode ${r.decodeTokS.toFixed(1)} tok/s; ` +
      r.curve.map((c) => `S=${c.s} ${c.ms.toFixed(1)}ms`).join(', '),
  );
}
const rssMb = process.resourceUsage().maxRSS / 1024;
const md = markdown(results, rssMb);
console.log(`\n${md}`);
if (write) writeSection(md);
