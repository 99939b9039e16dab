/**
 * Finding 3 (one upload can hang ingest): the heading parser reads each character of a line a
 * bounded number of times, shown by counting reads, never by timing; and it agrees with the
 * regex it replaced on every line that regex handles in reasonable time.
 */
import { describe, expect, it } from 'vitest';
import { headingOf, parseMarkdown, type CharSource } from '../../src/retrieval/markdown.ts';
import { seededRandom } from '../helpers/tiny-gguf.ts';

/** A string that counts how many characters are read from it. */
function counted(s: string): CharSource & { reads: number } {
  const c = {
    reads: 0,
    length: s.length,
    charCodeAt(i: number) {
      c.reads++;
      return s.charCodeAt(i);
    },
    slice(a: number, b: number) {
      c.reads += b - a;
      return s.slice(a, b);
    },
  };
  return c;
}

/** The line: `# a` then ` #` 40,000 times (the old regex took ~11 s on it). */
const pathological = (n: number) => '# a' + ' #'.repeat(n);

describe('headingOf', () => {
  it('reads each character of the pathological heading a bounded number of times', () => {
    for (const n of [1_000, 10_000, 40_000]) {
      const line = counted(pathological(n));
      expect(headingOf(line)).toEqual({ level: 1, text: 'a' });
      expect(line.reads).toBeLessThanOrEqual(3 * line.length);
    }
  });

  it('reads grow linearly with input size (4x the line, at most 4x the reads)', () => {
    const small = counted(pathological(10_000));
    const big = counted(pathological(40_000));
    headingOf(small);
    headingOf(big);
    expect(big.reads / small.reads).toBeLessThanOrEqual(4.01);
  });

  it('agrees with the old regex on random short lines', () => {
    const OLD = /^(#{1,6})[ \t]+(.*?)[ \t#]*$/;
    const rnd = seededRandom(7);
    const alphabet = ['#', ' ', '\t', 'a', 'b', '#', ' '];
    for (let k = 0; k < 5000; k++) {
      let line = '';
      const len = Math.floor(rnd() * 14);
      for (let i = 0; i < len; i++) line += alphabet[Math.floor(rnd() * alphabet.length)];
      const m = OLD.exec(line);
      const want = m ? { level: m[1]!.length, text: m[2]!.trim() } : null;
      expect(headingOf(line), JSON.stringify(line)).toEqual(want);
    }
  });

  it('is what parseMarkdown uses for heading paths', () => {
    const p = parseMarkdown('## Deep ##\n\ntext\n\n####### seven is not a heading\n');
    expect(p.blocks.map((b) => [b.kind, b.headingPath.join('>')])).toEqual([
      ['heading', 'Deep'],
      ['paragraph', 'Deep'],
      ['paragraph', 'Deep'],
    ]);
  });
});
