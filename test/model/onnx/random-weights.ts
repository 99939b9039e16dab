/**
 * In-memory `WeightSource` with seeded random weights, plus a plain-JS reference forward that
 * follows llama.cpp's conventions (GGUF row order, "normal" adjacent-pair RoPE for `llama`,
 * NeoX half rotation for `qwen2`) — an independent check of the ONNX graph.
 */
import { floatToHalf, halfToFloat } from '../../../src/model/gguf/half.ts';
import type { LlamaConfig } from '../../../src/model/types.ts';
import type { GgmlType, RawTensor, WeightSource } from '../../../src/model/weights.ts';
import { seededRandom as rng } from '../../helpers/tiny-gguf.ts';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    arch: 'llama',
    name: 'tiny',
    vocabSize: 64,
    hiddenSize: 64,
    intermediateSize: 96,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    contextLength: 256,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tiedEmbeddings: true,
    qkvBias: false,
    ...over,
  };
}

/** Q4_1-quantise rows of 32: returns raw blocks and the exact dequantised values. */
function quantQ4_1(x: Float32Array): { raw: Uint8Array; deq: Float32Array } {
  const blocks = x.length / 32;
  const raw = new Uint8Array(blocks * 20);
  const deq = new Float32Array(x.length);
  for (let b = 0; b < blocks; b++) {
    const v = x.subarray(b * 32, b * 32 + 32);
    let lo = Infinity;
    let hi = -Infinity;
    for (const a of v) {
      lo = Math.min(lo, a);
      hi = Math.max(hi, a);
    }
    const dh = floatToHalf((hi - lo) / 15);
    const mh = floatToHalf(lo);
    const d = halfToFloat(dh);
    const m = halfToFloat(mh);
    const o = b * 20;
    raw[o] = dh & 0xff;
    raw[o + 1] = dh >> 8;
    raw[o + 2] = mh & 0xff;
    raw[o + 3] = mh >> 8;
    const q = new Uint8Array(32);
    for (let j = 0; j < 32; j++) q[j] = d === 0 ? 0 : Math.min(15, Math.max(0, Math.round((v[j]! - m) / d)));
    for (let j = 0; j < 16; j++) raw[o + 4 + j] = q[j]! | (q[j + 16]! << 4);
    for (let j = 0; j < 32; j++) deq[b * 32 + j] = q[j]! * d + m;
  }
  return { raw, deq };
}

export interface RandomWeights extends WeightSource {
  /** Dequantised values by name (what the reference uses). */
  values: Map<string, Float32Array>;
}

/** Random weights; matrices of layers become Q4_1 when `quant` says so (norms stay F32). */
export function randomWeights(cfg: LlamaConfig, seed = 1, quant: 'F32' | 'Q4_1' = 'F32'): RandomWeights {
  const r = rng(seed);
  const tensors = new Map<string, RawTensor>();
  const values = new Map<string, Float32Array>();
  const add = (name: string, ne: number[], scale: number, offset = 0, type: GgmlType = 'F32') => {
    const n = ne.reduce((a, b) => a * b, 1);
    let x: Float32Array = Float32Array.from({ length: n }, () => offset + (r() * 2 - 1) * scale);
    let raw: Uint8Array = new Uint8Array(x.buffer);
    if (type === 'Q4_1') {
      const q = quantQ4_1(x);
      raw = q.raw;
      x = q.deq;
      // one all-equal block exercises d == 0
      if (name.endsWith('ffn_down.weight')) {
        raw.fill(0, 0, 20);
        raw.set([0, 0, ...halfBytes(0.03125)], 0);
        x.fill(0.03125, 0, 32);
      }
    }
    tensors.set(name, { name, ne, type, raw });
    values.set(name, x);
  };
  const { hiddenSize: h, intermediateSize: f, numHeads: hq, numKvHeads: hkv, headDim: d, vocabSize: v } = cfg;
  add('token_embd.weight', [h, v], 1);
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `blk.${l}`;
    add(`${p}.attn_norm.weight`, [h], 0.2, 1);
    add(`${p}.ffn_norm.weight`, [h], 0.2, 1);
    add(`${p}.attn_q.weight`, [h, hq * d], 0.3, 0, quant);
    add(`${p}.attn_k.weight`, [h, hkv * d], 0.3, 0, quant);
    add(`${p}.attn_v.weight`, [h, hkv * d], 0.3, 0, quant);
    add(`${p}.attn_output.weight`, [hq * d, h], 0.2, 0, quant);
    add(`${p}.ffn_gate.weight`, [h, f], 0.2, 0, quant);
    add(`${p}.ffn_up.weight`, [h, f], 0.2, 0, quant);
    add(`${p}.ffn_down.weight`, [f, h], 0.2, 0, quant);
    if (cfg.qkvBias) {
      add(`${p}.attn_q.bias`, [hq * d], 0.5);
      add(`${p}.attn_k.bias`, [hkv * d], 0.5);
      add(`${p}.attn_v.bias`, [hkv * d], 0.5);
    }
  }
  add('output_norm.weight', [h], 0.2, 1);
  if (!cfg.tiedEmbeddings) add('output.weight', [h, v], 0.3, 0, quant);
  return {
    config: cfg,
    values,
    names: () => [...tensors.keys()],
    has: (n) => tensors.has(n),
    raw: (n) => {
      const t = tensors.get(n);
      if (!t) throw new Error(`no tensor ${n}`);
      return t;
    },
    f32: (n) => {
      const x = values.get(n);
      if (!x) throw new Error(`no tensor ${n}`);
      return x;
    },
  };
}

function halfBytes(x: number): number[] {
  const hb = floatToHalf(x);
  return [hb & 0xff, hb >> 8];
}

/** y[out] = W[out, in] x[in] (+ b) */
function matvec(w: Float32Array, x: Float32Array, out: number, b?: Float32Array): Float32Array {
  const n = x.length;
  const y = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < n; i++) s += w[o * n + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  let ss = 0;
  for (const a of x) ss += a * a;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((a, i) => a * inv * w[i]!);
}

/** RoPE on one head in place, llama.cpp style. */
function rope(x: Float32Array, off: number, d: number, pos: number, theta: number, neox: boolean): void {
  for (let j = 0; j < d / 2; j++) {
    const a = pos / theta ** ((2 * j) / d);
    const c = Math.cos(a);
    const s = Math.sin(a);
    const [i0, i1] = neox ? [off + j, off + j + d / 2] : [off + 2 * j, off + 2 * j + 1];
    const x0 = x[i0]!;
    const x1 = x[i1]!;
    x[i0] = x0 * c - x1 * s;
    x[i1] = x0 * s + x1 * c;
  }
}

/** Logits [S, V] of a causal forward over `tokens` at positions 0..S-1. */
export function referenceForward(w: RandomWeights, tokens: number[]): Float32Array {
  const cfg = w.config;
  const { hiddenSize: h, numHeads: hq, numKvHeads: hkv, headDim: d, vocabSize: v } = cfg;
  const g = hq / hkv;
  const val = (n: string) => w.values.get(n)!;
  const emb = val('token_embd.weight');
  let xs = tokens.map((t) => emb.slice(t * h, (t + 1) * h));
  const neox = cfg.arch === 'qwen2';
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `blk.${l}`;
    const ks: Float32Array[] = [];
    const vs: Float32Array[] = [];
    const qs: Float32Array[] = [];
    xs.forEach((x, pos) => {
      const hn = rmsNorm(x, val(`${p}.attn_norm.weight`), cfg.rmsNormEps);
      const q = matvec(val(`${p}.attn_q.weight`), hn, hq * d, w.values.get(`${p}.attn_q.bias`));
      const k = matvec(val(`${p}.attn_k.weight`), hn, hkv * d, w.values.get(`${p}.attn_k.bias`));
      for (let hh = 0; hh < hq; hh++) rope(q, hh * d, d, pos, cfg.ropeTheta, neox);
      for (let hh = 0; hh < hkv; hh++) rope(k, hh * d, d, pos, cfg.ropeTheta, neox);
      qs.push(q);
      ks.push(k);
      vs.push(matvec(val(`${p}.attn_v.weight`), hn, hkv * d, w.values.get(`${p}.attn_v.bias`)));
    });
    xs = xs.map((x, i) => {
      const ctx = new Float32Array(hq * d);
      for (let hh = 0; hh < hq; hh++) {
        const kv = Math.floor(hh / g);
        const sc = Array.from({ length: i + 1 }, (_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += qs[i]![hh * d + e]! * ks[j]![kv * d + e]!;
          return s / Math.sqrt(d);
        });
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= i; j++)
          for (let e = 0; e < d; e++) ctx[hh * d + e]! += (ex[j]! / z) * vs[j]![kv * d + e]!;
      }
      const o = matvec(val(`${p}.attn_output.weight`), ctx, h);
      const x1 = x.map((a, e) => a + o[e]!);
      const hn2 = rmsNorm(x1, val(`${p}.ffn_norm.weight`), cfg.rmsNormEps);
      const gate = matvec(val(`${p}.ffn_gate.weight`), hn2, cfg.intermediateSize);
      const up = matvec(val(`${p}.ffn_up.weight`), hn2, cfg.intermediateSize);
      const act = gate.map((a, e) => (a / (1 + Math.exp(-a))) * up[e]!);
      const down = matvec(val(`${p}.ffn_down.weight`), act, h);
      return x1.map((a, e) => a + down[e]!);
    });
  }
  const head = cfg.tiedEmbeddings ? emb : val('output.weight');
  const out = new Float32Array(tokens.length * v);
  xs.forEach((x, i) =>
    out.set(matvec(head, rmsNorm(x, val('output_norm.weight'), cfg.rmsNormEps), v), i * v),
  );
  return out;
}
