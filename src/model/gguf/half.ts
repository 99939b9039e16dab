/** IEEE half and bfloat16 conversions (Node 20 has no Float16Array). */

/** All 65536 half values as floats: a lookup beats bit-twiddling in the hot dequant loops. */
const HALF_TABLE: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

export function halfToFloat(h: number): number {
  return HALF_TABLE[h & 0xffff]!;
}

/** Read a little-endian half at byte offset `o`. */
export function readHalf(b: Uint8Array, o: number): number {
  return HALF_TABLE[b[o]! | (b[o + 1]! << 8)]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Float → half bits, round to nearest even; overflow goes to ±Infinity. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in, then round.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** Round a float to the nearest half value. */
export function roundToHalf(x: number): number {
  return halfToFloat(floatToHalf(x));
}

/** bfloat16 bits → float: the top 16 bits of an f32. */
export function bf16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}
