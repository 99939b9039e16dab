/**
 * The attention mask of a batched target forward (continuous batching, issue 11): B request
 * slots, each with its own KV rows, in one forward of S_max rows per slot.
 *
 * Per slot b the graph sees the columns [its C past rows | the S_max new rows of the same slot]:
 * no column of another request exists in the slot, so across requests the mask is
 * block-diagonal by construction, and within a slot it is that request's own mask:
 *   - past column j < P_b: as the request's mask says (0 for the causal mask),
 *   - past column P_b <= j < C (stale or never written rows of this slot): blocked,
 *   - new column C + j, j < S_b: as the request's mask says (causal: j <= i),
 *   - new column C + j, j >= S_b (another part's padding): blocked.
 * Padding rows i >= S_b (their logits and keys are thrown away) attend to their own new column
 * only, so their softmax stays finite.
 */
import { MASK_BLOCKED } from '../model/types.ts';

/** One slot's share of the batch: P cached rows, S new rows, its own mask or the causal one. */
export interface SlotRows {
  past: number;
  rows: number;
  /** [S, P+S] additive, or null for the ordinary causal mask. */
  mask: Float32Array | null;
}

/**
 * The batch's additive mask, [B, S_max, C+S_max] row-major (the graph's [B,1,S_max,C+S_max]).
 * `slots[b]` is slot b (S = 0 for a slot that sits this forward out); `capacity` C >= every P.
 */
export function batchMask(slots: readonly SlotRows[], capacity: number, sMax: number): Float32Array {
  const cols = capacity + sMax;
  const out = new Float32Array(slots.length * sMax * cols).fill(MASK_BLOCKED);
  slots.forEach((slot, b) => {
    const { past: p, rows: s, mask } = slot;
    if (p > capacity) throw new RangeError(`batch mask: slot ${b} has ${p} rows, capacity ${capacity}`);
    if (s > sMax) throw new RangeError(`batch mask: slot ${b} has ${s} new rows, S_max ${sMax}`);
    if (mask && mask.length !== s * (p + s))
      throw new RangeError(`batch mask: slot ${b} mask has ${mask.length} values, expected ${s}×${p + s}`);
    for (let i = 0; i < sMax; i++) {
      const row = (b * sMax + i) * cols;
      if (i >= s) {
        out[row + capacity + i] = 0; // padding row: itself only
        continue;
      }
      if (mask) {
        out.set(mask.subarray(i * (p + s), i * (p + s) + p), row);
        out.set(mask.subarray(i * (p + s) + p, (i + 1) * (p + s)), row + capacity);
      } else {
        out.fill(0, row, row + p);
        out.fill(0, row + capacity, row + capacity + i + 1);
      }
    }
  });
  return out;
}
