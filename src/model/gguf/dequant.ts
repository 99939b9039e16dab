/**
 * Dequantisation of GGML tensor bytes to float32, element order as stored (innermost
 * dimension fastest). Layouts follow ggml's block structs (ggml-common.h); K-quants live
 * in ./kquants.ts.
 */
import type { GgmlType, RawTensor } from '../weights.ts';
import { BLOCK_LAYOUT, tensorByteSize } from './ggml-types.ts';
import { bf16ToFloat, readHalf } from './half.ts';
import { dequantQ4K, dequantQ5K, dequantQ6K } from './kquants.ts';

/** Dequantise `count` elements of type `type` from `raw`. */
export function dequantize(type: GgmlType, raw: Uint8Array, count: number): Float32Array {
  const need = tensorByteSize(type, count);
  if (raw.byteLength < need)
    throw new Error(`${type} data holds ${raw.byteLength} bytes, ${need} needed for ${count} elements`);
  const out = new Float32Array(count);
  switch (type) {
    case 'F32':
      // Copy through a DataView-free path: the bytes may not be 4-aligned in the file buffer.
      new Uint8Array(out.buffer).set(raw.subarray(0, need));
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = readHalf(raw, 2 * i);
      return out;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(raw[2 * i]! | (raw[2 * i + 1]! << 8));
      return out;
    case 'Q8_0':
      dequantQ8_0(raw, out);
      return out;
    case 'Q4_0':
    case 'Q4_1':
      dequantQ4(type, raw, out);
      return out;
    case 'Q4_K':
      dequantQ4K(raw, out);
      return out;
    case 'Q5_K':
      dequantQ5K(raw, out);
      return out;
    case 'Q6_K':
      dequantQ6K(raw, out);
      return out;
  }
}

/** Number of elements of a tensor with GGUF dims `ne`. */
export function elementCount(ne: readonly number[]): number {
  return ne.reduce((a, b) => a * b, 1);
}

export function dequantizeTensor(t: RawTensor): Float32Array {
  return dequantize(t.type, t.raw, elementCount(t.ne));
}

/** block_q8_0: f16 d, then 32 int8 quants; value = q * d. */
function dequantQ8_0(raw: Uint8Array, out: Float32Array): void {
  const { blockSize, typeSize } = BLOCK_LAYOUT.Q8_0;
  const nb = out.length / blockSize;
  for (let b = 0; b < nb; b++) {
    const o = b * typeSize;
    const d = readHalf(raw, o);
    const y = b * blockSize;
    for (let j = 0; j < 32; j++) out[y + j] = ((raw[o + 2 + j]! << 24) >> 24) * d;
  }
}

/**
 * block_q4_0: f16 d, 16 bytes; value = (q - 8) * d.
 * block_q4_1: f16 d, f16 m, 16 bytes; value = q * d + m.
 * Byte j holds element j in its low nibble and element j + 16 in its high nibble.
 */
function dequantQ4(type: 'Q4_0' | 'Q4_1', raw: Uint8Array, out: Float32Array): void {
  const { typeSize } = BLOCK_LAYOUT[type];
  const nb = out.length / 32;
  const qOff = type === 'Q4_0' ? 2 : 4;
  for (let b = 0; b < nb; b++) {
    const o = b * typeSize;
    const d = readHalf(raw, o);
    const m = type === 'Q4_0' ? -8 * d : readHalf(raw, o + 2);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const byte = raw[o + qOff + j]!;
      out[y + j] = (byte & 0x0f) * d + m;
      out[y + j + 16] = (byte >> 4) * d + m;
    }
  }
}

/**
 * The fields of Q4_0 / Q4_1 blocks, for repacking into other 4-bit formats (e.g. ONNX
 * MatMulNBits). Every element satisfies value = q * d + m exactly as dequantize computes it
 * (Q4_0 has m = -8 d).
 */
export interface Q4Blocks {
  /** Number of 32-element blocks. */
  blocks: number;
  /** [blocks] per-block scale. */
  d: Float32Array;
  /** [blocks] per-block offset. */
  m: Float32Array;
  /** [blocks * 32] unpacked quants 0..15, in element order. */
  q: Uint8Array;
}

export function q4BlockFields(t: RawTensor): Q4Blocks {
  if (t.type !== 'Q4_0' && t.type !== 'Q4_1')
    throw new Error(`q4BlockFields: ${t.name} is ${t.type}, not Q4_0/Q4_1`);
  const count = elementCount(t.ne);
  const blocks = count / 32;
  const { typeSize } = BLOCK_LAYOUT[t.type];
  const qOff = t.type === 'Q4_0' ? 2 : 4;
  const d = new Float32Array(blocks);
  const m = new Float32Array(blocks);
  const q = new Uint8Array(count);
  const raw = t.raw;
  for (let b = 0; b < blocks; b++) {
    const o = b * typeSize;
    const db = readHalf(raw, o);
    d[b] = db;
    m[b] = t.type === 'Q4_0' ? -8 * db : readHalf(raw, o + 2);
    for (let j = 0; j < 16; j++) {
      const byte = raw[o + qOff + j]!;
      q[b * 32 + j] = byte & 0x0f;
      q[b * 32 + j + 16] = byte >> 4;
    }
  }
  return { blocks, d, m, q };
}

/** The fields of Q8_0 blocks: value = q * d exactly as dequantize computes it. */
export interface Q8Blocks {
  blocks: number;
  /** [blocks] per-block scale. */
  d: Float32Array;
  /** [blocks * 32] signed quants -128..127, in element order. */
  q: Int8Array;
}

export function q8BlockFields(t: RawTensor): Q8Blocks {
  if (t.type !== 'Q8_0') throw new Error(`q8BlockFields: ${t.name} is ${t.type}, not Q8_0`);
  const count = elementCount(t.ne);
  const blocks = count / 32;
  const { typeSize } = BLOCK_LAYOUT.Q8_0;
  const d = new Float32Array(blocks);
  const q = new Int8Array(count);
  for (let b = 0; b < blocks; b++) {
    const o = b * typeSize;
    d[b] = readHalf(t.raw, o);
    q.set(new Int8Array(t.raw.buffer, t.raw.byteOffset + o + 2, 32), b * 32);
  }
  return { blocks, d, q };
}
