/**
 * History datastore, cold vs warm, in one process: on dev questions (never distilled:
 * `ragspec distill` reads corpus passages only), greedy, 128 tokens, `hybrid` with an empty
 * history (cold) and with the history in --history-dir (warm, opened read-only so the run
 * never feeds itself), plus `ar`. Prints medians of tokens per target forward and decode
 * tok/s, and accepted tokens by source.
 *
 *   node bin/run-ts.js bench/history.ts --history-dir DIR [--questions 8]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { completeAnswer, prepareAnswer } from '../src/answer/answer.ts';
import { loadEngine } from '../src/engine/load.ts';
import type { DecodeMode, GenerationStats } from '../src/engine/types.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';

const arg = (name: string, def?: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const histDir = arg('history-dir');
if (!histDir) throw new Error('--history-dir DIR is required (a data dir that `ragspec distill` wrote)');
const n = Number(arg('questions', '8'));
const EVAL = path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const items = fs
  .readFileSync(EVAL, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { id: string; question: string })
  .slice(0, n);

const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-cold-'));
const cold = await loadEngine({ drafter: 'none', history: { dir: empty, record: false } });
const warm = await loadEngine({ drafter: 'none', history: { dir: histDir, record: false } });
const corpus = await openCorpus(paths.data(), { readOnly: true });
const runs: Record<string, GenerationStats[]> = { ar: [], cold: [], warm: [] };
for (const item of items) {
  const prepared = await prepareAnswer(corpus, {
    question: item.question,
    k: 4,
    maxTokens: 128,
    sampling: { temperature: 0 },
    mode: 'ar',
  });
  const go = async (e: typeof cold, mode: DecodeMode) =>
    (await completeAnswer(e, { ...prepared, request: { ...prepared.request, mode } })).result;
  const ar = await go(cold, 'ar');
  const c = await go(cold, 'hybrid');
  const w = await go(warm, 'hybrid');
  if (c.tokens.join() !== ar.tokens.join() || w.tokens.join() !== ar.tokens.join())
    throw new Error(`${item.id}: output differs from ar`);
  runs.ar!.push(ar.stats);
  runs.cold!.push(c.stats);
  runs.warm!.push(w.stats);
  const by = (s: GenerationStats) =>
    Object.entries(s.bySource)
      .map(([k, v]) => `${k} ${v.acceptedTokens}/${v.draftTokens}`)
      .join(', ');
  console.log(
    `${item.id}: cold ${c.stats.tokensPerStep.toFixed(2)} tok/fwd (${by(c.stats)}) · warm ${w.stats.tokensPerStep.toFixed(2)} tok/fwd (${by(w.stats)})`,
  );
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sum = (ss: GenerationStats[], kind: string, f: 'acceptedTokens' | 'draftTokens') =>
  ss.reduce((a, s) => a + ((s.bySource as Record<string, Record<string, number>>)[kind]?.[f] ?? 0), 0);
console.log(`history: ${warm.history!.store.entryCount} answers, ${warm.history!.store.tokenCount} tokens`);
for (const [name, ss] of Object.entries(runs)) {
  const kinds = ['passage', 'prompt', 'output', 'history']
    .map((k) => `${k} ${sum(ss, k, 'acceptedTokens')}/${sum(ss, k, 'draftTokens')}`)
    .join(', ');
  console.log(
    `${name}: median ${median(ss.map((s) => s.tokensPerStep)).toFixed(2)} tokens/forward, ` +
      `median ${median(ss.map((s) => s.decodeTokensPerSecond)).toFixed(1)} tok/s decode; accepted/drafted ${kinds}`,
  );
}
await corpus.close();
await cold.dispose();
await warm.dispose();
fs.rmSync(empty, { recursive: true, force: true });
