/**
 * The chat prompt for answering from retrieved passages. Passages are numbered [1]..[k]
 * (one template, `numberedPassages`) in the system message so the answer can cite them,
 * and so the model sees (and tends to copy) their exact wording — which is what the
 * reference drafter exploits. `/v1/answer`, `ragspec ask`, the bench and the lossless test
 * all use `answerMessages`; chat completions keep the caller's conversation and add the
 * same block to its system message (`withPassages`).
 */
import type { ChatMessage } from '../engine/types.ts';
import { boundedQuery } from '../retrieval/fusion.ts';
import type { Passage } from '../retrieval/types.ts';

/**
 * One way of asking: the instruction, and where the numbered passages go — `system`: after
 * the instruction in the system message, the question alone as the user message; `user`: in
 * the user message, right before the question.
 */
export interface AnswerPrompt {
  instruction: string;
  layout: 'system' | 'user';
}

/**
 * The variants measured on the dev set (bench/prompts.ts; docs/BENCHMARKS.md, "Answer
 * prompt"). The default is the one best for quality and speed together.
 */
export const ANSWER_PROMPTS = {
  'copy-wording': {
    instruction:
      'You answer questions about the documents below. Use only their content, copy their wording where it answers the question, and cite passages as [n]. If the documents do not contain the answer, say so.',
    layout: 'system',
  },
  'short-quote': {
    instruction:
      'Answer the question in one or two short sentences that quote the passage below that answers it, and cite it as [n]. If the documents do not contain the answer, say so.',
    layout: 'system',
  },
  'exact-words': {
    instruction:
      "Answer the question with the passage's exact words: copy the sentence from the documents below that answers it, and cite it as [n]. If the documents do not contain the answer, say so.",
    layout: 'system',
  },
  'short-quote-user': {
    instruction:
      'Answer the question in one or two short sentences that quote the passage that answers it, and cite it as [n]. If the passages do not contain the answer, say so.',
    layout: 'user',
  },
} as const satisfies Record<string, AnswerPrompt>;

export type AnswerPromptName = keyof typeof ANSWER_PROMPTS;
export const ANSWER_PROMPT_NAMES = Object.keys(ANSWER_PROMPTS) as AnswerPromptName[];
export const DEFAULT_ANSWER_PROMPT: AnswerPromptName = 'copy-wording';
/** The default instruction (chat completions with retrieval put it in the system message). */
export const ANSWER_SYSTEM_PROMPT: string = ANSWER_PROMPTS[DEFAULT_ANSWER_PROMPT].instruction;

type PromptPassage = Pick<Passage, 'title' | 'path' | 'text'>;

/** The one passage-numbering template: `[n] title (path)` then the passage text. */
export function numberedPassages(passages: readonly PromptPassage[]): string {
  return passages.map((p, i) => `[${i + 1}] ${p.title} (${p.path})\n${p.text.trim()}`).join('\n\n');
}

/** Messages for answering `question`; without passages (top_k 0) just the question. */
export function answerMessages(
  question: string,
  passages: readonly PromptPassage[],
  prompt: AnswerPrompt = ANSWER_PROMPTS[DEFAULT_ANSWER_PROMPT],
): ChatMessage[] {
  if (passages.length === 0) return [{ role: 'user', content: question }];
  if (prompt.layout === 'user')
    return [
      { role: 'system', content: prompt.instruction },
      { role: 'user', content: `${numberedPassages(passages)}\n\nQuestion: ${question}` },
    ];
  return [
    { role: 'system', content: `${prompt.instruction}\n\n${numberedPassages(passages)}` },
    { role: 'user', content: question },
  ];
}

/**
 * Chat completions with retrieval on: the passages join the first system message, or a
 * new one is put in front; the caller's own messages are kept as they are.
 */
export function withPassages(messages: ChatMessage[], passages: readonly PromptPassage[]): ChatMessage[] {
  if (passages.length === 0) return messages;
  const block = `${ANSWER_SYSTEM_PROMPT}\n\n${numberedPassages(passages)}`;
  const first = messages[0];
  if (first?.role === 'system')
    return [{ role: 'system', content: `${first.content}\n\n${block}` }, ...messages.slice(1)];
  return [{ role: 'system', content: block }, ...messages];
}

/** The text retrieval searches with: the last user message, cut to what retrieval reads. */
export function retrievalQuery(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--)
    if (messages[i]!.role === 'user') return boundedQuery(messages[i]!.content);
  return boundedQuery(messages[messages.length - 1]?.content ?? '');
}
