/**
 * Reference quantisers (ggml's `quantize_row_*_ref` rules) for writing test fixtures:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_1. Input and output are in ggml element order.
 */
import type { GgmlType } from '../weights.ts';
import { BLOCK_LAYOUT, tensorByteSize } from './ggml-types.ts';
import { floatToHalf } from './half.ts';

export type QuantizableType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1';
export const QUANTIZABLE_TYPES: readonly QuantizableType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1'];

export function quantize(type: QuantizableType, values: Float32Array): Uint8Array {
  const out = new Uint8Array(tensorByteSize(type as GgmlType, values.length));
  const view = new DataView(out.buffer);
  switch (type) {
    case 'F32':
      for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
      break;
    case 'F16':
      for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToHalf(values[i]!), true);
      break;
    case 'BF16':
      for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToBf16(values[i]!), true);
      break;
    case 'Q8_0':
      quantizeQ8_0(values, out, view);
      break;
    case 'Q4_0':
      quantizeQ4_0(values, out, view);
      break;
    case 'Q4_1':
      quantizeQ4_1(values, out, view);
      break;
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round to nearest even on the top 16 bits of the f32. */
function floatToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40; // keep NaN a NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** C roundf: halves go away from zero (Math.round sends -0.5 to 0). */
function roundf(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** d = amax / 127, q = roundf(x / d). */
function quantizeQ8_0(x: Float32Array, out: Uint8Array, view: DataView): void {
  const { typeSize } = BLOCK_LAYOUT.Q8_0;
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? 1 / d : 0;
    const o = b * typeSize;
    view.setUint16(o, floatToHalf(d), true);
    for (let j = 0; j < 32; j++) out[o + 2 + j] = roundf(x[b * 32 + j]! * id) & 0xff;
  }
}

/** d = (value of largest magnitude) / -8, q = trunc(x / d + 8.5) clamped to 15. */
function quantizeQ4_0(x: Float32Array, out: Uint8Array, view: DataView): void {
  const { typeSize } = BLOCK_LAYOUT.Q4_0;
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? 1 / d : 0;
    const o = b * typeSize;
    view.setUint16(o, floatToHalf(d), true);
    packNibbles(out, o + 2, (j) => Math.min(15, Math.trunc(x[b * 32 + j]! * id + 8.5)));
  }
}

/** d = (max - min) / 15, m = min, q = trunc((x - min) / d + 0.5) clamped to 15. */
function quantizeQ4_1(x: Float32Array, out: Uint8Array, view: DataView): void {
  const { typeSize } = BLOCK_LAYOUT.Q4_1;
  for (let b = 0; b < x.length / 32; b++) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround((max - min) / 15);
    const id = d ? 1 / d : 0;
    const o = b * typeSize;
    view.setUint16(o, floatToHalf(d), true);
    view.setUint16(o + 2, floatToHalf(min), true);
    packNibbles(out, o + 4, (j) => Math.min(15, Math.trunc((x[b * 32 + j]! - min) * id + 0.5)));
  }
}

/** Byte j: element j in the low nibble, element j + 16 in the high nibble. */
function packNibbles(out: Uint8Array, at: number, q: (j: number) => number): void {
  for (let j = 0; j < 16; j++) out[at + j] = (q(j) & 0x0f) | ((q(j + 16) & 0x0f) << 4);
}
