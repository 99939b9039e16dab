/**
 * The generation contract between the engine and its callers (CLI, HTTP).
 *
 * Vocabulary (fixed once, used in code, metrics and API fields, after vLLM):
 * - target: the model whose output is reproduced exactly.
 * - draft source: where guessed tokens come from: a passage, the prompt, the output so far, or a drafter model.
 * - draft / candidate: a proposed token sequence; the tree merges candidates into a trie.
 * - step: one target forward over the draft tree (or one token in `ar` mode).
 * - accepted tokens: draft tokens the target agreed with; bonus token: the target's own next token
 *   after the accepted path (recovered token when it replaces a rejected draft token).
 * - acceptance length: tokens emitted per step = 1 + accepted tokens of that step.
 */
import type { DecodeMode } from '../drafting/modes.ts';
import type { DraftSourceKind } from '../drafting/types.ts';
import type { SamplingSettings } from '../verify/sampling.ts';

// The words callers need, defined where they live and re-exported as the engine's contract.
export type { DecodeMode } from '../drafting/modes.ts';
export type { DraftSourceKind } from '../drafting/types.ts';
export type { SamplingSettings } from '../verify/sampling.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * A passage a request drafts from and cites: its text and where that text starts in its
 * document (retrieval's `ScoredPassage` is one; the engine needs nothing else of it).
 */
export interface RequestPassage {
  id: number;
  text: string;
  /** Char offset of `text` in its document's source text. */
  start: number;
}

export interface GenerationRequest {
  /** Either a chat conversation (rendered with the model's chat template) or raw prompt text. */
  messages?: ChatMessage[];
  prompt?: string;
  /** Passages used as draft references (and, for `answer`, already placed in the prompt by the caller). */
  passages?: readonly RequestPassage[];
  maxTokens: number;
  sampling: SamplingSettings;
  stop?: string[];
  mode: DecodeMode;
  /**
   * Add the output to the history datastore (default true when the engine records).
   * `ragspec distill` says false and adds its answers itself, with their done marks.
   */
  recordHistory?: boolean;
  /**
   * Recorded with the output in the same atomic history record (`ragspec distill`: the
   * passage's done key, so a kill never leaves an answer without its mark or the reverse).
   */
  historyMark?: string;
}

/** A piece of the answer copied from a passage: the answer's char span and the passage's char span. */
export interface CopiedSpan {
  passageId: number;
  /** [start, end) in the answer text. */
  answerStart: number;
  answerEnd: number;
  /** [start, end) in the passage's document source text (same coordinates as Passage.start/end). */
  sourceStart: number;
  sourceEnd: number;
  text: string;
}

export interface SourceStats {
  drafts: number;
  draftTokens: number;
  acceptedTokens: number;
}

export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  /** Target forwards after prefill. */
  steps: number;
  drafts: number;
  draftTokens: number;
  acceptedTokens: number;
  bySource: Partial<Record<DraftSourceKind, SourceStats>>;
  /** accepted[i] = number of steps whose draft was accepted at depth i. */
  acceptedPerPosition: number[];
  /** Histogram: acceptanceLengths[n] = number of steps that emitted n tokens. */
  acceptanceLengths: number[];
  /** Tree sizes (nodes) per step. */
  treeSizes: number[];
  /** completionTokens / steps. */
  tokensPerStep: number;
  /** 1 + acceptedTokens / drafts. */
  meanAcceptanceLength: number;
  timeMs: { total: number; prefill: number; draft: number; verify: number; other: number };
  decodeTokensPerSecond: number;
  /** Only when the request ran through the Scheduler (continuous batching). */
  batch?: {
    /** ms from submission until a batch slot took the request. */
    queueWaitMs: number;
    /** Per decode step, averaged: requests in the step's forward(s), and their rows. */
    meanRequests: number;
    meanRows: number;
  };
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerationResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  copiedSpans: CopiedSpan[];
  stats: GenerationStats;
}

export interface GenerationCallbacks {
  /** Called with each newly emitted piece of text, in order. */
  onText?: (delta: string) => void;
  /** Called after every step (for cancellation checks and metrics). */
  onStep?: (step: { index: number; emitted: number; treeSize: number }) => void;
  /** Aborting stops generation within one step (also during prefill). */
  signal?: AbortSignal;
}
