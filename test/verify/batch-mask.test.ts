/**
 * The batch mask on literal arrays. X = blocked (MASK_BLOCKED), 0 = attend. Columns per slot:
 * [C past rows of that slot | S_max new rows of that slot]; another request's rows are never
 * in a slot's columns, so the batch is block-diagonal by construction.
 */
import { describe, expect, it } from 'vitest';
import { MASK_BLOCKED } from '../../src/model/types.ts';
import { batchMask } from '../../src/verify/batch-mask.ts';

const X = MASK_BLOCKED;
const rows = (m: Float32Array, cols: number) =>
  Array.from({ length: m.length / cols }, (_, i) => Array.from(m.subarray(i * cols, (i + 1) * cols)));

describe('batchMask', () => {
  it('two causal slots of different lengths: own past, stale rows and the other slot’s padding blocked', () => {
    // C = 3, S_max = 2. Slot 0: P = 2, S = 2. Slot 1: P = 1, S = 1 (its row 1 is padding).
    const m = batchMask(
      [
        { past: 2, rows: 2, mask: null },
        { past: 1, rows: 1, mask: null },
      ],
      3,
      2,
    );
    expect(rows(m, 5)).toEqual([
      // slot 0   past      | new
      [0, 0, X, /**/ 0, X], // row 0: past 0..1, stale row 2 blocked, itself
      [0, 0, X, /**/ 0, 0], // row 1: also row 0 (causal)
      // slot 1
      [0, X, X, /**/ 0, X], // row 0: its one past row; rows 1..2 of the slot are stale
      [X, X, X, /**/ X, 0], // padding row: itself only (finite softmax, never read)
    ]);
  });

  it('a tree mask is placed as given: siblings do not see each other', () => {
    // Slot 0: P = 1, tree root → {a, b}: mask [3, 4]. C = 2, S_max = 3.
    // prettier-ignore
    const tree = Float32Array.from([
      0, 0, X, X, // root: past + itself
      0, 0, 0, X, // a: past, root, itself
      0, 0, X, 0, // b: past, root, itself — not a (rejected sibling)
    ]);
    const m = batchMask([{ past: 1, rows: 3, mask: tree }], 2, 3);
    expect(rows(m, 5)).toEqual([
      [0, X, /**/ 0, X, X],
      [0, X, /**/ 0, 0, X],
      [0, X, /**/ 0, X, 0],
    ]);
  });

  it('a slot that sits the forward out is all padding', () => {
    const m = batchMask(
      [
        { past: 1, rows: 1, mask: null },
        { past: 2, rows: 0, mask: null },
      ],
      2,
      1,
    );
    expect(rows(m, 3)).toEqual([
      [0, X, 0],
      [X, X, 0],
    ]);
  });

  it('names a slot whose rows do not fit', () => {
    expect(() => batchMask([{ past: 3, rows: 1, mask: null }], 2, 1)).toThrow(
      /slot 0 has 3 rows, capacity 2/,
    );
    expect(() => batchMask([{ past: 0, rows: 2, mask: null }], 2, 1)).toThrow(/S_max 1/);
    expect(() => batchMask([{ past: 1, rows: 1, mask: new Float32Array(3) }], 2, 1)).toThrow(/expected 1×2/);
  });
});
