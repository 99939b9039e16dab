/**
 * K-quant dequantisation (ggml-quants.c `dequantize_row_q{4,5,6}_K`). Each super-block holds
 * QK_K = 256 elements in sub-blocks with their own quantised scales.
 */
import { BLOCK_LAYOUT, QK_K } from './ggml-types.ts';
import { readHalf } from './half.ts';

/**
 * The 12 scale bytes of Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins.
 * Sub-blocks 0..3: scale = s[j] & 63, min = s[j+4] & 63.
 * Sub-blocks 4..7: the low 4 bits sit in s[j+4] (scale low nibble, min high nibble) and the
 * top 2 bits are the spare top bits of s[j-4] (scale) and s[j] (min).
 */
export function scaleMinK4(j: number, s: Uint8Array, o: number): [number, number] {
  if (j < 4) return [s[o + j]! & 63, s[o + j + 4]! & 63];
  const sc = (s[o + j + 4]! & 0x0f) | ((s[o + j - 4]! >> 6) << 4);
  const m = (s[o + j + 4]! >> 4) | ((s[o + j]! >> 6) << 4);
  return [sc, m];
}

/**
 * block_q4_K: f16 d, f16 dmin, 12 scale bytes, 128 quant bytes. Each 64-element chunk uses
 * 32 bytes: low nibbles are the first 32 elements (sub-block 2c), high nibbles the next 32
 * (sub-block 2c+1). value = d*sc*q - dmin*m.
 */
export function dequantQ4K(raw: Uint8Array, out: Float32Array): void {
  const { typeSize } = BLOCK_LAYOUT.Q4_K;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * typeSize;
    const d = readHalf(raw, o);
    const dmin = readHalf(raw, o + 2);
    const qs = o + 16;
    let y = b * QK_K;
    for (let c = 0; c < 4; c++) {
      const [sc1, m1] = scaleMinK4(2 * c, raw, o + 4);
      const [sc2, m2] = scaleMinK4(2 * c + 1, raw, o + 4);
      const d1 = d * sc1,
        mm1 = dmin * m1,
        d2 = d * sc2,
        mm2 = dmin * m2;
      const q = qs + 32 * c;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * (raw[q + l]! & 0x0f) - mm1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * (raw[q + l]! >> 4) - mm2;
      y += 64;
    }
  }
}

/**
 * block_q5_K: f16 d, f16 dmin, 12 scale bytes, 32 bytes qh, 128 bytes qs. Like Q4_K plus a
 * fifth bit: for chunk c, element l of the low half takes bit 2c of qh[l], the high half
 * bit 2c+1.
 */
export function dequantQ5K(raw: Uint8Array, out: Float32Array): void {
  const { typeSize } = BLOCK_LAYOUT.Q5_K;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * typeSize;
    const d = readHalf(raw, o);
    const dmin = readHalf(raw, o + 2);
    const qh = o + 16;
    const qs = o + 48;
    let y = b * QK_K;
    for (let c = 0; c < 4; c++) {
      const [sc1, m1] = scaleMinK4(2 * c, raw, o + 4);
      const [sc2, m2] = scaleMinK4(2 * c + 1, raw, o + 4);
      const d1 = d * sc1,
        mm1 = dmin * m1,
        d2 = d * sc2,
        mm2 = dmin * m2;
      const u1 = 1 << (2 * c),
        u2 = 2 << (2 * c);
      const q = qs + 32 * c;
      for (let l = 0; l < 32; l++)
        out[y + l] = d1 * ((raw[q + l]! & 0x0f) + (raw[qh + l]! & u1 ? 16 : 0)) - mm1;
      for (let l = 0; l < 32; l++)
        out[y + 32 + l] = d2 * ((raw[q + l]! >> 4) + (raw[qh + l]! & u2 ? 16 : 0)) - mm2;
      y += 64;
    }
  }
}

/**
 * block_q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales, f16 d.
 * Per 128-element half h (ql += 64, qh += 32, scales += 8), for l in 0..31:
 *   y[l]    = d*sc[l/16 + 0]*(ql[l]    & 15 | (qh[l] >> 0 & 3) << 4) - 32)
 *   y[l+32] = d*sc[l/16 + 2]*(ql[l+32] & 15 | (qh[l] >> 2 & 3) << 4) - 32)
 *   y[l+64] = d*sc[l/16 + 4]*(ql[l]    >> 4 | (qh[l] >> 4 & 3) << 4) - 32)
 *   y[l+96] = d*sc[l/16 + 6]*(ql[l+32] >> 4 | (qh[l] >> 6 & 3) << 4) - 32)
 */
export function dequantQ6K(raw: Uint8Array, out: Float32Array): void {
  const { typeSize } = BLOCK_LAYOUT.Q6_K;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * typeSize;
    const d = readHalf(raw, o + 208);
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h;
      const qh = o + 128 + 32 * h;
      const sc = o + 192 + 8 * h;
      const y = b * QK_K + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const hb = raw[qh + l]!;
        const q1 = ((raw[ql + l]! & 0x0f) | ((hb & 3) << 4)) - 32;
        const q2 = ((raw[ql + l + 32]! & 0x0f) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((raw[ql + l]! >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((raw[ql + l + 32]! >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        out[y + l] = d * int8(raw[sc + is]!) * q1;
        out[y + l + 32] = d * int8(raw[sc + is + 2]!) * q2;
        out[y + l + 64] = d * int8(raw[sc + is + 4]!) * q3;
        out[y + l + 96] = d * int8(raw[sc + is + 6]!) * q4;
      }
    }
  }
}

function int8(b: number): number {
  return (b << 24) >> 24;
}
