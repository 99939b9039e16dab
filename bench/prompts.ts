/**
 * `npm run bench:prompts` — the answer prompt variants (src/answer/prompt.ts) on the dev set,
 * in one process, greedy: per variant
 *  - must_contain hit rate: answers containing every must_contain string (case-insensitive);
 *  - passage copy rate: share of answer tokens inside a run of >= 4 tokens that also occurs
 *    in the question's passages (the same for every decode mode), and the share of answer
 *    characters the engine attributed to passages in `hybrid` (GenerationResult.copiedSpans);
 *  - mean answer length (tokens), answers cut at --max-tokens, answers that loop (a line 3 times);
 *  - tokens per target forward in `hybrid`, and its decode speedup over `ar` (median of the
 *    per-question ratios). `hybrid` must equal `ar` token for token, or the run fails.
 * Retrieval runs once per question; variants and modes are interleaved per question, their
 * order rotated, so drifting load hits them alike.
 * Flags: --limit N (questions, default all 40), --max-tokens N (128), --k N (passages, 4),
 *        --variants a,b (default all), --json FILE (the per-question results), --help.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareAnswer } from '../src/answer/answer.ts';
import {
  ANSWER_PROMPT_NAMES,
  ANSWER_PROMPTS,
  DEFAULT_ANSWER_PROMPT,
  answerMessages,
  type AnswerPromptName,
} from '../src/answer/prompt.ts';
import { loadEngine } from '../src/engine/load.ts';
import type { DecodeMode, GenerationResult } from '../src/engine/types.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';
import { flag, helpFromHeader } from './args.ts';
import { copyRate, loops, mustContainHit } from './prompt-metrics.ts';

helpFromHeader(import.meta.url);
const limit = Number(flag('limit') ?? Infinity);
const maxTokens = Number(flag('max-tokens') ?? 128);
const k = Number(flag('k') ?? 4);
const variants = (flag('variants')?.split(',') ?? ANSWER_PROMPT_NAMES) as AnswerPromptName[];
for (const v of variants)
  if (!(v in ANSWER_PROMPTS))
    throw new Error(`unknown variant ${v} (have ${ANSWER_PROMPT_NAMES.join(', ')})`);
const MODES: DecodeMode[] = ['ar', 'hybrid'];

interface EvalItem {
  id: string;
  question: string;
  must_contain: string[];
}

interface Row {
  id: string;
  variant: AnswerPromptName;
  hit: boolean;
  tokens: number;
  cut: boolean;
  loops: boolean;
  copyRate: number;
  attributedRate: number;
  tokensPerStep: number;
  speedup: number;
  same: boolean;
  answer: string;
}

const evalFile = path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
const items = fs
  .readFileSync(evalFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as EvalItem)
  .slice(0, limit);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const engine = await loadEngine();
const corpus = await openCorpus(flag('data') ?? paths.data(), { readOnly: true });
const rows: Row[] = [];
let mismatches = 0;
for (const [qi, item] of items.entries()) {
  const prepared = await prepareAnswer(corpus, {
    question: item.question,
    k,
    maxTokens,
    sampling: { temperature: 0 },
    mode: 'ar',
  });
  const passageTokens = prepared.passages.map((p) => engine.tokenizer.encode(p.text));
  const runs = variants.flatMap((v) => MODES.map((m) => [v, m] as const));
  const order = runs.map((_, i) => runs[(i + qi) % runs.length]!);
  const results = new Map<string, GenerationResult>();
  for (const [variant, mode] of order) {
    const messages = answerMessages(item.question, prepared.passages, ANSWER_PROMPTS[variant]);
    const r = await engine.generate({ ...prepared.request, messages, mode });
    results.set(`${variant}|${mode}`, r);
  }
  for (const variant of variants) {
    const ar = results.get(`${variant}|ar`)!;
    const hy = results.get(`${variant}|hybrid`)!;
    const same = hy.tokens.length === ar.tokens.length && hy.tokens.every((t, i) => t === ar.tokens[i]);
    if (!same) {
      mismatches++;
      console.error(`MISMATCH ${item.id} ${variant}: hybrid differs from ar`);
    }
    rows.push({
      id: item.id,
      variant,
      hit: mustContainHit(ar.text, item.must_contain),
      tokens: ar.tokens.length,
      cut: ar.finishReason === 'length',
      loops: loops(ar.text),
      copyRate: copyRate(ar.tokens, passageTokens),
      attributedRate: hy.copiedSpans.reduce((a, s) => a + s.text.length, 0) / Math.max(1, hy.text.length),
      tokensPerStep: hy.stats.tokensPerStep,
      speedup: hy.stats.decodeTokensPerSecond / ar.stats.decodeTokensPerSecond,
      same,
      answer: ar.text,
    });
  }
  const line = variants
    .map((v) => {
      const r = rows.find((x) => x.id === item.id && x.variant === v)!;
      return `${v} ${r.hit ? 'hit' : '-'} ${r.tokens}t ${r.tokensPerStep.toFixed(2)}t/f`;
    })
    .join(' | ');
  console.error(`[${qi + 1}/${items.length}] ${item.id}: ${line}`);
}
await corpus.close();
await engine.dispose();

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const load = os.loadavg().map((x) => x.toFixed(1));
const table = [
  `Run: \`npm run bench:prompts${Number.isFinite(limit) ? ` -- --limit ${limit}` : ''}\` (${new Date().toISOString().slice(0, 16)}Z): ${items.length} dev questions, greedy, ${maxTokens} max tokens, k = ${k}, \`ar\` and \`hybrid\` in one process. Machine: ${os.cpus().length} cores, load average ${load.join(' / ')} (1/5/15 min) at the end — measured under load; speedups are medians of per-question ratios within the run.`,
  '',
  '| variant | layout | must_contain hit | copy rate (4-token runs from passages) | attributed to passages (hybrid) | mean answer tokens | cut at max tokens | looping | tokens / target forward (hybrid, median) | hybrid speedup vs ar (median) | hybrid = ar |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...variants.map((v) => {
    const rs = rows.filter((r) => r.variant === v);
    return `| ${v}${v === DEFAULT_ANSWER_PROMPT ? ' (default)' : ''} | ${ANSWER_PROMPTS[v].layout} | ${rs.filter((r) => r.hit).length}/${rs.length} | ${pct(mean(rs.map((r) => r.copyRate)))} | ${pct(mean(rs.map((r) => r.attributedRate)))} | ${mean(rs.map((r) => r.tokens)).toFixed(0)} | ${rs.filter((r) => r.cut).length}/${rs.length} | ${rs.filter((r) => r.loops).length}/${rs.length} | ${median(rs.map((r) => r.tokensPerStep)).toFixed(2)} | ${median(rs.map((r) => r.speedup)).toFixed(2)}× | ${rs.filter((r) => r.same).length}/${rs.length} |`;
  }),
].join('\n');
console.log(table);
const out = flag('json');
if (out) fs.writeFileSync(out, JSON.stringify({ rows, table }, null, 1));
if (mismatches > 0) {
  console.error(`bench:prompts: ${mismatches} hybrid outputs differ from ar — FAILED`);
  process.exitCode = 1;
}
