import { describe, expect, it } from 'vitest';
import { cosine, MAX_SEQ_TOKENS } from '../../src/retrieval/embedder.ts';
import { sharedEmbedder } from './helpers.ts';

describe('Embedder (all-MiniLM-L6-v2, real model)', () => {
  it('gives unit vectors where paraphrases are closer than unrelated sentences', async () => {
    const e = await sharedEmbedder();
    const [a, b, c, d] = await e.embed([
      'How do I install a package with npm?',
      'npm install adds a dependency to your project.',
      'The cat slept on a warm windowsill all afternoon.',
      'Publishing makes your package available on the registry.',
    ]);
    for (const v of [a, b, c, d]) {
      expect(v).toHaveLength(384);
      expect(Math.abs(cosine(v!, v!) - 1)).toBeLessThan(1e-4);
    }
    expect(cosine(a!, b!)).toBeGreaterThan(0.5);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.3);
    expect(cosine(a!, d!)).toBeGreaterThan(cosine(a!, c!));
  });

  // The quantised model uses DynamicQuantizeLinear: activation scales are per tensor, so a
  // row's numbers shift slightly with what else is in the batch (padding is masked out of
  // attention and pooling, but not out of the quantisation range). Close, not identical.
  it('is nearly independent of batch padding: a sentence embeds the same alone and beside a long one', async () => {
    const e = await sharedEmbedder();
    const s = 'Lockfiles pin exact dependency versions.';
    const [alone] = await e.embed([s]);
    const [padded] = await e.embed([
      s,
      'A much longer sentence about registries, scopes, tokens and two-factor authentication settings. '.repeat(
        3,
      ),
    ]);
    expect(cosine(alone!, padded!)).toBeGreaterThan(0.98);
  });

  it('truncates long input to the 256 tokens the model was trained on', async () => {
    const e = await sharedEmbedder();
    expect(e.encode('word '.repeat(1000))).toHaveLength(MAX_SEQ_TOKENS);
    const [v] = await e.embed(['word '.repeat(1000)]);
    expect(v!.every(Number.isFinite)).toBe(true);
  });
});
