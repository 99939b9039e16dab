/**
 * Plain autoregressive greedy decoding, written apart from the engine loop on purpose: the
 * baseline the engine's `ar` and every speculative mode are compared with. It uses only
 * `CausalLM.forward` and argmax — a fresh KV cache per call, no prefix cache, no draft
 * tree, no stop-string or output bookkeeping — so a KV-cache or prefix-cache bug that
 * hits the engine's `ar` as well shows up as a difference here.
 */
import type { CausalLM } from '../../src/model/types.ts';

/** Index of the largest value in row (the first one on ties). */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * Greedy continuation of `prompt`: at most `maxNew` tokens, stopping before the first token
 * in `eosIds` (which is not returned, as the engine does not return it either).
 */
export async function plainGreedy(
  lm: CausalLM,
  prompt: readonly number[],
  maxNew: number,
  eosIds: readonly number[],
): Promise<{ tokens: number[]; finishReason: 'stop' | 'length' }> {
  const cache = lm.newCache();
  const tokens: number[] = [];
  let ids: readonly number[] = prompt; // the first forward is the whole prompt at once
  while (tokens.length < maxNew) {
    const r = await lm.forward(
      ids,
      ids.map((_, i) => cache.length + i),
      null,
      cache,
    );
    const next = argmax(r.data.subarray((r.rows - 1) * r.vocabSize, r.rows * r.vocabSize)); // last row [V]
    if (eosIds.includes(next)) return { tokens, finishReason: 'stop' };
    tokens.push(next);
    ids = [next];
  }
  return { tokens, finishReason: 'length' };
}
