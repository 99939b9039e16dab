/**
 * Linear layers (y = x Wᵀ + b) for the graph builder, from GGUF tensors.
 * - fp32: one `Gemm(transB=1)` over the dequantised weight, stored as GGUF keeps it
 *   ([out, in] row-major), so no transpose is ever materialised.
 * - int4: com.microsoft `MatMulNBits` (bits 4, block 32) repacked from Q4_0/Q4_1 blocks
 *   without requantising: (q - zp) * scale == q * d + m with scale = d, zp = -m / d.
 * Several tensors can be fused along the output axis (q|k|v, gate|up): one bigger matmul is
 * cheaper than three small ones at decode time.
 */
import { q4BlockFields } from '../gguf/dequant.ts';
import type { WeightSource } from '../weights.ts';
import type { GraphBuilder } from './graph.ts';

export type WeightFormat = 'fp32' | 'int4';

/** One output-row block of a fused linear layer. */
export interface LinearPart {
  weight: string;
  bias?: string;
  /** New row r takes source row perm[r] (undoes llama.cpp's Q/K permutation). */
  perm?: Int32Array;
}

const QBLOCK = 32;

/** x: [M, K] (or [..., K] for int4) → [M, N]. Returns the output name. */
export function linear(g: GraphBuilder, src: WeightSource, x: string, parts: LinearPart[], format: WeightFormat, stem: string): string {
  const shapes = parts.map((p) => src.raw(p.weight).ne);
  const k = shapes[0]![0]!;
  const n = shapes.reduce((s, ne) => s + ne[1]!, 0);
  for (const ne of shapes) if (ne[0] !== k) throw new Error(`${stem}: fused weights disagree on input size`);
  const q4 = format === 'int4' && k % QBLOCK === 0 && parts.every((p) => ['Q4_0', 'Q4_1'].includes(src.raw(p.weight).type));
  const bias = parts.some((p) => p.bias) ? concatBias(src, parts) : null;
  if (!q4) {
    const w = g.init(`${stem}.weight`, 'float32', [n, k], concatRows(src, parts, k));
    const inputs = [x, w];
    if (bias) inputs.push(g.f32(`${stem}.bias`, bias));
    return g.op('Gemm', inputs, { transB: 1 }, { out: stem });
  }
  const { packed, scales, zeros } = repackQ4(src, parts, k, n);
  const nb = k / QBLOCK;
  const b = g.init(`${stem}.qweight`, 'uint8', [n, nb, QBLOCK / 2], packed);
  const s = g.init(`${stem}.scales`, 'float32', [n, nb], scales);
  const z = g.init(`${stem}.zeros`, 'float32', [n, nb], zeros);
  const y = g.op('MatMulNBits', [x, b, s, z], { K: k, N: n, bits: 4, block_size: QBLOCK }, { domain: 'com.microsoft', out: stem });
  return bias ? g.op('Add', [y, g.f32(`${stem}.bias`, bias)]) : y;
}

/** Rows of all parts, permuted, as one [N, K] matrix. */
function concatRows(src: WeightSource, parts: LinearPart[], k: number): Float32Array {
  const mats = parts.map((p) => ({ w: src.f32(p.weight), perm: p.perm }));
  const n = mats.reduce((s, m) => s + m.w.length / k, 0);
  if (mats.length === 1 && !mats[0]!.perm) return mats[0]!.w;
  const out = new Float32Array(n * k);
  let row = 0;
  for (const { w, perm } of mats) {
    const rows = w.length / k;
    for (let r = 0; r < rows; r++) {
      const from = perm ? perm[r]! : r;
      out.set(w.subarray(from * k, (from + 1) * k), (row + r) * k);
    }
    row += rows;
  }
  return out;
}

function concatBias(src: WeightSource, parts: LinearPart[]): Float32Array {
  const chunks = parts.map((p) => {
    const rows = src.raw(p.weight).ne[1]!;
    const b = p.bias ? src.f32(p.bias) : new Float32Array(rows);
    return p.perm ? Float32Array.from(p.perm, (i) => b[i]!) : b;
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
 * scales and float zero points [N, K/32].
 */
function repackQ4(src: WeightSource, parts: LinearPart[], k: number, n: number) {
  const nb = k / QBLOCK;
  const packed = new Uint8Array(n * nb * (QBLOCK / 2));
  const scales = new Float32Array(n * nb);
  const zeros = new Float32Array(n * nb);
  let row = 0;
  for (const p of parts) {
    const { d, m, q } = q4BlockFields(src.raw(p.weight));
    const rows = d.length / nb;
    for (let r = 0; r < rows; r++) {
      const from = p.perm ? p.perm[r]! : r;
      for (let b = 0; b < nb; b++) {
        const sb = from * nb + b; // source block
        const db = (row + r) * nb + b; // destination block
        const dv = d[sb]!;
        const mv = m[sb]!;
        const qo = sb * QBLOCK;
        const po = db * (QBLOCK / 2);
        if (dv === 0) {
          // Every element equals m: quants 0, scale 1, zero point -m.
          scales[db] = 1;
          zeros[db] = -mv;
          continue;
        }
        scales[db] = dv;
        zeros[db] = -mv / dv;
        for (let i = 0; i < QBLOCK / 2; i++) packed[po + i] = q[qo + 2 * i]! | (q[qo + 2 * i + 1]! << 4);
      }
    }
    row += rows;
  }
  return { packed, scales, zeros };
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
