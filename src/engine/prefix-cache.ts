/**
 * Prompt prefix cache: the KV cache of the last prefilled prompt, so a request that starts
 * with the same tokens (same system prompt and passages; the same question in another
 * mode) prefills only the new suffix. One entry; entries are cloned in and out so the
 * decoding loop can never modify them.
 */
import type { KvCache } from '../model/types.ts';

export class PrefixCache {
  private tokens: number[] = [];
  private cache: KvCache | null = null;

  constructor(private readonly minReuse = 16) {}

  /** A cache holding the longest cached prefix of `prefix` (cloned), or null. */
  lookup(prefix: readonly number[]): { cache: KvCache; length: number } | null {
    if (!this.cache) return null;
    let n = 0;
    const max = Math.min(prefix.length, this.tokens.length);
    while (n < max && prefix[n] === this.tokens[n]) n++;
    if (n < this.minReuse) return null;
    const cache = this.cache.clone();
    cache.truncate(n);
    return { cache, length: n };
  }

  store(prefix: readonly number[], cache: KvCache): void {
    if (cache.length !== prefix.length) return;
    this.tokens = [...prefix];
    this.cache = cache.clone();
  }

  /** Forget the cached prefix (bench:peer times every run from an empty cache). */
  clear(): void {
    this.tokens = [];
    this.cache = null;
  }
}
