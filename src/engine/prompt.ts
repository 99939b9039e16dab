/**
 * The chat prompt for answering a question from retrieved passages: passages are numbered
 * [1]..[k] in the system message so the answer can cite them, and so the model sees (and
 * tends to copy) their exact wording — which is what the reference drafter exploits.
 */
import type { Passage } from '../retrieval/types.ts';
import type { ChatMessage } from './types.ts';

export const ANSWER_SYSTEM_PROMPT =
  'You answer questions about the documents below. Use only their content, copy their wording where it answers the question, and cite passages as [n]. If the documents do not contain the answer, say so.';

export function answerMessages(
  question: string,
  passages: readonly Pick<Passage, 'title' | 'path' | 'text'>[],
): ChatMessage[] {
  const docs = passages.map((p, i) => `[${i + 1}] ${p.title} (${p.path})\n${p.text.trim()}`).join('\n\n');
  return [
    { role: 'system', content: `${ANSWER_SYSTEM_PROMPT}\n\n${docs}` },
    { role: 'user', content: question },
  ];
}
