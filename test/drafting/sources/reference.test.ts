import { describe, expect, it } from 'vitest';
import { ReferenceDrafter } from '../../../src/drafting/sources/reference.ts';
import { NgramIndex } from '../../../src/drafting/ngram-index.ts';
import { tokenCharOffsets } from '../../../src/drafting/offsets.ts';
import { PassageCharIndex } from '../../../src/drafting/passage-chars.ts';

/** Word-level toy tokenizer over a fixed vocabulary: tokens are " word" pieces. */
const words = ['<eos>', ' the', ' cat', ' sat', ' on', ' mat', ' dog', ' ran', ' far', ' a', ' big'];
const tok = {
  encode: (text: string): number[] =>
    text
      .split(/(?= )/)
      .filter(Boolean)
      .map((w) => words.indexOf(w)),
  decode: (ids: readonly number[]): string => ids.map((i) => words[i]).join(''),
};
const budget = { maxTokens: 32, maxDepth: 4, maxBranches: 4 };

describe('NgramIndex', () => {
  it('finds every occurrence of a suffix, most recent first, and extends append-only', () => {
    const idx = new NgramIndex(3);
    const seq = [1, 2, 3, 1, 2, 4];
    const id = idx.add(seq);
    expect(idx.lookup([9, 1, 2], 2, 10)).toEqual([
      { seq: id, end: 4 },
      { seq: id, end: 1 },
    ]);
    expect(idx.lookup([1, 2, 3], 3, 10)).toEqual([{ seq: id, end: 2 }]);
    seq.push(1, 2);
    idx.extend(id);
    expect(idx.lookup([1, 2], 2, 10).map((h) => h.end)).toEqual([7, 4, 1]);
    expect(idx.lookup([1, 2], 2, 1).length).toBe(1);
  });
});

describe('ReferenceDrafter', () => {
  it('copies what follows the longest suffix match in a passage', () => {
    const d = new ReferenceDrafter([{ id: 7, text: ' the cat sat on the mat' }], tok);
    // context ends with " the cat": the passage continues " sat on the mat".
    const ctx = tok.encode(' a big the cat');
    const c = d.propose({ tokens: ctx, promptLength: ctx.length, sampling: { temperature: 0 } }, budget);
    expect(c[0]!.tokens).toEqual(tok.encode(' sat on the mat'));
    expect(c[0]!.provenance).toEqual({ kind: 'passage', passageId: 7, offset: 2 });
  });

  it('offers several branches for an ambiguous short match, longest match first', () => {
    const d = new ReferenceDrafter([{ id: 1, text: ' the cat sat the dog ran' }], tok, {
      selfReference: false,
    });
    // " the" occurs twice: two branches, " cat…" and " dog…" (more recent first on equal votes).
    const c = d.propose(
      { tokens: tok.encode(' a the'), promptLength: 2, sampling: { temperature: 0 } },
      budget,
    );
    expect(c.map((x) => tok.decode(x.tokens))).toEqual([' dog ran', ' cat sat the dog']);
    // with " sat the" the 2-gram match wins and is ranked before the 1-gram ones
    const c2 = d.propose(
      { tokens: tok.encode(' sat the'), promptLength: 2, sampling: { temperature: 0 } },
      budget,
    );
    expect(tok.decode(c2[0]!.tokens)).toBe(' dog ran');
  });

  it('proposes nothing when no suffix matches (no draft is not an error)', () => {
    const d = new ReferenceDrafter([{ id: 1, text: ' the cat' }], tok, { selfReference: false });
    expect(
      d.propose({ tokens: tok.encode(' far'), promptLength: 1, sampling: { temperature: 0 } }, budget),
    ).toEqual([]);
  });

  it('uses the prompt and the output so far, growing as the output grows', () => {
    const d = new ReferenceDrafter([], tok);
    const prompt = tok.encode(' dog ran far a');
    const c1 = d.propose(
      { tokens: prompt, promptLength: prompt.length, sampling: { temperature: 0 } },
      budget,
    );
    expect(c1).toEqual([]); // " a" occurs only at the end
    const ctx = [...prompt, ...tok.encode(' big dog')];
    const c2 = d.propose({ tokens: ctx, promptLength: prompt.length, sampling: { temperature: 0 } }, budget);
    expect(c2[0]!.provenance).toEqual({ kind: 'prompt', offset: 1 });
    expect(tok.decode(c2[0]!.tokens)).toBe(' ran far a big');
    const ctx3 = [...ctx, ...tok.encode(' ran far a big')];
    const c3 = d.propose({ tokens: ctx3, promptLength: prompt.length, sampling: { temperature: 0 } }, budget);
    // " a big" last seen in the output: continues with " dog ran far a" from the output (offset 1)
    expect(c3[0]!.provenance).toEqual({ kind: 'output', offset: 1 });
  });

  it('maps passage tokens to character spans', () => {
    const d = new PassageCharIndex([{ id: 3, text: ' the cat sat' }], tok);
    expect(d.passageChars(3, 1, 3)).toEqual([4, 12]); // " cat sat"
    expect(d.passageChars(4, 0, 1)).toBeNull();
  });
  // propose's speed is measured by `npm run bench:drafting` (bench/drafting.ts), not here.
});

describe('tokenCharOffsets', () => {
  it('gives exact offsets, and the char start for tokens that split a UTF-8 character', () => {
    // byte-ish decode: tokens 200/201 are the two halves of "é"; alone each decodes to U+FFFD.
    const decode = (ids: readonly number[]): string => {
      let s = '';
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] === 200 && ids[i + 1] === 201) {
          s += 'é';
          i++;
        } else if (ids[i] === 200 || ids[i] === 201) s += '\uFFFD';
        else s += 'ab'[ids[i]!]!;
      }
      return s;
    };
    expect(Array.from(tokenCharOffsets([0, 200, 201, 1], decode))).toEqual([0, 1, 1, 2, 3]);
  });
});
