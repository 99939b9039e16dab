/**
 * Chat messages for retrieval-augmented requests. `/v1/answer` uses the engine's own
 * `answerMessages` (the prompt `ragspec ask` uses), so HTTP and CLI answers match; chat
 * completions keep the caller's conversation and add the numbered passages to its
 * system message.
 */
import { ANSWER_SYSTEM_PROMPT, answerMessages as engineAnswerMessages } from '../engine/prompt.ts';
import type { ChatMessage } from '../engine/types.ts';
import { boundedQuery } from '../retrieval/fusion.ts';
import type { ScoredPassage } from '../retrieval/types.ts';

function numbered(passages: readonly ScoredPassage[]): string {
  return passages.map((p, i) => `[${i + 1}] ${p.title} (${p.path})\n${p.text.trim()}`).join('\n\n');
}

/** Messages for `POST /v1/answer`; without passages (top_k 0) just the question. */
export function answerMessages(question: string, passages: readonly ScoredPassage[]): ChatMessage[] {
  if (passages.length === 0) return [{ role: 'user', content: question }];
  return engineAnswerMessages(question, passages);
}

/**
 * Chat completions with retrieval on: the passages join the first system message, or a
 * new one is put in front; the caller's own messages are kept as they are.
 */
export function withPassages(messages: ChatMessage[], passages: readonly ScoredPassage[]): ChatMessage[] {
  if (passages.length === 0) return messages;
  const block = `${ANSWER_SYSTEM_PROMPT}\n\n${numbered(passages)}`;
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
