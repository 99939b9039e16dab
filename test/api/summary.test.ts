/** The analytics summary on literal records. */
import { describe, expect, it } from 'vitest';
import type { GenerationRecord } from '../../src/api/analytics/store.ts';
import { summarize } from '../../src/api/analytics/summary.ts';
import type { GenerationStats } from '../../src/engine/types.ts';

function stats(p: Partial<GenerationStats>): GenerationStats {
  return {
    promptTokens: 10,
    completionTokens: 0,
    steps: 0,
    drafts: 0,
    draftTokens: 0,
    acceptedTokens: 0,
    bySource: {},
    acceptedPerPosition: [],
    acceptanceLengths: [],
    treeSizes: [],
    tokensPerStep: 0,
    meanAcceptanceLength: 1,
    timeMs: { total: 0, prefill: 0, draft: 0, verify: 0, other: 0 },
    decodeTokensPerSecond: 0,
    ...p,
  };
}

const rec = (id: string, mode: string, s: GenerationStats, at = 1000): GenerationRecord => ({
  id,
  createdAt: at,
  route: 'answer',
  mode,
  finishReason: 'stop',
  question: `q ${id}`,
  passages: 2,
  stats: s,
  latencyMs: 100,
  ttftMs: 10,
});

describe('summarize', () => {
  // A hybrid request: 4 steps emitted 1+3+4+2 = 10 tokens; drafts in 3 steps.
  const hybrid = rec(
    'h',
    'hybrid',
    stats({
      completionTokens: 10,
      steps: 4,
      drafts: 3,
      draftTokens: 9,
      acceptedTokens: 6,
      bySource: {
        passage: { drafts: 2, draftTokens: 7, acceptedTokens: 5 },
        model: { drafts: 1, draftTokens: 2, acceptedTokens: 1 },
      },
      acceptedPerPosition: [3, 2, 1],
      acceptanceLengths: [0, 1, 1, 1, 1],
      treeSizes: [1, 8, 8, 4],
      tokensPerStep: 2.5,
      decodeTokensPerSecond: 50,
    }),
  );
  // A plain AR request: 5 tokens in 5 steps at 20 tok/s.
  const ar = rec(
    'a',
    'ar',
    stats({
      completionTokens: 5,
      steps: 5,
      acceptanceLengths: [0, 5],
      treeSizes: [1, 1, 1, 1, 1],
      tokensPerStep: 1,
      decodeTokensPerSecond: 20,
    }),
    2000,
  );

  it('adds up acceptance by source, per position and histogram', () => {
    const s = summarize([hybrid, ar], '1h', 0);
    expect(s.requests).toBe(2);
    expect(s.by_source.passage).toEqual({
      drafts: 2,
      draft_tokens: 7,
      accepted_tokens: 5,
      acceptance_rate: 5 / 7,
    });
    expect(s.mean_acceptance_length).toBe(1 + 6 / 3);
    expect(s.tokens_per_target_forward).toBe(15 / 9);
    expect(s.acceptance_length_histogram).toEqual([0, 6, 1, 1, 1]);
    expect(s.accepted_per_position).toEqual([
      { position: 0, accepted: 3, rate: 1 },
      { position: 1, accepted: 2, rate: 2 / 3 },
      { position: 2, accepted: 1, rate: 1 / 3 },
    ]);
    expect(s.tree_sizes.histogram).toEqual([
      { size: 1, steps: 6 },
      { size: 4, steps: 1 },
      { size: 8, steps: 2 },
    ]);
    expect(s.recent.map((r) => r.id)).toEqual(['a', 'h']); // newest first
  });

  it('measures speedup against ar requests when there are some, else gives the upper bound', () => {
    expect(summarize([hybrid, ar], 'all', null).estimated_speedup).toEqual({
      value: 50 / 20,
      method: 'measured_vs_ar',
    });
    expect(summarize([hybrid], 'all', null).estimated_speedup).toEqual({
      value: 2.5,
      method: 'tokens_per_forward_upper_bound',
    });
    expect(summarize([], 'all', null).estimated_speedup).toEqual({ value: null, method: 'none' });
  });
});
