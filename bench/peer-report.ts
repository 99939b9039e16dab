/**
 * The peer benchmark's data and its summary: one run of one engine on one question, the
 * `--json` document, and the medians / per-question ratios printed as markdown.
 *
 * Engines: ragspec's own modes (`ar`, `reference`, `hybrid`) and llama.cpp through
 * node-llama-cpp (`ar` = plain greedy, `lookup` = InputLookupTokenPredictor). Each
 * speculative mode is compared with its own engine's plain output: greedy decoding should
 * make them equal, and whether they are is part of the result.
 */

export const PEER_ENGINES = [
  'ragspec-ar',
  'ragspec-reference',
  'ragspec-hybrid',
  'llamacpp-ar',
  'llamacpp-lookup',
] as const;
export type PeerEngine = (typeof PEER_ENGINES)[number];

/** The plain (one token per forward) engine each speculative mode must reproduce. */
export const PLAIN_OF: Partial<Record<PeerEngine, PeerEngine>> = {
  'ragspec-reference': 'ragspec-ar',
  'ragspec-hybrid': 'ragspec-ar',
  'llamacpp-lookup': 'llamacpp-ar',
};

/** The engine the ratios divide by. */
export const BASELINE: PeerEngine = 'llamacpp-ar';

/** One engine's numbers on one question, as written to `--json`. */
export interface EngineRun {
  /** Completion tokens / (total − prefill) time, as ragspec's own stats count it. */
  decode_tok_s: number;
  /** (prompt tokens − 1) / prefill time: the last prompt token is the first step's input. */
  prefill_tok_s: number;
  /** From the call to the first emitted token: prefill plus one step. */
  ttft_ms: number;
  /** Completion tokens / target forwards after prefill; null where the engine does not tell. */
  tokens_per_forward: number | null;
  text: string;
}

/** A run with its token ids, for the identity checks (ids stay out of the JSON). */
export interface TimedRun extends EngineRun {
  tokens: number[];
}

export interface QuestionResult {
  id: string;
  /** The full rendered prompt text (chat template, system prompt, passages, question). */
  prompt: string;
  prompt_tokens: number;
  engines: Record<PeerEngine, EngineRun>;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  /** os.loadavg() (1, 5, 15 min) before the first and after the last timed run. */
  load_start: number[];
  load_end: number[];
}

export interface PeerDocument {
  machine: MachineInfo;
  threads: number;
  questions: QuestionResult[];
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** What the summary needs beyond the JSON: identity per question and tokenizer agreement. */
export interface SummaryExtras {
  /** identical[engine] = questions whose output equals its plain engine's. */
  identical: Partial<Record<PeerEngine, number>>;
  /** Questions where llama.cpp's own tokenization of the prompt text has our token count. */
  tokenCountsMatch: number;
  maxTokens: number;
}

const fmt = (x: number | null, digits = 1): string =>
  x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);

/** Markdown: one row per engine with medians and median per-question ratios vs llama.cpp plain. */
export function summaryMarkdown(doc: PeerDocument, extras: SummaryExtras): string {
  const n = doc.questions.length;
  const col = (e: PeerEngine, k: keyof Omit<EngineRun, 'text'>): number[] =>
    doc.questions.map((q) => q.engines[e][k] ?? NaN);
  const ratio = (e: PeerEngine, k: 'decode_tok_s' | 'prefill_tok_s' | 'ttft_ms'): number =>
    median(doc.questions.map((q) => q.engines[e][k] / q.engines[BASELINE][k]));
  const m = doc.machine;
  // An oversubscribed machine hurts llama.cpp's multi-thread runs most (its threads spin at
  // barriers; onnxruntime's spinning is off): at load 12 on 2 cores, 2 threads decoded at
  // 1.5-3 tok/s and 1 thread at 22.
  const busy = Math.max(m.load_start[0] ?? 0, m.load_end[0] ?? 0) > m.cores;
  const lines = [
    `Machine: ${m.cores} × ${m.cpu}, Node ${m.node}, threads ${doc.threads}, load average ${m.load_start.map((x) => x.toFixed(1)).join(' ')} at the start, ${m.load_end.map((x) => x.toFixed(1)).join(' ')} at the end.`,
    ...(busy
      ? [
          `**The load average exceeded the ${m.cores} cores during this run: the numbers are not a fair comparison, rerun on a quiet machine.**`,
        ]
      : []),
    `${n} questions, greedy, at most ${extras.maxTokens} new tokens, median prompt ${fmt(median(doc.questions.map((q) => q.prompt_tokens)), 0)} tokens; llama.cpp is fed ragspec's prompt token ids (its own tokenization of the same text has the same token count on ${extras.tokenCountsMatch}/${n}).`,
    '',
    '| engine | decode tok/s | prefill tok/s | TTFT ms | tokens per forward | identical to its plain output | decode ÷ llama.cpp plain | prefill ÷ llama.cpp plain | TTFT ÷ llama.cpp plain |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const e of PEER_ENGINES) {
    const plain = PLAIN_OF[e];
    const tpf = col(e, 'tokens_per_forward');
    lines.push(
      `| ${e} | ${fmt(median(col(e, 'decode_tok_s')))} | ${fmt(median(col(e, 'prefill_tok_s')), 0)} | ${fmt(median(col(e, 'ttft_ms')), 0)} | ${fmt(tpf.every(Number.isNaN) ? null : median(tpf), 2)} | ${plain ? `${extras.identical[e] ?? 0}/${n}` : '—'} | ${fmt(ratio(e, 'decode_tok_s'), 2)} | ${fmt(ratio(e, 'prefill_tok_s'), 2)} | ${fmt(ratio(e, 'ttft_ms'), 2)} |`,
    );
  }
  lines.push(
    '',
    'Medians over questions; ratios are medians of the per-question ratios. Tokens per forward: target forwards after prefill for ragspec; for llama.cpp lookup, generated tokens / (generated tokens − predictions consumed), from the sequence’s `tokenPredictions`.',
  );
  return lines.join('\n');
}
