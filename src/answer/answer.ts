/**
 * "Answer a question", the one use case behind `POST /v1/answer`, chat completions with
 * retrieval, `ragspec ask`, the engine bench and the real-model lossless test:
 *
 *   1. retrieve  the passages for the question (none when k = 0);
 *   2. prompt    the numbered passages in the system message (prompt.ts), and the same
 *                passages as draft references;
 *   3. generate  on whatever runs generations (the Engine, or the HTTP worker's backend);
 *   4. cite      the passages with the answer spans copied from each (citations.ts).
 *
 * `prepareAnswer` (1-2) and `completeAnswer` (3-4) are separate so the HTTP layer can check
 * the prompt against the context window and queue the generation in between;
 * `answerQuestion` runs all four.
 */
import type { DecodeMode } from '../drafting/modes.ts';
import type {
  ChatMessage,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
  SamplingSettings,
} from '../engine/types.ts';
import type { ScoredPassage } from '../retrieval/types.ts';
import { citationsOf, type Citation } from './citations.ts';
import { answerMessages, withPassages } from './prompt.ts';

export interface PassageSearch {
  search(query: string, opts: { k: number; pathPrefix?: string }): Promise<ScoredPassage[]>;
}

export interface Generator {
  generate(req: GenerationRequest, callbacks?: GenerationCallbacks): Promise<GenerationResult>;
}

export interface Question {
  /** What retrieval searches with (and, without a conversation, what is asked). */
  question: string;
  /** Answer this conversation instead (chat completions): the passages join its system message. */
  conversation?: ChatMessage[];
  /** Passages to retrieve; 0 = none. */
  k: number;
  /** Only passages of documents whose path starts with this. */
  pathPrefix?: string;
  maxTokens: number;
  sampling: SamplingSettings;
  stop?: string[];
  mode: DecodeMode;
}

export interface PreparedAnswer {
  question: string;
  passages: ScoredPassage[];
  request: GenerationRequest;
}

export interface Answer {
  result: GenerationResult;
  passages: ScoredPassage[];
  citations: Citation[];
}

/** Steps 1-2: retrieve, then the generation request with the passages in the prompt. */
export async function prepareAnswer(search: PassageSearch, q: Question): Promise<PreparedAnswer> {
  const passages = q.k > 0 ? await search.search(q.question, { k: q.k, pathPrefix: q.pathPrefix }) : [];
  const messages = q.conversation
    ? withPassages(q.conversation, passages)
    : answerMessages(q.question, passages);
  const request: GenerationRequest = {
    messages,
    passages,
    maxTokens: q.maxTokens,
    sampling: q.sampling,
    stop: q.stop,
    mode: q.mode,
  };
  return { question: q.question, passages, request };
}

/** Steps 3-4: generate, then cite. */
export async function completeAnswer(
  generator: Generator,
  prepared: PreparedAnswer,
  callbacks: GenerationCallbacks = {},
): Promise<Answer> {
  const result = await generator.generate(prepared.request, callbacks);
  return { result, passages: prepared.passages, citations: citationsOf(prepared.passages, result) };
}

export async function answerQuestion(
  search: PassageSearch,
  generator: Generator,
  q: Question,
  callbacks: GenerationCallbacks = {},
): Promise<Answer> {
  return completeAnswer(generator, await prepareAnswer(search, q), callbacks);
}
