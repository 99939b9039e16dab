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

export const ANSWER_SYSTEM_PROMPT =
  'You answer questions about the documents below. Use only their content, copy their wording where it answers the question, and cite passages as [n]. If the documents do not contain the answer, say so.';

type PromptPassage = Pick<Passage, 'title' | 'path' | 'text'>;

/** The one passage-numbering template: `[n] title (path)` then the passage text. */
export function numberedPassages(passages: readonly PromptPassage[]): string {
  return passages.map((p, i) => `[${i + 1}] ${p.title} (${p.path})\n${p.text.trim()}`).join('\n\n');
}

/** Messages for answering `question`; without passages (top_k 0) just the question. */
export function answerMessages(question: string, passages: readonly PromptPassage[]): ChatMessage[] {
  if (passages.length === 0) return [{ role: 'user', content: question }];
  return [
    { role: 'system', content: `${ANSWER_SYSTEM_PROMPT}\n\n${numberedPassages(passages)}` },
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
