import { describe, expect, it } from 'vitest';
import { copiedSpans } from '../../src/engine/attribution.ts';

// Passage 7 is "the cat sat on the mat" at source offset 100; its tokens are words with
// their leading space: ["the", " cat", " sat", " on", " the", " mat"].
const passage = { id: 7, text: 'the cat sat on the mat', start: 100 };
const passageOffsets = [0, 3, 7, 11, 14, 18, 22];
const chars = {
  passageChars: (id: number, from: number, to: number): [number, number] | null =>
    id === 7 ? [passageOffsets[from]!, passageOffsets[to]!] : null,
};
const passages = new Map([[7, passage]]);

describe('copiedSpans', () => {
  it('merges consecutive copied tokens into one citation with both character spans', () => {
    // answer "Yes: cat sat on" = tokens ["Yes:", " cat", " sat", " on"]; tokens 1..3 copied
    // from passage tokens 1..3.
    const answer = 'Yes: cat sat on';
    const spans = copiedSpans(
      [null, { passageId: 7, token: 1 }, { passageId: 7, token: 2 }, { passageId: 7, token: 3 }],
      Int32Array.from([0, 4, 8, 12, 15]),
      answer,
      passages,
      chars,
    );
    expect(spans).toEqual([
      { passageId: 7, answerStart: 4, answerEnd: 15, sourceStart: 103, sourceEnd: 114, text: ' cat sat on' },
    ]);
    expect(passage.text.slice(3, 14)).toBe(spans[0]!.text);
  });

  it('splits where the passage position jumps, and drops spans whose texts differ', () => {
    // tokens copied from passage tokens 1 then 4 (not consecutive): two citations.
    const answer = ' cat the';
    const spans = copiedSpans(
      [
        { passageId: 7, token: 1 },
        { passageId: 7, token: 4 },
      ],
      Int32Array.from([0, 4, 8]),
      answer,
      passages,
      chars,
    );
    expect(spans.map((s) => s.text)).toEqual([' cat', ' the']);
    // a claimed copy whose text does not match the passage is not a citation
    const wrong = copiedSpans([{ passageId: 7, token: 2 }], Int32Array.from([0, 4]), ' dog', passages, chars);
    expect(wrong).toEqual([]);
  });

  it('clips a span cut by a stop string', () => {
    // tokens " cat", " sat" copied, but a stop string cut the answer after " cat s"
    const spans = copiedSpans(
      [
        { passageId: 7, token: 1 },
        { passageId: 7, token: 2 },
      ],
      Int32Array.from([0, 4, 8]),
      ' cat s',
      passages,
      chars,
    );
    expect(spans).toEqual([
      { passageId: 7, answerStart: 0, answerEnd: 6, sourceStart: 103, sourceEnd: 109, text: ' cat s' },
    ]);
  });
});
