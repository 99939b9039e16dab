/**
 * `npm run bench:penalties` — answer quality with and without repetition penalties on the
 * dev set (../shared/eval/npm-docs-dev.jsonl): the must_contain hit rate (every expected
 * string present, case-insensitive), the share of answers that run to max tokens (loops),
 * the share of answer characters copied from the passages, and hybrid's tokens per target
 * forward. Greedy; hybrid's output equals ar's with the same penalties (lossless), so one
 * mode measures quality. History recording is off (`recordHistory: false`) so a run does
 * not feed the next.
 *
 * Flags: --limit N (questions, 12), --max-tokens N (128), --k N (4), --offset N (skip the
 *        first N questions), --variants "none;rep=1.1;rep=1.2;freq=0.3;freq=0.3,pres=0.3",
 *        --json FILE
 */
import fs from 'node:fs';
import path from 'node:path';
import { completeAnswer, prepareAnswer } from '../src/answer/answer.ts';
import { loadEngine } from '../src/engine/load.ts';
import type { SamplingSettings } from '../src/engine/types.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';
import { flag, helpFromHeader } from './args.ts';

helpFromHeader(import.meta.url);

const KEYS: Record<string, keyof SamplingSettings> = {
  rep: 'repetitionPenalty',
  freq: 'frequencyPenalty',
  pres: 'presencePenalty',
};

/** "rep=1.1,freq=0.3" → sampling settings (greedy). */
export function parseVariant(spec: string): SamplingSettings {
  const s: SamplingSettings = { temperature: 0 };
  if (spec === 'none') return s;
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=');
    const key = KEYS[k ?? ''];
    if (!key || !Number.isFinite(Number(v)))
      throw new Error(`bad variant part "${part}" (use rep=, freq=, pres=)`);
    (s as unknown as Record<string, number>)[key] = Number(v);
  }
  return s;
}

/** Every must_contain string present in the answer, case-insensitive. */
export function hits(answer: string, mustContain: readonly string[]): boolean {
  const a = answer.toLowerCase();
  return mustContain.every((m) => a.includes(m.toLowerCase()));
}

/** Keeps the history datastore (when the engine has one) out of the measurement. */
const NO_HISTORY = { recordHistory: false };

async function main(): Promise<void> {
  const limit = Number(flag('limit') ?? 12);
  const offset = Number(flag('offset') ?? 0);
  const maxTokens = Number(flag('max-tokens') ?? 128);
  const k = Number(flag('k') ?? 4);
  const variants = (flag('variants') ?? 'none;rep=1.1;rep=1.2;freq=0.3').split(';');
  const items = fs
    .readFileSync(path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; question: string; must_contain: string[] })
    .slice(offset, offset + limit);
  const engine = await loadEngine();
  const corpus = await openCorpus(paths.data(), { readOnly: true });
  const rows: Record<
    string,
    { hit: number; length: number; copied: number; chars: number; tokens: number; steps: number; n: number }
  > = {};
  const answers: Record<string, Record<string, string>> = {};
  for (const [qi, item] of items.entries()) {
    // rotate the variant order per question so warm-up favours none
    const order = variants.map((_, i) => variants[(i + qi) % variants.length]!);
    for (const v of order) {
      const prepared = await prepareAnswer(corpus, {
        question: item.question,
        k,
        maxTokens,
        sampling: parseVariant(v),
        mode: 'hybrid',
      });
      const { result } = await completeAnswer(engine, {
        ...prepared,
        request: { ...prepared.request, ...NO_HISTORY },
      });
      const r = (rows[v] ??= { hit: 0, length: 0, copied: 0, chars: 0, tokens: 0, steps: 0, n: 0 });
      r.n++;
      if (hits(result.text, item.must_contain)) r.hit++;
      if (result.finishReason === 'length') r.length++;
      r.copied += result.copiedSpans.reduce((a, s) => a + s.text.length, 0);
      r.chars += result.text.length;
      r.tokens += result.stats.completionTokens;
      r.steps += result.stats.steps;
      (answers[item.id] ??= {})[v] = result.text;
      console.error(
        `[${qi + 1}/${items.length}] ${item.id} ${v}: ${hits(result.text, item.must_contain) ? 'hit' : 'miss'} ${result.stats.completionTokens} tok ${result.stats.tokensPerStep.toFixed(2)} t/f`,
      );
    }
  }
  await corpus.close();
  await engine.dispose();
  const lines = [
    `Penalties on ${items.length} dev questions (${items[0]?.id}–${items[items.length - 1]?.id}), greedy, k = ${k}, max ${maxTokens} tokens, mode hybrid (= ar output):`,
    '',
    '| penalties | must_contain hit rate | answers that hit max tokens | answer chars copied from passages | hybrid tokens / target forward |',
    '| --- | --- | --- | --- | --- |',
    ...variants.map((v) => {
      const r = rows[v]!;
      return `| ${v} | ${r.hit}/${r.n} (${((100 * r.hit) / r.n).toFixed(0)}%) | ${r.length}/${r.n} | ${((100 * r.copied) / Math.max(1, r.chars)).toFixed(0)}% | ${(r.tokens / Math.max(1, r.steps)).toFixed(2)} |`;
    }),
  ];
  console.log(lines.join('\n'));
  const out = flag('json');
  if (out) fs.writeFileSync(out, JSON.stringify({ rows, answers }, null, 1));
}

await main();
