/**
 * Attribution: accepted draft tokens that were copied from a passage become `CopiedSpan`s —
 * the answer's character span next to the passage's character span — merged where
 * consecutive output tokens continue the same passage. A span is reported only when the
 * answer text and the passage text it points at are equal character for character.
 */
import type { CopiedSpan, RequestPassage } from './types.ts';

/** For one output token: copied from passage `passageId`, its token `token`. */
export interface TokenCopy {
  passageId: number;
  token: number;
}

export interface PassageChars {
  /** [start, end) in the passage text of passage tokens [from, to). */
  passageChars(passageId: number, from: number, to: number): [number, number] | null;
}

/**
 * @param copies       [T] per output token: where it was copied from, or null
 * @param tokenOffsets [T+1] char offset of each output token in the answer text
 * @param answer       the final answer text (may be shorter than the tokens' text after a stop string)
 */
export function copiedSpans(
  copies: readonly (TokenCopy | null)[],
  tokenOffsets: Int32Array,
  answer: string,
  passages: ReadonlyMap<number, RequestPassage>,
  chars: PassageChars,
): CopiedSpan[] {
  const out: CopiedSpan[] = [];
  let i = 0;
  while (i < copies.length) {
    const c = copies[i];
    if (!c) {
      i++;
      continue;
    }
    let j = i + 1;
    while (
      j < copies.length &&
      copies[j]?.passageId === c.passageId &&
      copies[j]!.token === c.token + (j - i)
    )
      j++;
    const span = toSpan(
      c.passageId,
      c.token,
      c.token + (j - i),
      tokenOffsets[i]!,
      tokenOffsets[j]!,
      answer,
      passages,
      chars,
    );
    if (span) {
      const prev = out[out.length - 1];
      // Two runs of the same passage that touch in both texts are one citation.
      if (
        prev &&
        prev.passageId === span.passageId &&
        prev.answerEnd === span.answerStart &&
        prev.sourceEnd === span.sourceStart
      ) {
        prev.answerEnd = span.answerEnd;
        prev.sourceEnd = span.sourceEnd;
        prev.text += span.text;
      } else out.push(span);
    }
    i = j;
  }
  return out;
}

function toSpan(
  passageId: number,
  fromTok: number,
  toTok: number,
  answerStart: number,
  answerEnd: number,
  answer: string,
  passages: ReadonlyMap<number, RequestPassage>,
  chars: PassageChars,
): CopiedSpan | null {
  const p = passages.get(passageId);
  const range = chars.passageChars(passageId, fromTok, toTok);
  if (!p || !range) return null;
  const s = range[0];
  // A stop string may have cut the answer inside the span.
  const cut = Math.max(0, answerEnd - answer.length);
  answerEnd -= cut;
  const e = range[1] - cut;
  // Whitespace-only or empty copies are not citations.
  if (answerEnd <= answerStart || e <= s) return null;
  const text = answer.slice(answerStart, answerEnd);
  if (text !== p.text.slice(s, e) || text.trim() === '') return null;
  return { passageId, answerStart, answerEnd, sourceStart: p.start + s, sourceEnd: p.start + e, text };
}
