/**
 * Step 1 of the decode loop: prefill every prompt token but the last into a KV cache. The
 * last prompt token becomes the root of the first draft tree, so the first step can already
 * accept drafts. Runs in chunks so cancellation is checked in between; reuses (and refreshes)
 * the prefix cache.
 */
import type { CausalLM, KvCache } from '../model/types.ts';
import type { PrefixCache } from './prefix-cache.ts';

export async function prefill(
  target: CausalLM,
  prompt: readonly number[],
  opts: { chunk: number; prefixCache?: PrefixCache; aborted: () => boolean },
): Promise<KvCache> {
  const prefix = prompt.slice(0, -1);
  const hit = opts.prefixCache?.lookup(prefix) ?? null;
  const cache = hit?.cache ?? target.newCache();
  for (let s = hit?.length ?? 0; s < prefix.length && !opts.aborted(); s += opts.chunk) {
    const ids = prefix.slice(s, Math.min(prefix.length, s + opts.chunk));
    // Prefill logits are never read (the last prompt token is the tree root): ask for one
    // row, so the output head runs once per chunk instead of once per token.
    await target.forward(
      ids,
      ids.map((_, i) => s + i),
      null,
      cache,
      { logitRows: [ids.length - 1] },
    );
  }
  if (!opts.aborted()) opts.prefixCache?.store(prefix, cache);
  return cache;
}
