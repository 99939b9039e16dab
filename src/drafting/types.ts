/**
 * The one interface every draft source implements (after transformers' candidate
 * generators and vLLM's proposers): `propose` guesses continuations of the context,
 * `observe` hears how the last guesses fared. A source never knows how drafts are verified.
 * Proposing nothing (an empty list) is normal: the step then decodes one token.
 */
import type { SamplingSettings } from '../verify/sampling.ts';

/** Where draft tokens come from (the label of per-source stats and metrics). */
export type DraftSourceKind = 'passage' | 'prompt' | 'output' | 'history' | 'model' | 'recycling';

/** Where a candidate came from. */
export type Provenance =
  | {
      kind: 'passage';
      passageId: number;
      /** token offset of the candidate's first token in the passage's token sequence */ offset: number;
    }
  | { kind: 'prompt'; offset: number }
  | { kind: 'output'; offset: number }
  /** entry: the history entry id; offset: token offset of the candidate's first token in it */
  | { kind: 'history'; entry: number; offset: number }
  | { kind: 'model'; model: string }
  /** the target's own top-k after `after` (token recycling); `rank` of the first token there */
  | { kind: 'recycling'; after: number; rank: number };

export interface DraftCandidate {
  /** Proposed continuation tokens (after the context's last token). */
  tokens: number[];
  provenance: Provenance;
  /** Rough probability that the first token is accepted, in [0, 1]; ranks branches. */
  confidence: number;
  /**
   * For a drafter model sampling from q: `q[i]` is the distribution `[V]` tokens[i] was
   * drawn from. Absent for deterministic drafts (copied spans, greedy model drafts).
   */
  q?: Float32Array[];
  /**
   * Estimated probability that tokens[i] is accepted given tokens[0..i-1] were (from the
   * source's running statistics); the engine sizes the tree with it. Absent = unknown.
   */
  acceptProbs?: number[];
}

export interface DraftBudget {
  /** Most draft nodes (tokens) this source should return in total. */
  maxTokens: number;
  /** Longest single candidate. */
  maxDepth: number;
  /** Most candidates. */
  maxBranches: number;
}

export interface DraftContext {
  /** Prompt + output so far; the last token is decided but not yet in the target's KV cache. */
  tokens: readonly number[];
  /** Length of the prompt part of `tokens`. */
  promptLength: number;
  /** The request's sampling settings: a drafter model samples (and shapes its q like the
   * target's p) only when the temperature is > 0. */
  sampling: SamplingSettings;
}

/** A draft source with its role: a `fallback` source is asked only when the sources before it
 * had nothing to offer or their running acceptance is low (see DraftPlanner). */
export interface PlannedSource {
  source: DraftSource;
  fallback?: boolean;
}

/** What happened to one source's drafts in a step. */
export interface DraftOutcome {
  /** Draft tokens this source contributed to the tree (after merging). */
  draftTokens: number;
  /** How many of them ended up on the accepted path. */
  acceptedTokens: number;
  /** The context after the step (so stateful sources can sync). */
  context: readonly number[];
  /**
   * [R][k] the target's top-k next tokens (best first) after context[topKAt + j]: the root,
   * then each accepted token. Present when a source asked for them (`DraftSource.topK`).
   */
  topK?: readonly (readonly number[])[];
  topKAt?: number;
}

export interface DraftSource {
  propose(context: DraftContext, budget: DraftBudget): Promise<DraftCandidate[]> | DraftCandidate[];
  /** Called after every step, also when none of this source's drafts made it into the tree. */
  observe(outcome: DraftOutcome): void;
  /**
   * Running share of this source's drafted tokens that were accepted, in [0, 1]. The planner
   * reads it to decide whether a fallback source is still asked.
   */
  readonly acceptance: number;
  /** How many of the target's top next tokens per verified row this source learns from (0/absent = none). */
  readonly topK?: number;
  /**
   * Running ms one `propose` costs (a drafter model's own forwards); the planner asks a
   * fallback with a cost only while its expected saving exceeds it. Absent = free.
   */
  readonly costMs?: number;
  /**
   * A free fallback's running payoff, in target ms per step it drafted in: its accepted
   * tokens × one forward, minus what its rows added to that step's forward (cost curve).
   * The planner keeps it and stops asking the source while it is negative (probing it every
   * few steps); a source that persists it starts the next process from it.
   */
  payoffMs?: number;
  /** Start a new request: drop per-request state (what it learned about the target may stay). */
  reset?(): void;
  dispose?(): Promise<void>;
}
