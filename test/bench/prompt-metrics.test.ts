import { describe, expect, it } from 'vitest';
import { copyRate, loops, mustContainHit } from '../../bench/prompt-metrics.ts';

describe('answer prompt measures', () => {
  it('copy rate counts only tokens inside runs of >= 4 tokens found in a passage', () => {
    const passage = [10, 11, 12, 13, 14, 15];
    // tokens 1..5 copy passage[0..5); 7 and 9 match single tokens only (chance, not copying)
    expect(copyRate([7, 10, 11, 12, 13, 14, 9], [passage])).toBeCloseTo(5 / 7);
    expect(copyRate([10, 11, 12, 99], [passage])).toBe(0); // a 3-token run is not a copy
    expect(copyRate([], [passage])).toBe(0);
  });

  it('a hit needs every must_contain string, case-insensitively', () => {
    expect(mustContainHit('Run `npm ci --IGNORE-SCRIPTS`.', ['ignore-scripts', 'npm ci'])).toBe(true);
    expect(mustContainHit('Run npm ci.', ['ignore-scripts', 'npm ci'])).toBe(false);
  });

  it('an answer loops when one non-empty line comes three times', () => {
    expect(loops('The answer is:\n\nThe answer is:\n\nThe answer is:\n')).toBe(true);
    expect(loops('a\n\n\n\nb\na\n')).toBe(false);
  });
});
