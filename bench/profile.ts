/**
 * `npm run bench:profile` — where one forward's time goes, per onnxruntime operator type.
 *
 * For each variant (bench/model-variants.ts) and each S in --sizes (default 1,8), it runs
 * --runs (default 20) forwards of S tokens over a 512-token past with onnxruntime's profiler
 * on, and prints the mean time per op type (kernel time), the op count per forward and the
 * part of the run not spent in kernels (session overhead, feeds and fetches).
 * Flags: --variants a,b (default int4,int4-before), --sizes 1,8, --threads N (default 2), --runs N.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCausalLM } from '../src/model/load.ts';
import { flag, helpFromHeader } from './args.ts';
import { convertVariants, cpuModel, pickVariants } from './model-variants.ts';

helpFromHeader(import.meta.url);
const variants = pickVariants(flag('variants'));
const sizes = (flag('sizes') ?? '1,8').split(',').map(Number);
const threads = Number(flag('threads') ?? 2);
const runs = Number(flag('runs') ?? 20);
const PAST = 512;
const ids = Array.from({ length: PAST + 64 }, (_, i) => 200 + ((i * 7919) % 20000));
const pos = (p: number, n: number) => Array.from({ length: n }, (_, i) => p + i);

interface TraceEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** Mean ms per op type over the last `runs` model runs of a trace, and the run's mean. */
function summarise(file: string): { run: number; ops: [string, number, number][] } {
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as TraceEvent[];
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(-runs);
  const from = modelRuns[0]!.ts;
  const byOp = new Map<string, { ms: number; n: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || e.ts < from || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const o = byOp.get(op) ?? { ms: 0, n: 0 };
    o.ms += e.dur / 1000 / runs;
    o.n += 1 / runs;
    byOp.set(op, o);
  }
  const run = modelRuns.reduce((s, e) => s + e.dur, 0) / 1000 / runs;
  const ops = [...byOp.entries()].map(([op, o]) => [op, o.ms, Math.round(o.n)] as [string, number, number]);
  return { run, ops: ops.sort((a, b) => b[1] - a[1]) };
}

const dir = await convertVariants(variants);
const traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-profile-'));
process.on('exit', () => fs.rmSync(traceDir, { recursive: true, force: true }));
console.log(
  `Machine: ${os.cpus().length} cores, ${cpuModel()}, load average ${os.loadavg()[0]!.toFixed(1)}, intra-op threads ${threads}; mean of ${runs} forwards over a ${PAST}-token past.\n`,
);
for (const v of variants) {
  for (const s of sizes) {
    const prefix = path.join(traceDir, `${v.name}-S${s}`);
    const lm = await loadCausalLM(dir, { variant: v.name, threads, profilePrefix: prefix });
    const past = lm.newCache();
    for (let p = 0; p < PAST; p += 128)
      await lm.forward(ids.slice(p, p + 128), pos(p, 128), null, past, { logitRows: [127] });
    for (let r = 0; r < runs + 3; r++)
      await lm.forward(ids.slice(PAST, PAST + s), pos(PAST, s), null, past.clone());
    lm.endProfiling();
    await lm.dispose();
    const file = fs.readdirSync(traceDir).find((f) => f.startsWith(`${v.name}-S${s}`) && f.endsWith('.json'));
    const { run, ops } = summarise(path.join(traceDir, file!));
    const kernels = ops.reduce((a, o) => a + o[1], 0);
    const nodes = ops.reduce((a, o) => a + o[2], 0);
    console.log(
      `### ${v.name}, S=${s}: ${run.toFixed(1)} ms per forward, ${kernels.toFixed(1)} ms in ${nodes} kernels\n`,
    );
    console.log('| op | ms | count |\n| --- | ---: | ---: |');
    for (const [op, ms, n] of ops.slice(0, 10)) console.log(`| ${op} | ${ms.toFixed(2)} | ${n} |`);
    console.log(`| (outside kernels) | ${(run - kernels).toFixed(2)} | |\n`);
  }
}
