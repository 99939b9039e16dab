/**
 * Linear layers (y = x Wᵀ + b) for the graph builder, from GGUF tensors.
 * - fp32: one `Gemm(transB=1)` over the dequantised weight, stored as GGUF keeps it
 *   ([out, in] row-major), so no transpose is ever materialised.
 * - int4: com.microsoft `MatMulNBits` (bits 4, block 32) repacked from Q4_0/Q4_1 blocks
 *   without requantising (see `linear` for how the Q4_1 offset m is carried).
 * Several tensors can be fused along the output axis (q|k|v, gate|up): one bigger matmul is
 * cheaper than three small ones at decode time.
 */
import { q4BlockFields, q8BlockFields } from '../gguf/dequant.ts';
import type { RawTensor, WeightSource } from '../weights.ts';
import type { GraphBuilder } from './graph.ts';

export type WeightFormat = 'fp32' | 'int4';

/**
 * Output head precision. 'fp32': Gemm over the dequantised matrix (113 MB read per step for
 * SmolLM2). 'q8': the GGUF's Q8_0 blocks as 8-bit MatMulNBits, unchanged (28 MB). 'q4': those
 * blocks requantised to symmetric 4-bit (14 MB, lossy against the GGUF).
 */
export const HEAD_FORMATS = ['fp32', 'q8', 'q4'] as const;
export type HeadFormat = (typeof HEAD_FORMATS)[number];

/** One output-row block of a fused linear layer. */
export interface LinearPart {
  weight: string;
  bias?: string;
  /** New row r takes source row perm[r] (undoes llama.cpp's Q/K permutation). */
  perm?: Int32Array;
  /** Multiply this part's rows (and bias) by a constant, e.g. attention's 1/sqrt(D) into Q. */
  scale?: number;
}

const QBLOCK = 32;
/**
 * MatMulNBits accuracy_level: 0 computes in fp32 (the Q4 weights exactly, to float rounding);
 * 4 quantises activations to int8 per block (faster, approximate).
 */
export type Int4Accuracy = 0 | 4;

/** x: [M, K] → [M, N]. Returns the output name. */
export function linear(
  g: GraphBuilder,
  src: WeightSource,
  x: string,
  parts: LinearPart[],
  format: WeightFormat,
  stem: string,
  accuracy: Int4Accuracy = 0,
): string {
  const raws = parts.map((p) => src.raw(p.weight));
  const shapes = raws.map((r) => r.ne);
  const k = shapes[0]![0]!;
  const n = shapes.reduce((s, ne) => s + ne[1]!, 0);
  for (const ne of shapes) if (ne[0] !== k) throw new Error(`${stem}: fused weights disagree on input size`);
  const q4 =
    format === 'int4' && k % QBLOCK === 0 && raws.every((r) => r.type === 'Q4_0' || r.type === 'Q4_1');
  const bias = parts.some((p) => p.bias) ? concatBias(src, parts) : null;
  if (!q4) {
    const w = g.init(`${stem}.weight`, 'float32', [n, k], concatRows(src, parts, k));
    const inputs = [x, w];
    if (bias) inputs.push(g.f32(`${stem}.bias`, bias));
    return g.op('Gemm', inputs, { transB: 1 }, { out: stem });
  }
  // MLAS's fast 4-bit kernel wants the default zero point 8; a float zero point would make
  // onnxruntime dequantise B on every run. So split q·d + m = (q - 8)·d + (8d + m): the
  // first term is MatMulNBits without zero points, the second a tiny matmul of per-block sums
  // of x ([M, K/32]) with the per-block offsets ([K/32, N]).
  const { packed, scales, offsets } = repackQ4(raws, parts, k, n);
  const nb = k / QBLOCK;
  const b = g.init(`${stem}.qweight`, 'uint8', [n, nb, QBLOCK / 2], packed);
  const s = g.init(`${stem}.scales`, 'float32', [n, nb], scales);
  const y = g.op(
    'MatMulNBits',
    [x, b, s],
    { K: k, N: n, bits: 4, block_size: QBLOCK, accuracy_level: accuracy },
    { domain: 'com.microsoft', out: stem },
  );
  // Block sums as a matmul with the 0/1 block indicator [K, K/32], and the offsets added by
  // Gemm's C input: two ops per layer instead of Reshape, ReduceSum, MatMul and Add.
  const blockSums = g.op('MatMul', [x, blockIndicator(g, k)]); // [M, K/32]
  const offs = g.init(`${stem}.offsets`, 'float32', [nb, n], offsets);
  const yc = g.op('Gemm', [blockSums, offs, y]); // [M, N]
  return bias ? g.op('Add', [yc, g.f32(`${stem}.bias`, bias)]) : yc;
}

/** [K, K/32] with 1 where row k lies in block b: x · E sums each block of 32 inputs. */
function blockIndicator(g: GraphBuilder, k: number): string {
  const name = `block_sums.${k}`;
  const cached = indicators.get(g)?.get(k);
  if (cached) return cached;
  const nb = k / QBLOCK;
  const e = new Float32Array(k * nb);
  for (let i = 0; i < k; i++) e[i * nb + Math.floor(i / QBLOCK)] = 1;
  const init = g.init(name, 'float32', [k, nb], e);
  const byK = indicators.get(g) ?? new Map<number, string>();
  byK.set(k, init);
  indicators.set(g, byK);
  return init;
}
const indicators = new WeakMap<GraphBuilder, Map<number, string>>();

/** Rows of all parts, permuted, as one [N, K] matrix. */
function concatRows(src: WeightSource, parts: LinearPart[], k: number): Float32Array {
  const mats = parts.map((p) => ({ w: src.f32(p.weight), perm: p.perm, scale: p.scale ?? 1 }));
  const n = mats.reduce((s, m) => s + m.w.length / k, 0);
  if (mats.length === 1 && !mats[0]!.perm && mats[0]!.scale === 1) return mats[0]!.w;
  const out = new Float32Array(n * k);
  let row = 0;
  for (const { w, perm, scale } of mats) {
    const rows = w.length / k;
    for (let r = 0; r < rows; r++) {
      const from = perm ? perm[r]! : r;
      out.set(w.subarray(from * k, (from + 1) * k), (row + r) * k);
      if (scale !== 1) for (let i = (row + r) * k; i < (row + r + 1) * k; i++) out[i]! *= scale;
    }
    row += rows;
  }
  return out;
}

function concatBias(src: WeightSource, parts: LinearPart[]): Float32Array {
  const chunks = parts.map((p) => {
    const rows = src.raw(p.weight).ne[1]!;
    const b = p.bias ? src.f32(p.bias) : new Float32Array(rows);
    const sc = p.scale ?? 1;
    return p.perm || sc !== 1 ? Float32Array.from(p.perm ?? b.keys(), (i) => b[i]! * sc) : b;
  });
  const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Q4 blocks → MatMulNBits layout: B [N, K/32, 16] with element 2i in the low nibble of byte i,
 * scales d [N, K/32] (implicit zero point 8), and offsets 8d + m as [K/32, N].
 */
function repackQ4(raws: RawTensor[], parts: LinearPart[], k: number, n: number) {
  const nb = k / QBLOCK;
  const packed = new Uint8Array(n * nb * (QBLOCK / 2));
  const scales = new Float32Array(n * nb);
  const offsets = new Float32Array(nb * n);
  let row = 0;
  parts.forEach((p, pi) => {
    const { d, m, q } = q4BlockFields(raws[pi]!);
    const rows = d.length / nb;
    const sc = p.scale ?? 1;
    for (let r = 0; r < rows; r++) {
      const from = p.perm ? p.perm[r]! : r;
      const dst = row + r;
      for (let b = 0; b < nb; b++) {
        const sb = from * nb + b; // source block
        const db = dst * nb + b; // destination block
        scales[db] = d[sb]! * sc;
        offsets[b * n + dst] = (8 * d[sb]! + m[sb]!) * sc;
        const qo = sb * QBLOCK;
        const po = db * (QBLOCK / 2);
        for (let i = 0; i < QBLOCK / 2; i++) packed[po + i] = q[qo + 2 * i]! | (q[qo + 2 * i + 1]! << 4);
      }
    }
    row += rows;
  });
  return { packed, scales, offsets };
}

/**
 * llama.cpp stores Q/K rows of `llama`-arch models interleaved so that its "normal" RoPE
 * rotates adjacent pairs (2j, 2j+1). Undo that: row (h, half, j) of the Hugging Face layout,
 * which rotates halves (j, j + D/2), is GGUF row (h, j, half).
 */
export function unpermuteRopeRows(heads: number, headDim: number): Int32Array {
  const perm = new Int32Array(heads * headDim);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) perm[h * headDim + s * half + j] = h * headDim + 2 * j + s;
    }
  }
  return perm;
}

/**
 * The output head y = x Wᵀ from a Q8_0 (or any) weight [N, K] as 8-bit or 4-bit MatMulNBits
 * with the kernel's default zero point (2^(bits-1)), so no zero-point tensor is fed.
 * 'q8' keeps the Q8_0 quants and scales exactly (q + 128 with zero point 128); other source
 * types, and 'q4', requantise each block of 32 symmetrically.
 */
export function quantizedHead(
  g: GraphBuilder,
  src: WeightSource,
  x: string,
  weight: string,
  bits: 4 | 8,
  stem: string,
  accuracy: Int4Accuracy,
): string {
  const raw = src.raw(weight);
  const [k, n] = raw.ne as [number, number];
  if (k % QBLOCK !== 0) throw new Error(`${stem}: input size ${k} is not a multiple of ${QBLOCK}`);
  const nb = k / QBLOCK;
  const blob = (QBLOCK * bits) / 8;
  const packed = new Uint8Array(n * nb * blob);
  const scales = new Float32Array(n * nb);
  if (bits === 8 && raw.type === 'Q8_0') {
    const { d, q } = q8BlockFields(raw);
    scales.set(d);
    for (let i = 0; i < q.length; i++) packed[i] = (q[i]! + 128) & 0xff;
  } else {
    const w = src.f32(weight); // [N, K]
    const qmax = bits === 8 ? 127 : 7;
    for (let b = 0; b < n * nb; b++) {
      let amax = 0;
      for (let j = 0; j < QBLOCK; j++) amax = Math.max(amax, Math.abs(w[b * QBLOCK + j]!));
      const sc = amax / qmax || 1;
      scales[b] = amax === 0 ? 0 : sc;
      for (let j = 0; j < QBLOCK; j++) {
        const qv = Math.max(-qmax - 1, Math.min(qmax, Math.round(w[b * QBLOCK + j]! / sc)));
        if (bits === 8) packed[b * blob + j] = qv + 128;
        else packed[b * blob + (j >> 1)]! |= (qv + 8) << ((j & 1) * 4);
      }
    }
  }
  const bw = g.init(`${stem}.qweight`, 'uint8', [n, nb, blob], packed);
  const s = g.init(`${stem}.scales`, 'float32', [n, nb], scales);
  return g.op(
    'MatMulNBits',
    [x, bw, s],
    { K: k, N: n, bits, block_size: QBLOCK, accuracy_level: accuracy },
    { domain: 'com.microsoft', out: stem },
  );
}
