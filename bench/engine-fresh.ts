/**
 * `npm run bench -- --fresh`: the engine as a user runs it — a fresh `ragspec ask --json`
 * process per question per mode (model load, retrieval, prefill and decode, with the draft
 * memory that earlier processes left in the cache). Modes interleaved and rotated per
 * question. Reports per-question ratios vs `ar` of decode tok/s and of the whole process's
 * wall time, tokens per target forward, and whether the answer text equals `ar`'s.
 * History: when this `ask` has `--no-history`, it is passed, so no run feeds the next.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { DecodeMode, GenerationStats } from '../src/engine/types.ts';
import { repoRoot } from '../src/util/paths.ts';

export interface FreshRun {
  id: string;
  modes: Partial<Record<DecodeMode, { stats: GenerationStats; wallMs: number; answer: string }>>;
}

const BIN = path.join(repoRoot, 'bin', 'ragspec.js');

function ask(args: string[]): { out: string; err: string; status: number | null; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'ask', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { out: r.stdout, err: r.stderr, status: r.status, ms: performance.now() - t0 };
}

export function runFresh(
  items: { id: string; question: string }[],
  modes: DecodeMode[],
  k: number,
  maxTokens: number,
  extra: string[] = [],
): FreshRun[] {
  const help = ask(['--help']).out;
  const noHistory = help.includes('--no-history') ? ['--no-history'] : [];
  const runs: FreshRun[] = [];
  for (const [qi, item] of items.entries()) {
    const run: FreshRun = { id: item.id, modes: {} };
    const order = modes.map((_, i) => modes[(i + qi) % modes.length]!);
    for (const mode of order) {
      const r = ask([
        '--json',
        '-k',
        String(k),
        '-n',
        String(maxTokens),
        '--mode',
        mode,
        ...noHistory,
        ...extra,
        item.question,
      ]);
      if (r.status !== 0)
        throw new Error(`ragspec ask failed (${mode}, ${item.id}): ${r.err.trim().split('\n').pop()}`);
      const j = JSON.parse(r.out) as { answer: string; stats: GenerationStats };
      run.modes[mode] = { stats: j.stats, wallMs: r.ms, answer: j.answer };
    }
    runs.push(run);
    console.error(
      `[fresh ${qi + 1}/${items.length}] ${item.id}: ` +
        modes
          .map((m) => {
            const x = run.modes[m]!;
            return `${m} ${x.stats.decodeTokensPerSecond.toFixed(1)} tok/s ${(x.wallMs / 1000).toFixed(1)} s`;
          })
          .join(' | '),
    );
  }
  return runs;
}

const median = (xs: number[]): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function freshMarkdown(
  runs: FreshRun[],
  modes: DecodeMode[],
  k: number,
  maxTokens: number,
  load: string,
): string {
  const rows = [
    '| mode | decode tok/s (median) | decode speedup vs ar (median) | whole-process time vs ar (median) | tokens / target forward | identical to ar |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of modes) {
    const xs = runs.map((r) => ({ x: r.modes[m], ar: r.modes.ar })).filter((p) => p.x && p.ar);
    const tps = xs.map((p) => p.x!.stats.decodeTokensPerSecond);
    const sp = xs.map((p) => p.x!.stats.decodeTokensPerSecond / p.ar!.stats.decodeTokensPerSecond);
    const wall = xs.map((p) => p.x!.wallMs / p.ar!.wallMs);
    const tok = xs.reduce((a, p) => a + p.x!.stats.completionTokens, 0);
    const steps = xs.reduce((a, p) => a + p.x!.stats.steps, 0);
    const same = xs.filter((p) => p.x!.answer === p.ar!.answer).length;
    rows.push(
      `| ${m} | ${median(tps).toFixed(1)} | ${median(sp).toFixed(2)}× | ${median(wall).toFixed(2)}× | ${(tok / Math.max(1, steps)).toFixed(2)} | ${same}/${xs.length} |`,
    );
  }
  return [
    '## Engine, fresh process per question',
    '',
    `\`npm run bench -- --fresh\` (bench/engine-fresh.ts): a fresh \`ragspec ask --json\` per question per mode, ${runs.length} dev questions, ` +
      `k = ${k}, greedy, at most ${maxTokens} new tokens, modes rotated per question; load average ${load} (measured under load: ratios within one run).`,
    'Whole-process time includes model load, retrieval and prefill (the same work in every mode), so its ratio is closer to 1 than the decode ratio.',
    '',
    ...rows,
    '',
  ].join('\n');
}
