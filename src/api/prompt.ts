/**
 * Chat messages for retrieval-augmented answers: the numbered passages go into the
 * conversation so the target can quote them — which is exactly what lets the reference
 * drafter copy spans. Kept to a few lines: the target is a 135M model.
 */
import type { ChatMessage } from '../engine/types.ts';
import type { ScoredPassage } from '../retrieval/types.ts';

export const ANSWER_SYSTEM_PROMPT =
  'You answer questions using the numbered passages. Quote the passages where they answer the question. If they do not, say you do not know.';

export function formatPassages(passages: readonly ScoredPassage[]): string {
  return passages
    .map((p, i) => {
      const where = p.headingPath.length ? `${p.title} > ${p.headingPath.join(' > ')}` : p.title;
      return `[${i + 1}] ${where}\n${p.text.trim()}`;
    })
    .join('\n\n');
}

/** Messages for `POST /v1/answer`. */
export function answerMessages(question: string, passages: readonly ScoredPassage[]): ChatMessage[] {
  if (passages.length === 0) return [{ role: 'user', content: question }];
  return [
    { role: 'system', content: ANSWER_SYSTEM_PROMPT },
    { role: 'user', content: `Passages:\n\n${formatPassages(passages)}\n\nQuestion: ${question}` },
  ];
}

/**
 * Chat completions with retrieval on: the passages join the (first) system message, or a
 * new one is put in front; the user's own messages are kept as they are.
 */
export function withPassages(messages: ChatMessage[], passages: readonly ScoredPassage[]): ChatMessage[] {
  if (passages.length === 0) return messages;
  const block = `${ANSWER_SYSTEM_PROMPT}\n\nPassages:\n\n${formatPassages(passages)}`;
  const first = messages[0];
  if (first?.role === 'system') return [{ role: 'system', content: `${first.content}\n\n${block}` }, ...messages.slice(1)];
  return [{ role: 'system', content: block }, ...messages];
}

/** The text retrieval searches with: the last user message. */
export function retrievalQuery(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') return messages[i]!.content;
  return messages[messages.length - 1]?.content ?? '';
}
