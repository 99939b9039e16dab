/**
 * Dequantisation on blocks built byte by byte, with the expected floats worked out by hand
 * in the comments (layouts: ggml-common.h block structs, ggml-quants.c dequantize_row_*).
 * All chosen scales are exact in f16, so every expected value is exact.
 */
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../../src/model/gguf/dequant.ts';
import { floatToHalf, halfToFloat } from '../../../src/model/gguf/half.ts';
import { BLOCK_LAYOUT } from '../../../src/model/gguf/ggml-types.ts';
import { seededRandom } from '../../helpers/tiny-gguf.ts';

/** Little-endian f16 bytes of an exactly representable value. */
function f16(x: number): [number, number] {
  const h = floatToHalf(x);
  expect(halfToFloat(h)).toBe(x);
  return [h & 0xff, h >> 8];
}

describe('scalar types', () => {
  it('F16: normal, negative, max, subnormal, infinity, negative zero', () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555];
    const raw = new Uint8Array(bits.flatMap((b) => [b & 0xff, b >> 8]));
    const out = dequantize('F16', raw, bits.length);
    // 0x3c00 = 1; 0xc000 = -2; 0x7bff = (2 - 2^-10) * 2^15 = 65504; 0x0001 = 2^-24;
    // 0x3555 = (1 + 0x155/1024) * 2^-2 = 0.333251953125
    expect([...out]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0, 0.333251953125]);
  });

  it('BF16: the top half of an f32', () => {
    const bits = [0x3f80, 0xc0a0, 0x4049, 0x0000];
    const raw = new Uint8Array(bits.flatMap((b) => [b & 0xff, b >> 8]));
    // 0x3f80 = 1; 0xc0a0 = -(1.25 * 2^2) = -5; 0x4049 = (1 + 0x49/128) * 2 = 3.140625
    expect([...dequantize('BF16', raw, 4)]).toEqual([1, -5, 3.140625, 0]);
  });

  it('F32: copies bytes even when unaligned in the source buffer', () => {
    const buf = new Uint8Array(9);
    new DataView(buf.buffer).setFloat32(1, -1.5, true);
    new DataView(buf.buffer).setFloat32(5, 2.25, true);
    expect([...dequantize('F32', buf.subarray(1), 2)]).toEqual([-1.5, 2.25]);
  });
});

describe('32-element block types', () => {
  it('Q8_0: value = int8 q * d, two blocks', () => {
    // Block 0: d = 0.5, q[j] = j - 16 → value (j - 16) / 2: element 0 = -8, 31 = 7.5.
    // Block 1: d = 2, q = [-128, 127, 0, ...] → -256, 254, 0.
    const b0 = [...f16(0.5), ...Array.from({ length: 32 }, (_, j) => (j - 16) & 0xff)];
    const b1 = [...f16(2), 0x80, 0x7f, ...new Array(30).fill(0)];
    const out = dequantize('Q8_0', new Uint8Array([...b0, ...b1]), 64);
    expect(out[0]).toBe(-8);
    expect(out[16]).toBe(0);
    expect(out[31]).toBe(7.5);
    expect([out[32], out[33], out[34]]).toEqual([-256, 254, 0]);
  });

  it('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, value = (q - 8) * d', () => {
    // d = 2; byte j = j | (15 - j) << 4.
    // element j (low)       = (j - 8) * 2        → e[0] = -16, e[15] = 14
    // element 16 + j (high) = (15 - j - 8) * 2   → e[16] = 14, e[31] = -16
    const raw = new Uint8Array([...f16(2), ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4))]);
    const out = dequantize('Q4_0', raw, 32);
    for (let j = 0; j < 16; j++) {
      expect(out[j]).toBe((j - 8) * 2);
      expect(out[16 + j]).toBe((7 - j) * 2);
    }
    expect([out[0], out[15], out[16], out[31]]).toEqual([-16, 14, 14, -16]);
  });

  it('Q4_1: value = q * d + m', () => {
    // d = 0.25, m = -1; byte j = j | (15 - j) << 4.
    // e[j] = j/4 - 1 → e[0] = -1, e[15] = 2.75; e[16+j] = (15-j)/4 - 1 → e[16] = 2.75, e[31] = -1
    const raw = new Uint8Array([
      ...f16(0.25),
      ...f16(-1),
      ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)),
    ]);
    const out = dequantize('Q4_1', raw, 32);
    expect([out[0], out[4], out[15], out[16], out[20], out[31]]).toEqual([-1, 0, 2.75, 2.75, 1.75, -1]);
  });
});

/**
 * Q4_K/Q5_K scales: eight 6-bit scales sc and mins m packed in 12 bytes.
 * sc = [1, 2, 3, 4, 17, 33, 63, 5], m = [0, 1, 2, 3, 20, 40, 63, 7].
 * bytes 0..3:  sc[j] | (sc[j+4] >> 4) << 6 → 1|1<<6=65, 2|2<<6=130, 3|3<<6=195, 4|0=4
 * bytes 4..7:  m[j]  | (m[j+4] >> 4) << 6  → 0|1<<6=64, 1|2<<6=129, 2|3<<6=194, 3|0=3
 * bytes 8..11: (sc[j+4] & 15) | (m[j+4] & 15) << 4 → 1|4<<4=65, 1|8<<4=129, 15|15<<4=255, 5|7<<4=117
 */
const SC = [1, 2, 3, 4, 17, 33, 63, 5];
const MN = [0, 1, 2, 3, 20, 40, 63, 7];
const KSCALES = [65, 130, 195, 4, 64, 129, 194, 3, 65, 129, 255, 117];
/** Quant bytes: chunk c uses bytes 32c..32c+31; byte l = (l & 15) | (15 - (l & 15)) << 4. */
const KQS = Array.from({ length: 128 }, (_, i) => ((i % 32) & 15) | ((15 - ((i % 32) & 15)) << 4));

describe('K-quants (256-element super-blocks)', () => {
  it('Q4_K: value = d*sc*q - dmin*m per 32-element sub-block', () => {
    // d = 1, dmin = 0.5. Element 64c + l takes the low nibble (sub-block 2c), 64c + 32 + l the high (2c+1).
    const raw = new Uint8Array([...f16(1), ...f16(0.5), ...KSCALES, ...KQS]);
    expect(raw.length).toBe(144);
    const out = dequantize('Q4_K', raw, 256);
    // y[0]      = 1*0 - 0.5*0            = 0
    // y[5]      = 1*5 - 0                = 5
    // y[35]     = 2*(15-3) - 0.5*1       = 23.5
    // y[74]     = 3*10 - 0.5*2           = 29
    // y[96]     = 4*15 - 0.5*3           = 58.5
    // y[135]    = 17*7 - 0.5*20          = 109
    // y[175]    = 33*(15-15) - 0.5*40    = -20
    // y[193]    = 63*1 - 0.5*63          = 31.5
    // y[240]    = 5*(15-0) - 0.5*7       = 71.5   (l = 16 → nibble 0 → high 15)
    // y[255]    = 5*(15-15) - 0.5*7      = -3.5
    const at = [0, 5, 35, 74, 96, 135, 175, 193, 240, 255].map((i) => out[i]);
    expect(at).toEqual([0, 5, 23.5, 29, 58.5, 109, -20, 31.5, 71.5, -3.5]);
    for (let i = 0; i < 256; i++) {
      const sub = i >> 5,
        l = i & 31,
        lo = l & 15;
      const q = sub % 2 === 0 ? lo : 15 - lo;
      expect(out[i]).toBe(SC[sub]! * q - 0.5 * MN[sub]!);
    }
  });

  it('Q5_K: adds a fifth bit from qh (bit 2c for the low half, 2c+1 for the high half)', () => {
    // Same d, dmin, scales, quants as Q4_K. qh[l] = 0x55 for odd l (bits 0,2,4,6: low halves +16),
    // 0xaa for even l (bits 1,3,5,7: high halves +16).
    const qh = Array.from({ length: 32 }, (_, l) => (l % 2 ? 0x55 : 0xaa));
    const raw = new Uint8Array([...f16(1), ...f16(0.5), ...KSCALES, ...qh, ...KQS]);
    expect(raw.length).toBe(176);
    const out = dequantize('Q5_K', raw, 256);
    // y[1]   = 1*(1+16) - 0          = 17
    // y[2]   = 1*2 - 0               = 2
    // y[34]  = 2*(13+16) - 0.5       = 57.5
    // y[33]  = 2*14 - 0.5            = 27.5
    // y[195] = 63*(3+16) - 31.5      = 1165.5
    // y[228] = 5*(11+16) - 3.5       = 131.5
    expect([1, 2, 34, 33, 195, 228].map((i) => out[i])).toEqual([17, 2, 57.5, 27.5, 1165.5, 131.5]);
    for (let i = 0; i < 256; i++) {
      const sub = i >> 5,
        l = i & 31,
        lo = l & 15;
      const high = sub % 2 === 0 ? l % 2 === 1 : l % 2 === 0;
      const q = (sub % 2 === 0 ? lo : 15 - lo) + (high ? 16 : 0);
      expect(out[i]).toBe(SC[sub]! * q - 0.5 * MN[sub]!);
    }
  });

  it('Q6_K: 4 low bits from ql, 2 high bits from qh, int8 scale per 16 elements, minus 32', () => {
    // ql[j] = j (0..127); qh[j] = 0xe4 (bit pairs 0,1,2,3 for the four quarter-rows);
    // scales[i] = (i+1) * (-1)^i = 1,-2,3,-4,...,-16; d = 0.5.
    const ql = Array.from({ length: 128 }, (_, j) => j);
    const qh = new Array(64).fill(0xe4);
    const scales = Array.from({ length: 16 }, (_, i) => (i % 2 ? -(i + 1) : i + 1) & 0xff);
    const raw = new Uint8Array([...ql, ...qh, ...scales, ...f16(0.5)]);
    expect(raw.length).toBe(210);
    const out = dequantize('Q6_K', raw, 256);
    // y[0]   : ql[0]=0,  low 0  | 0<<4 = 0  → -32; sc[0]=1    → 0.5*1*-32   = -16
    // y[17]  : ql[17],   low 1  | 0<<4 = 1  → -31; sc[1]=-2   → 0.5*-2*-31  = 31
    // y[37]  : ql[37],   low 5  | 1<<4 = 21 → -11; sc[2]=3    → 0.5*3*-11   = -16.5
    // y[84]  : ql[20],   high 1 | 2<<4 = 33 → 1;   sc[5]=-6   → 0.5*-6*1    = -3
    // y[127] : ql[63],   high 3 | 3<<4 = 51 → 19;  sc[7]=-8   → 0.5*-8*19   = -76
    // y[128] : ql[64],   low 0  | 0<<4 = 0  → -32; sc[8]=9    → 0.5*9*-32   = -144
    // y[195] : ql[67],   high 4 | 2<<4 = 36 → 4;   sc[12]=13  → 0.5*13*4    = 26
    // y[255] : ql[127],  high 7 | 3<<4 = 55 → 23;  sc[15]=-16 → 0.5*-16*23  = -184
    expect([0, 17, 37, 84, 127, 128, 195, 255].map((i) => out[i])).toEqual([
      -16, 31, -16.5, -3, -76, -144, 26, -184,
    ]);
  });
});

describe('random blocks agree with the reference', () => {
  /**
   * Four blocks of seeded random bytes per type (scale fields forced to finite f16 values).
   * Expected values come from llama.cpp's Python package `gguf` 0.19.0 (`gguf.quants.dequantize`)
   * on the same bytes: every one of the 128 or 1024 values matched bit for bit when this test
   * was written; here the sum and a few samples pin them.
   */
  const HALF_OFFSETS = {
    Q8_0: [0],
    Q4_0: [0],
    Q4_1: [0, 2],
    Q4_K: [0, 2],
    Q5_K: [0, 2],
    Q6_K: [208],
  } as const;
  const EXPECTED: Record<keyof typeof HALF_OFFSETS, { sum: number; at: [number, number][] }> = {
    Q8_0: {
      sum: 229.45518493652344,
      at: [
        [0, 2.997894287109375],
        [37, 16.58056640625],
        [100, 26.1910400390625],
        [127, 3.081298828125],
      ],
    },
    Q4_0: {
      sum: 0.44195556640625,
      at: [
        [0, -0.212860107421875],
        [37, -0.080718994140625],
        [100, 0],
        [127, 0.06626129150390625],
      ],
    },
    Q4_1: {
      sum: 74.21734619140625,
      at: [
        [0, -0.3887939453125],
        [37, 0.109130859375],
        [100, 0.3458251953125],
        [127, 0.1331787109375],
      ],
    },
    Q4_K: {
      sum: -59278.3858795166,
      at: [
        [0, -52.46142578125],
        [37, -80.4820556640625],
        [100, -68.15753173828125],
        [255, -66.57586669921875],
        [511, -24.106201171875],
        [1000, 8.452606201171875],
      ],
    },
    Q5_K: {
      sum: 41378.54393005371,
      at: [
        [0, 26.37420654296875],
        [37, 97.240478515625],
        [100, 379.90423583984375],
        [255, 186.8630828857422],
        [511, 7.0076904296875],
        [1000, -0.5546112060546875],
      ],
    },
    Q6_K: {
      sum: -11815.063903808594,
      at: [
        [0, 6.29718017578125],
        [37, 13.546875],
        [100, -48.68408203125],
        [255, -30.1629638671875],
        [511, -275.238037109375],
        [1000, -207.6064453125],
      ],
    },
  };

  it('Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K', () => {
    const r = seededRandom(99);
    for (const type of ['Q8_0', 'Q4_0', 'Q4_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const) {
      const { blockSize, typeSize } = BLOCK_LAYOUT[type];
      const raw = new Uint8Array(4 * typeSize);
      for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
      for (let b = 0; b < 4; b++) {
        for (const o of HALF_OFFSETS[type]) {
          raw[b * typeSize + o] = Math.floor(r() * 256);
          // exponent bits 0x20..0x3b: finite halves between ~2^-7 and ~2^7, either sign
          raw[b * typeSize + o + 1] = (0x20 + Math.floor(r() * 0x1c)) | (r() < 0.5 ? 0x80 : 0);
        }
      }
      const out = dequantize(type, raw, 4 * blockSize);
      const want = EXPECTED[type];
      let sum = 0;
      for (const v of out) sum += v;
      expect(sum, type).toBeCloseTo(want.sum, 6);
      for (const [i, v] of want.at) expect(out[i], `${type}[${i}]`).toBe(Math.fround(v));
    }
  });
});
