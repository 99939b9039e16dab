/**
 * Continuous batching at the model level: one target forward over several requests' new rows,
 * each request in its own slot of a batch dimension (issue 11).
 *
 * Why a batch dimension and not concatenated rows over one shared KV pool (B = 1, block-diagonal
 * mask over Σ lengths): measured on SmolLM2-135M int4, 2 threads, 8 requests × 600 cached rows
 * (bench/batch-cost.ts, docs/BENCHMARKS.md "Batching"): 8 separate forwards of 1/2/4/8 rows cost
 * 226/396/430/791 ms, one B=8 forward 78/94/144/396 ms, the concatenated B=1 forward
 * 119/159/404/796 ms — every concatenated row attends over all 8 requests' rows, so attention
 * grows with the number of clients. The batch dimension pays for padding instead (every slot
 * runs S_max rows, attention over the longest request's C), which the scheduler keeps small by
 * never putting prefill chunks and decode trees in the same forward when the padding would cost
 * more than a second forward.
 *
 * The capacity graph takes B > 1 as built (every Reshape keeps the batch dim or folds B·S
 * rows), so AR, speculative and batched forwards run the same graph. Inputs here:
 *   input_ids, position_ids [B, S_max] (padding rows: token 0, the slot's next position),
 *   attention_mask [B, 1, S_max, C+S_max] (../../verify/batch-mask.ts),
 *   past_key_values.{i}.* [B, Hkv, C, D] (the arena, read in place),
 *   logit_rows [R] into the B·S_max rows, padded to a multiple of B (the graph reshapes
 *   logits to [B, R/B, V]); outputs appended.{i}.* [B, Hkv, S_max, D] and logits [R, V].
 */
import { RagspecError } from '../../util/errors.ts';
import { batchMask } from '../../verify/batch-mask.ts';
import type { BatchPart, BatchedLM, KvCache, LlamaConfig, Logits } from '../types.ts';
import { checkForward } from './forward-checks.ts';
import { KvArena, SlotKvCache } from './kv-pool.ts';
import type { HostTensor, OrtModel } from './session.ts';

export class BatchForward implements BatchedLM {
  private readonly arena: KvArena;

  constructor(
    private readonly model: OrtModel,
    private readonly config: LlamaConfig,
    readonly maxBatch: number,
    private readonly hasLogitRows: boolean,
    blocked: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new RagspecError(`batch size must be a positive integer, got ${maxBatch}`, {
        code: 'bad_batch',
        kind: 'bad_input',
      });
    this.arena = new KvArena(maxBatch, config.numLayers, config.numKvHeads, config.headDim, blocked);
  }

  get free(): number {
    return this.maxBatch - this.arena.used;
  }

  /** C of the arena (rows every slot's attention reads). */
  get capacity(): number {
    return this.arena.capacity;
  }

  newCache(from?: KvCache | null): SlotKvCache {
    return this.arena.take(from);
  }

  slotOf(cache: KvCache): number {
    return this.own(cache).slot;
  }

  release(cache: KvCache): void {
    this.arena.release(this.own(cache));
  }

  async forward(parts: readonly BatchPart[]): Promise<Logits[]> {
    if (parts.length === 0) return [];
    // The forward covers the slot range lo..hi-1 of its parts (a slot in between without a part
    // runs padding rows only), so a tick's prefill forward does not pad the decoding slots.
    const slots = parts.map((p) => this.own(p.cache).slot);
    const lo = Math.min(...slots);
    const b = Math.max(...slots) + 1 - lo;
    const bySlot: (BatchPart | undefined)[] = Array.from({ length: b }, () => undefined);
    for (const part of parts) {
      const c = this.own(part.cache);
      if (bySlot[c.slot - lo])
        throw new RagspecError('batch forward: two parts share one KV slot', { code: 'bad_forward' });
      bySlot[c.slot - lo] = part;
      checkForward(this.config, part.tokens, part.positions, part.mask, c.length, part.logitRows ?? null);
    }
    const sMax = Math.max(...parts.map((p) => p.tokens.length));
    const lens = Array.from({ length: b }, (_, k) => this.arena.slotLength(lo + k));
    const rows = bySlot.map((p) => p?.tokens.length ?? 0);
    const c = this.arena.capacity;

    // [B, S_max] ids and positions; padding rows repeat the slot's next position (never read).
    const ids = new BigInt64Array(b * sMax);
    const pos = new BigInt64Array(b * sMax);
    for (let k = 0; k < b; k++) {
      const p = bySlot[k];
      const next = BigInt(Math.min(lens[k]!, this.config.contextLength - 1));
      for (let i = 0; i < sMax; i++) {
        const real = p !== undefined && i < p.tokens.length;
        ids[k * sMax + i] = real ? BigInt(p.tokens[i]!) : 0n;
        pos[k * sMax + i] = real ? BigInt(p.positions[i]!) : next;
      }
    }
    const mask = batchMask(
      bySlot.map((p, k) => ({ past: lens[k]!, rows: rows[k]!, mask: p?.mask ?? null })),
      c,
      sMax,
    );
    // Logit rows of each part, as indices into the B·S_max rows.
    const wanted = parts.map((p) => {
      const k = this.own(p.cache).slot - lo;
      const r = p.logitRows ?? p.tokens.map((_, i) => i);
      return r.map((i) => k * sMax + i);
    });
    const flat = wanted.flat();
    const feeds: Record<string, HostTensor> = {
      input_ids: { type: 'int64', data: ids, dims: [b, sMax] },
      position_ids: { type: 'int64', data: pos, dims: [b, sMax] },
      attention_mask: { type: 'float32', data: mask, dims: [b, 1, sMax, c + sMax] },
      ...this.arena.pastFeeds(lo, lo + b),
    };
    if (this.hasLogitRows) {
      const padded = [...flat];
      while (padded.length % b !== 0) padded.push(flat[0]!);
      feeds.logit_rows = { type: 'int64', data: BigInt64Array.from(padded, BigInt), dims: [padded.length] };
    }
    const out = await this.model.run(feeds);
    this.arena.absorb(out, rows, sMax, lo);

    const v = this.config.vocabSize;
    const data = out.logits!.data as Float32Array; // [R', V] (logit rows) or [B·S_max, V]
    let at = 0;
    return wanted.map((w) => {
      const logits = new Float32Array(w.length * v);
      w.forEach((row, i) => {
        const src = this.hasLogitRows ? at + i : row;
        logits.set(data.subarray(src * v, (src + 1) * v), i * v);
      });
      at += w.length;
      return { data: logits, rows: w.length, vocabSize: v };
    });
  }

  private own(cache: KvCache): SlotKvCache {
    if (!(cache instanceof SlotKvCache) || cache.arena !== this.arena || cache.released)
      throw new RagspecError(
        'batch forward: the KV cache is not a live slot of this batch (use newCache())',
        {
          code: 'bad_cache',
        },
      );
    return cache;
  }
}
