/**
 * Response bodies: our answer shape and OpenAI's exact `chat.completion` /
 * `chat.completion.chunk` shapes. Pure functions of a generation outcome.
 */
import type { Answer } from '../answer/answer.ts';
import type { FinishReason, GenerationStats } from '../engine/types.ts';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(s: GenerationStats): Usage {
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    total_tokens: s.promptTokens + s.completionTokens,
  };
}

export function speculativeOf(s: GenerationStats, mode: string) {
  const bySource: Record<string, { drafts: number; draft_tokens: number; accepted_tokens: number }> = {};
  for (const [k, v] of Object.entries(s.bySource)) {
    if (v) bySource[k] = { drafts: v.drafts, draft_tokens: v.draftTokens, accepted_tokens: v.acceptedTokens };
  }
  return {
    mode,
    steps: s.steps,
    drafts: s.drafts,
    draft_tokens: s.draftTokens,
    accepted_tokens: s.acceptedTokens,
    acceptance_rate: s.draftTokens > 0 ? s.acceptedTokens / s.draftTokens : null,
    by_source: bySource,
    tokens_per_step: s.tokensPerStep,
    mean_acceptance_length: s.meanAcceptanceLength,
    accepted_per_position: s.acceptedPerPosition,
    acceptance_length_histogram: s.acceptanceLengths,
    tree_sizes: s.treeSizes,
    decode_tokens_per_second: s.decodeTokensPerSecond,
    time_ms: s.timeMs,
  };
}

/** OpenAI knows `stop` and `length`; a cancelled generation ends like a length cut. */
export function openaiFinishReason(f: FinishReason): 'stop' | 'length' {
  return f === 'stop' ? 'stop' : 'length';
}

export function answerBody({ result, citations }: Answer, mode: string, id: string) {
  return {
    id,
    answer: result.text,
    finish_reason: result.finishReason,
    citations,
    usage: usageOf(result.stats),
    speculative: speculativeOf(result.stats, mode),
  };
}

export interface ChatIds {
  id: string;
  created: number;
  model: string;
}

export function chatCompletion(ids: ChatIds, { result, citations }: Answer, mode: string) {
  return {
    id: ids.id,
    object: 'chat.completion' as const,
    created: ids.created,
    model: ids.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: result.text, refusal: null },
        logprobs: null,
        finish_reason: openaiFinishReason(result.finishReason),
      },
    ],
    usage: usageOf(result.stats),
    system_fingerprint: null,
    // ragspec extension; OpenAI clients ignore unknown fields.
    ragspec: { citations, speculative: speculativeOf(result.stats, mode) },
  };
}

type ChunkDelta = { role?: 'assistant'; content?: string };

export function chatChunk(
  ids: ChatIds,
  delta: ChunkDelta,
  finishReason: 'stop' | 'length' | null,
  includeUsage: boolean,
) {
  return {
    id: ids.id,
    object: 'chat.completion.chunk' as const,
    created: ids.created,
    model: ids.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, the usage. */
export function usageChunk(ids: ChatIds, usage: Usage) {
  return {
    id: ids.id,
    object: 'chat.completion.chunk' as const,
    created: ids.created,
    model: ids.model,
    system_fingerprint: null,
    choices: [],
    usage,
  };
}
