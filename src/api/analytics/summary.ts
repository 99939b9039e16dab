/**
 * Aggregate generation records into the acceptance analytics `GET /v1/analytics` returns.
 * Pure: records in, summary out. Vocabulary as in vLLM: mean acceptance length is
 * 1 + accepted / drafts; tokens per target forward is completion tokens / steps.
 */
import type { GenerationRecord } from './store.ts';

export interface SourceSummary {
  drafts: number;
  draft_tokens: number;
  accepted_tokens: number;
  /** accepted / draft tokens */
  acceptance_rate: number | null;
}

export interface AnalyticsSummary {
  window: string;
  since: string | null;
  requests: number;
  completion_tokens: number;
  prompt_tokens: number;
  steps: number;
  drafts: number;
  draft_tokens: number;
  accepted_tokens: number;
  acceptance_rate: number | null;
  mean_acceptance_length: number | null;
  tokens_per_target_forward: number | null;
  by_source: Record<string, SourceSummary>;
  /** acceptance_length_histogram[n] = steps that emitted n tokens */
  acceptance_length_histogram: number[];
  /** accepted_per_position[i] = steps whose draft was accepted at depth i; rate = / drafts */
  accepted_per_position: { position: number; accepted: number; rate: number | null }[];
  tree_sizes: { mean: number | null; max: number; histogram: { size: number; steps: number }[] };
  decode_tokens_per_second: { mean: number | null; by_mode: Record<string, number> };
  /**
   * Decode tok/s of speculative modes over `ar` requests in the same window when both are
   * present; otherwise tokens per target forward, an upper bound that ignores the extra
   * cost of verifying a tree.
   */
  estimated_speedup: {
    value: number | null;
    method: 'measured_vs_ar' | 'tokens_per_forward_upper_bound' | 'none';
  };
  latency_ms: { p50: number | null; p99: number | null };
  ttft_ms: { p50: number | null; p99: number | null };
  recent: {
    id: string;
    at: string;
    route: string;
    mode: string;
    finish_reason: string;
    question: string;
    completion_tokens: number;
    steps: number;
    tokens_per_step: number;
    accepted_tokens: number;
    decode_tokens_per_second: number;
    latency_ms: number;
  }[];
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/** Mean decode tok/s over records, weighted by tokens (total tokens / total decode time). */
function decodeRate(recs: GenerationRecord[]): number | null {
  let tokens = 0;
  let seconds = 0;
  for (const r of recs) {
    const tps = r.stats.decodeTokensPerSecond;
    if (!(tps > 0) || r.stats.completionTokens <= 0) continue;
    tokens += r.stats.completionTokens;
    seconds += r.stats.completionTokens / tps;
  }
  return seconds > 0 ? tokens / seconds : null;
}

export function summarize(
  records: GenerationRecord[],
  window: string,
  since: number | null,
  recentCount = 20,
): AnalyticsSummary {
  let completion = 0,
    prompt = 0,
    steps = 0,
    drafts = 0,
    draftTokens = 0,
    accepted = 0;
  const bySource: Record<string, SourceSummary> = {};
  const hist: number[] = [];
  const perPos: number[] = [];
  const treeHist = new Map<number, number>();
  let treeSum = 0,
    treeN = 0,
    treeMax = 0;
  const byMode = new Map<string, GenerationRecord[]>();

  for (const r of records) {
    const s = r.stats;
    completion += s.completionTokens;
    prompt += s.promptTokens;
    steps += s.steps;
    drafts += s.drafts;
    draftTokens += s.draftTokens;
    accepted += s.acceptedTokens;
    for (const [src, st] of Object.entries(s.bySource)) {
      if (!st) continue;
      const b = (bySource[src] ??= { drafts: 0, draft_tokens: 0, accepted_tokens: 0, acceptance_rate: null });
      b.drafts += st.drafts;
      b.draft_tokens += st.draftTokens;
      b.accepted_tokens += st.acceptedTokens;
    }
    s.acceptanceLengths.forEach((n, i) => (hist[i] = (hist[i] ?? 0) + n));
    s.acceptedPerPosition.forEach((n, i) => (perPos[i] = (perPos[i] ?? 0) + n));
    for (const t of s.treeSizes) {
      treeHist.set(t, (treeHist.get(t) ?? 0) + 1);
      treeSum += t;
      treeN++;
      treeMax = Math.max(treeMax, t);
    }
    const list = byMode.get(r.mode) ?? [];
    list.push(r);
    byMode.set(r.mode, list);
  }
  for (const b of Object.values(bySource)) b.acceptance_rate = ratio(b.accepted_tokens, b.draft_tokens);
  for (let i = 0; i < hist.length; i++) hist[i] ??= 0;

  const modeRates: Record<string, number> = {};
  for (const [mode, recs] of byMode) {
    const r = decodeRate(recs);
    if (r !== null) modeRates[mode] = r;
  }
  const specRecs = records.filter((r) => r.mode !== 'ar');
  const arRate = modeRates.ar ?? null;
  const specRate = decodeRate(specRecs);
  const specSteps = specRecs.reduce((a, r) => a + r.stats.steps, 0);
  const specTokens = specRecs.reduce((a, r) => a + r.stats.completionTokens, 0);
  let estimated: AnalyticsSummary['estimated_speedup'] = { value: null, method: 'none' };
  if (arRate && specRate) estimated = { value: specRate / arRate, method: 'measured_vs_ar' };
  else if (specSteps > 0)
    estimated = { value: specTokens / specSteps, method: 'tokens_per_forward_upper_bound' };

  const lat = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const ttft = records.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs])).sort((a, b) => a - b);

  return {
    window,
    since: since === null ? null : new Date(since).toISOString(),
    requests: records.length,
    completion_tokens: completion,
    prompt_tokens: prompt,
    steps,
    drafts,
    draft_tokens: draftTokens,
    accepted_tokens: accepted,
    acceptance_rate: ratio(accepted, draftTokens),
    mean_acceptance_length: drafts > 0 ? 1 + accepted / drafts : null,
    tokens_per_target_forward: ratio(completion, steps),
    by_source: bySource,
    acceptance_length_histogram: hist,
    accepted_per_position: perPos.map((n, i) => ({
      position: i,
      accepted: n ?? 0,
      rate: ratio(n ?? 0, drafts),
    })),
    tree_sizes: {
      mean: treeN > 0 ? treeSum / treeN : null,
      max: treeMax,
      histogram: [...treeHist.entries()].sort((a, b) => a[0] - b[0]).map(([size, n]) => ({ size, steps: n })),
    },
    decode_tokens_per_second: { mean: decodeRate(records), by_mode: modeRates },
    estimated_speedup: estimated,
    latency_ms: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) },
    ttft_ms: { p50: quantile(ttft, 0.5), p99: quantile(ttft, 0.99) },
    recent: records
      .slice(-recentCount)
      .reverse()
      .map((r) => ({
        id: r.id,
        at: new Date(r.createdAt).toISOString(),
        route: r.route,
        mode: r.mode,
        finish_reason: r.finishReason,
        question: r.question,
        completion_tokens: r.stats.completionTokens,
        steps: r.stats.steps,
        tokens_per_step: r.stats.tokensPerStep,
        accepted_tokens: r.stats.acceptedTokens,
        decode_tokens_per_second: r.stats.decodeTokensPerSecond,
        latency_ms: r.latencyMs,
      })),
  };
}
