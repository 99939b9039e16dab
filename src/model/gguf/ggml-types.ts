/**
 * GGML tensor types: the numeric ids GGUF stores, and the block geometry of each type we can
 * dequantise. Ids follow ggml's `enum ggml_type`.
 */
import type { GgmlType } from '../weights.ts';

export interface BlockLayout {
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/** ggml type id → our name, for the types we dequantise. */
export const GGML_TYPE_IDS: Readonly<Record<number, GgmlType>> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  8: 'Q8_0',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  30: 'BF16',
};

export const GGML_TYPE_ID_OF: Readonly<Record<GgmlType, number>> = Object.fromEntries(
  Object.entries(GGML_TYPE_IDS).map(([id, name]) => [name, Number(id)]),
) as Record<GgmlType, number>;

/** Names of ggml types we do not handle, so errors can say what the file contains. */
const OTHER_TYPE_NAMES: Readonly<Record<number, string>> = {
  6: 'Q5_0',
  7: 'Q5_1',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

/** Super-block size of the K-quants. */
export const QK_K = 256;

export const BLOCK_LAYOUT: Readonly<Record<GgmlType, BlockLayout>> = {
  F32: { blockSize: 1, typeSize: 4 },
  F16: { blockSize: 1, typeSize: 2 },
  BF16: { blockSize: 1, typeSize: 2 },
  // f16 d + 32 × int8
  Q8_0: { blockSize: 32, typeSize: 34 },
  // f16 d + 16 bytes of nibbles
  Q4_0: { blockSize: 32, typeSize: 18 },
  // f16 d + f16 m + 16 bytes of nibbles
  Q4_1: { blockSize: 32, typeSize: 20 },
  // f16 d + f16 dmin + 12 bytes of 6-bit scales/mins + 128 bytes of nibbles
  Q4_K: { blockSize: QK_K, typeSize: 144 },
  // Q4_K + 32 bytes of fifth bits
  Q5_K: { blockSize: QK_K, typeSize: 176 },
  // 128 bytes low nibbles + 64 bytes high 2-bits + 16 int8 scales + f16 d
  Q6_K: { blockSize: QK_K, typeSize: 210 },
};

export const SUPPORTED_TYPES: readonly GgmlType[] = Object.keys(BLOCK_LAYOUT) as GgmlType[];

export function ggmlTypeName(id: number): string {
  return GGML_TYPE_IDS[id] ?? OTHER_TYPE_NAMES[id] ?? `type ${id}`;
}

/** Bytes a tensor of `count` elements occupies. Throws if count is not a whole number of blocks. */
export function tensorByteSize(type: GgmlType, count: number): number {
  const { blockSize, typeSize } = BLOCK_LAYOUT[type];
  if (count % blockSize !== 0)
    throw new Error(
      `${type} tensor of ${count} elements is not a whole number of ${blockSize}-element blocks`,
    );
  return (count / blockSize) * typeSize;
}
