/**
 * Step 1 of the decode loop: prefill every prompt token but the last into a KV cache. The
 * last prompt token becomes the root of the first draft tree, so the first step can already
 * accept drafts. Runs in chunks so cancellation is checked in between (and so the Scheduler
 * can put one chunk per tick into a batch); reuses (and refreshes) the prefix cache.
 */
import type { CausalLM, KvCache } from '../model/types.ts';
import type { PrefixCache } from './prefix-cache.ts';

/** One prefill forward: prompt tokens [S] at their positions, logits of the last row only. */
export interface PrefillChunk {
  tokens: number[];
  positions: number[];
  logitRows: number[];
}

/**
 * The chunks of `prefix` from token `from` on. Prefill logits are never read (the last prompt
 * token is the tree root): each chunk asks for one row, so the output head runs once per
 * chunk instead of once per token.
 */
export function* prefillChunks(
  prefix: readonly number[],
  from: number,
  chunk: number,
): Generator<PrefillChunk> {
  for (let s = from; s < prefix.length; s += chunk) {
    const tokens = prefix.slice(s, Math.min(prefix.length, s + chunk));
    yield { tokens, positions: tokens.map((_, i) => s + i), logitRows: [tokens.length - 1] };
  }
}

export async function prefill(
  target: CausalLM,
  prompt: readonly number[],
  opts: { chunk: number; prefixCache?: PrefixCache; aborted: () => boolean },
): Promise<KvCache> {
  const prefix = prompt.slice(0, -1);
  const hit = opts.prefixCache?.lookup(prefix) ?? null;
  const cache = hit?.cache ?? target.newCache();
  for (const c of prefillChunks(prefix, hit?.length ?? 0, opts.chunk)) {
    if (opts.aborted()) break;
    await target.forward(c.tokens, c.positions, null, cache, { logitRows: c.logitRows });
  }
  if (!opts.aborted()) opts.prefixCache?.store(prefix, cache);
  return cache;
}
