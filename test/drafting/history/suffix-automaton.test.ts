import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SuffixAutomaton } from '../../../src/drafting/history/suffix-automaton.ts';

/** Brute force: occurrences of `w` (as a contiguous run) across all sequences. */
function count(seqs: number[][], w: number[]): number {
  let n = 0;
  for (const s of seqs)
    for (let i = 0; i + w.length <= s.length; i++) if (w.every((t, j) => s[i + j] === t)) n++;
  return n;
}

function walk(sam: SuffixAutomaton, w: number[]): number {
  let s = 0;
  for (const t of w) {
    s = sam.next(s, t);
    if (s < 0) return -1;
  }
  return s;
}

describe('SuffixAutomaton', () => {
  it('counts how often each continuation followed a string (literal sequences)', () => {
    const sam = new SuffixAutomaton();
    sam.add([1, 2, 3, 4]);
    sam.add([1, 2, 3, 5]);
    sam.add([9, 1, 2, 3, 4, 1, 2]);
    const v = walk(sam, [1, 2, 3]);
    expect(sam.occurrences(v)).toBe(3);
    const follow = new Map(sam.edges(v).map(([t, s]) => [t, sam.occurrences(s)]));
    // "1 2 3" was followed by 4 twice and by 5 once
    expect(follow).toEqual(
      new Map([
        [4, 2],
        [5, 1],
      ]),
    );
    // a match never crosses two sequences: "4 1" occurs only inside the third one
    expect(sam.occurrences(walk(sam, [4, 1]))).toBe(1);
    expect(walk(sam, [5, 9])).toBe(-1);
  });

  it('matchSuffix finds the longest suffix of a context that occurs', () => {
    const sam = new SuffixAutomaton();
    sam.add([5, 6, 7, 8]);
    sam.add([1, 2, 7, 8, 3]);
    expect(sam.matchSuffix([0, 0, 6, 7, 8])).toMatchObject({ length: 3 });
    expect(sam.matchSuffix([0, 2, 7])).toMatchObject({ length: 2 });
    expect(sam.matchSuffix([4])).toEqual({ state: 0, length: 0 });
  });

  it('endOf/sequenceAt point at a real occurrence', () => {
    const sam = new SuffixAutomaton();
    sam.add([1, 2, 3]);
    sam.add([4, 2, 3, 7]);
    const s = walk(sam, [2, 3, 7]);
    const { sequence, offset } = sam.sequenceAt(sam.endOf(s));
    expect(sequence).toBe(1);
    expect(offset).toBe(3); // the 7 of [4, 2, 3, 7]
  });

  it('every substring is found with its exact occurrence count, and nothing else (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
        (seqs, w) => {
          const sam = new SuffixAutomaton();
          for (const s of seqs) sam.add(s);
          const n = count(seqs, w);
          const st = walk(sam, w);
          if (n === 0) expect(st).toBe(-1);
          else {
            expect(st).toBeGreaterThan(0);
            expect(sam.occurrences(st)).toBe(n);
            const { sequence, offset } = sam.sequenceAt(sam.endOf(st));
            const seq = seqs[sequence]!;
            expect(seq.slice(offset - w.length + 1, offset + 1)).toEqual(w);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
