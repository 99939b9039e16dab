/**
 * ONNX graph of a Llama-family decoder (Llama, SmolLM, TinyLlama, Qwen2) from GGUF weights.
 *
 * I/O contract (../shared/ARCHITECTURE.md):
 *   inputs  input_ids int64 [B,S], position_ids int64 [B,S],
 *           attention_mask float32 [B,1,S,P+S] additive (mask '4d')
 *             or int64 [B,P+S] of 1/0 (mask '2d', the Optimum / transformers.js convention),
 *           past_key_values.{i}.key|value float32 [B,Hkv,P,D],
 *           logit_rows int64 [R] (only with `logitRows`: which of the B·S rows get logits)
 *   outputs logits float32 [B,S,V] (or [B,R,V]), present.{i}.key|value [B,Hkv,P+S,D]
 * KV layouts (`OnnxCausalLM` hides them: callers always pass [S, P+S] masks):
 * - `kv: 'concat'`: the contract above.
 * - `kv: 'capacity'`, decomposed attention: the past is a buffer of C >= P rows that the graph
 *   only reads (mask [B,1,S,C+S], stale rows blocked) and the outputs are
 *   `appended.{i}.key|value` [B,Hkv,S,D]: no per-step copy of the whole cache.
 * - `kv: 'capacity'`, GroupQueryAttention (what `ragspec convert` emits): `present.{i}.*` is
 *   the past buffer itself, [B,Hkv,C,D], which the caller feeds as both input and output;
 *   the op writes the S new rows at P..P+S-1 and reads only rows < P+S (mask [B,1,S,P+S]).
 *
 * Decomposed grouped-query attention never repeats KV heads: Q is laid out [B,Hkv,G·S,D] so
 * each KV head serves its G query heads in one batched MatMul, and the mask is tiled G times
 * once per graph, not per layer.
 */
import type { LlamaConfig } from '../types.ts';
import type { WeightSource } from '../weights.ts';
import { GraphBuilder } from './graph.ts';
import {
  linear,
  quantizedHead,
  unpermuteRopeRows,
  type HeadFormat,
  type Int4Accuracy,
  type LinearPart,
  type WeightFormat,
} from './linear.ts';
import { ropeTables } from './rope.ts';

export const ATTENTION_OPS = ['decomposed', 'gqa'] as const;
export type AttentionOp = (typeof ATTENTION_OPS)[number];

export interface LlamaGraphOptions {
  /** Source layer indices to keep, in order (default: all) — the self-drafting model. */
  layers?: number[];
  weights: WeightFormat;
  mask: '4d' | '2d';
  /** Path of the external-data file; omit to keep every initializer inline. */
  externalData?: string;
  /**
   * Use onnxruntime's com.microsoft fused ops (RotaryEmbedding, SkipSimplifiedLayerNormalization);
   * default true. false builds the same math from plain ai.onnx ops (for A/B and other runtimes).
   */
  fusedOps?: boolean;
  /**
   * KV cache I/O. 'concat' (the contract of ../shared/ARCHITECTURE.md, and what Optimum tools
   * expect): `present.{i}.*` = past ++ new, [B,Hkv,P+S,D]. 'capacity': `past_key_values.{i}.*`
   * is a buffer of C >= P rows (rows >= P blocked by the mask, which is [B,1,S,C+S]) that the
   * graph only reads, and `appended.{i}.*` [B,Hkv,S,D] are this step's rows — no per-step copy
   * of the whole cache. Default 'concat'.
   */
  kv?: 'concat' | 'capacity';
  /** MatMulNBits accuracy_level for int4 weights (default 0: fp32 compute, exact). */
  int4Accuracy?: Int4Accuracy;
  /** Output head precision (default 'fp32'); see linear.ts. */
  head?: HeadFormat;
  /** accuracy_level of a quantised head (default: int4Accuracy). */
  headAccuracy?: Int4Accuracy;
  /**
   * Add the input `logit_rows` int64 [R]: indices into the B·S new rows whose logits are
   * computed (the final norm and the head run on those rows only), so `logits` is [B,R,V]
   * with B = 1. Prefill asks for its last row; decode and verify ask for every row.
   */
  logitRows?: boolean;
  /**
   * Attention op. 'decomposed' (default): MatMul/Softmax/MatMul with the additive mask.
   * 'gqa': com.microsoft GroupQueryAttention with the caller's mask as `attention_bias`
   * (needs the 4D mask and fused ops). With kv 'capacity' its `present.{i}.*` outputs are
   * the past buffers themselves, [B,Hkv,C,D], written in place at rows P..P+S-1 (the caller
   * feeds the same buffer as past and present); with kv 'concat' they are past ++ new.
   */
  attention?: AttentionOp;
  /** Called after each layer is written (done of total). */
  onProgress?: (done: number, total: number) => void;
}

export interface BuiltGraph {
  bytes: Uint8Array;
  /** The config of the emitted model (numLayers = kept layers). */
  config: LlamaConfig;
  layers: number[];
}

export const OPSET = 17;

export function buildLlamaGraph(src: WeightSource, opts: LlamaGraphOptions): BuiltGraph {
  const cfg = src.config;
  const layers = opts.layers ?? Array.from({ length: cfg.numLayers }, (_, i) => i);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers)
      throw new RangeError(`layer ${l} is not in 0..${cfg.numLayers - 1}`);
  }
  const g = new GraphBuilder({ externalData: opts.externalData });
  const { numHeads: hq, numKvHeads: hkv, headDim: d, hiddenSize: h, vocabSize: v } = cfg;
  const groups = hq / hkv;

  // 1. Inputs and the shapes everything else is reshaped with.
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const pos = g.input('position_ids', 'int64', ['batch', 'seq']);
  const mask2d = opts.mask === '2d' ? g.input('attention_mask', 'int64', ['batch', 'total']) : null;
  const mask4d =
    opts.mask === '4d' ? g.input('attention_mask', 'float32', ['batch', 1, 'seq', 'total']) : null;
  const past = layers.map((_, i) => ({
    key: g.input(`past_key_values.${i}.key`, 'float32', [
      'batch',
      hkv,
      opts.kv === 'capacity' ? 'capacity' : 'past',
      d,
    ]),
    value: g.input(`past_key_values.${i}.value`, 'float32', [
      'batch',
      hkv,
      opts.kv === 'capacity' ? 'capacity' : 'past',
      d,
    ]),
  }));
  const idsShape = g.op('Shape', [ids]); // [2] = (B, S)
  const shapeBSHD = (heads: number) => g.op('Concat', [idsShape, g.i64('dims', [heads, d])], { axis: 0 });
  const gqa = (opts.attention ?? 'decomposed') === 'gqa';
  const shapeQ = gqa ? '' : shapeBSHD(hq);
  const shapeKV = gqa ? '' : shapeBSHD(hkv);
  const shapeLogits = opts.logitRows
    ? g.op(
        'Concat',
        [g.op('Slice', [idsShape, g.i64('starts', [0]), g.i64('ends', [1])]), g.i64('dims', [-1, v])],
        { axis: 0 },
      )
    : g.op('Concat', [idsShape, g.i64('dims', [v])], { axis: 0 });
  const rowsIn = opts.logitRows ? g.input('logit_rows', 'int64', ['rows']) : null;
  const shapeGroupedQ = gqa ? '' : g.i64('dims', [0, hkv, -1, d]); // [B,Hq,S,D] → [B,Hkv,G·S,D]
  const shapeHeadsQ = gqa ? '' : g.i64('dims', [0, hq, -1, d]); // and back
  const shapeRows = (cols: number) => g.i64('dims', [-1, cols]);

  // 2. Additive mask [B,1,G·S,T], shared by every layer.
  const additive = mask4d ?? additiveFrom2d(g, mask2d!, idsShape);
  // GroupQueryAttention takes the [B,1,S,T] mask as it is; the decomposed path tiles it.
  const maskG = gqa
    ? additive
    : groups > 1
      ? g.op('Tile', [additive, g.i64('reps', [1, 1, groups, 1])])
      : additive;

  if (gqa && (!mask4d || opts.fusedOps === false))
    throw new Error('GroupQueryAttention needs the 4D mask and fused ops');
  // GroupQueryAttention's lengths: total T = P + S (the mask's last dim), seqlens_k = T - 1.
  const total32 = gqa
    ? g.op('Cast', [g.op('Gather', [g.op('Shape', [mask4d!]), g.scalarI64('three', 3)])], { to: 6 })
    : null;
  const seqlensK = gqa
    ? g.op('Reshape', [
        g.op('Sub', [total32!, g.init('one32', 'int32', [], Int32Array.of(1))]),
        g.i64('dims', [1]),
      ])
    : null;

  // 3. RoPE from position_ids. The 1/sqrt(D) attention scale is folded into the Q weights.
  const fused = opts.fusedOps ?? true;
  const kvMode = opts.kv ?? 'concat';
  if (kvMode === 'capacity' && opts.mask !== '4d') throw new Error('a capacity KV cache needs the 4D mask');
  // [C, S] split of the probabilities over [past | new] (capacity mode).
  const splitPastNew =
    kvMode === 'capacity' && !gqa
      ? g.op(
          'Concat',
          [
            g.op('Slice', [g.op('Shape', [past[0]!.key]), g.i64('starts', [2]), g.i64('ends', [3])]),
            g.op('Slice', [idsShape, g.i64('starts', [1]), g.i64('ends', [2])]),
          ],
          { axis: 0 },
        )
      : null;
  const acc = opts.int4Accuracy ?? 0;
  const rope = ropeTables(cfg);
  const qScale = 1 / Math.sqrt(d);
  let applyRope: (x: string) => string; // [B,H,S,D] → same
  let ropeCaches: [string, string] | null = null; // GroupQueryAttention rotates Q and K itself
  if (fused) {
    // com.microsoft RotaryEmbedding over tables [maxPos, D/2] (cos/sin computed here in double).
    const maxPos = cfg.contextLength;
    const cosT = new Float32Array(maxPos * (d / 2));
    const sinT = new Float32Array(maxPos * (d / 2));
    for (let p = 0; p < maxPos; p++) {
      for (let j = 0; j < d / 2; j++) {
        const a = p * rope.invFreq[j]!;
        cosT[p * (d / 2) + j] = Math.cos(a) * rope.attentionFactor;
        sinT[p * (d / 2) + j] = Math.sin(a) * rope.attentionFactor;
      }
    }
    const cosCache = g.init('rope.cos', 'float32', [maxPos, d / 2], cosT);
    const sinCache = g.init('rope.sin', 'float32', [maxPos, d / 2], sinT);
    ropeCaches = [cosCache, sinCache];
    applyRope = (x) =>
      g.op('RotaryEmbedding', [x, pos, cosCache, sinCache], { interleaved: 0 }, { domain: 'com.microsoft' });
  } else {
    // cos/sin [B,1,S,D]; rotate_half(x) = [-x2, x1], so x·cos + [x2, x1]·[-sin, sin].
    const angle = g.op('Mul', [
      g.op('Unsqueeze', [g.op('Cast', [pos], { to: 1 }), g.i64('axes', [-1])]),
      g.f32('inv_freq', rope.invFreq),
    ]);
    const af = rope.attentionFactor === 1 ? null : g.scalarF32('attention_factor', rope.attentionFactor);
    const cosH = g.op('Cos', [angle]); // [B,S,D/2]
    const sinH = g.op('Sin', [angle]);
    const axis1 = g.i64('axes', [1]);
    let cos = g.op('Unsqueeze', [g.op('Concat', [cosH, cosH], { axis: -1 }), axis1]);
    let sin = g.op('Unsqueeze', [g.op('Concat', [g.op('Neg', [sinH]), sinH], { axis: -1 }), axis1]);
    if (af) {
      cos = g.op('Mul', [cos, af]);
      sin = g.op('Mul', [sin, af]);
    }
    const halfSplit = g.i64('split', [d / 2, d / 2]);
    applyRope = (x) => {
      const [x1, x2] = g.opN('Split', [x, halfSplit], 2, { axis: -1 });
      return g.op('Add', [
        g.op('Mul', [x, cos]),
        g.op('Mul', [g.op('Concat', [x2!, x1!], { axis: -1 }), sin]),
      ]);
    };
  }

  // 4. Token embedding: the same [V,H] matrix feeds the tied output head.
  const embed = g.init('token_embd.weight', 'float32', [v, h], src.f32('token_embd.weight'));
  let x = g.op('Reshape', [g.op('Gather', [embed, ids]), shapeRows(h)]); // [B·S, H]

  // RMSNorm with the pending residual add folded in: x ← x + delta; return norm(x).
  let delta: string | null = null;
  const norm = (weight: string): string => {
    const gamma = g.init(weight, 'float32', [h], src.f32(weight));
    const eps = { epsilon: { float: cfg.rmsNormEps } };
    if (delta === null) return g.op('SimplifiedLayerNormalization', [x, gamma], { axis: -1, ...eps });
    if (!fused) {
      x = g.op('Add', [x, delta]);
      delta = null;
      return g.op('SimplifiedLayerNormalization', [x, gamma], { axis: -1, ...eps });
    }
    const y = g.name('skipnorm_o');
    const sum = g.name('residual');
    g.opN('SkipSimplifiedLayerNormalization', [delta, x, gamma], [y, '', '', sum], eps, {
      domain: 'com.microsoft',
    });
    x = sum;
    delta = null;
    return y;
  };
  const qPerm = cfg.arch === 'llama' ? unpermuteRopeRows(hq, d) : undefined;
  const kPerm = cfg.arch === 'llama' ? unpermuteRopeRows(hkv, d) : undefined;
  const qkvSplit = gqa ? '' : g.i64('split', [hq * d, hkv * d, hkv * d]);
  const ffSplit = g.i64('split', [cfg.intermediateSize, cfg.intermediateSize]);
  const bias = (l: number, t: string) =>
    cfg.qkvBias && src.has(`blk.${l}.attn_${t}.bias`) ? `blk.${l}.attn_${t}.bias` : undefined;

  layers.forEach((l, i) => {
    const p = `blk.${l}`;
    // 5. Attention: fused q|k|v projection, RoPE.
    const hn = norm(`${p}.attn_norm.weight`);
    const qkvParts: LinearPart[] = [
      { weight: `${p}.attn_q.weight`, bias: bias(l, 'q'), perm: qPerm, scale: qScale },
      { weight: `${p}.attn_k.weight`, bias: bias(l, 'k'), perm: kPerm },
      { weight: `${p}.attn_v.weight`, bias: bias(l, 'v') },
    ];
    const qkv = linear(g, src, hn, qkvParts, opts.weights, `${p}.attn_qkv`, acc);
    let ctxRows: string; // [B·S, Hq·D]
    if (gqa) {
      // 6''. GroupQueryAttention over [B,S,H·D] rows: RoPE on the packed heads, the
      // caller's mask as attention_bias [B,1,S,T] (a tree mask is a subset of the causal
      // mask GQA applies itself, as tree nodes come after their ancestors), scale 1 as
      // 1/sqrt(D) is folded into the Q weights.
      const kvShape = kvMode === 'capacity' ? 'capacity' : 'total';
      const outs = [g.name('attn_ctx'), `present.${i}.key`, `present.${i}.value`];
      const packed = g.op('Reshape', [
        qkv,
        g.op('Concat', [idsShape, g.i64('dims', [(hq + 2 * hkv) * d])], { axis: 0 }),
      ]);
      g.opN(
        'GroupQueryAttention',
        [
          packed,
          '',
          '',
          past[i]!.key,
          past[i]!.value,
          seqlensK!,
          total32!,
          ropeCaches![0],
          ropeCaches![1],
          pos,
          mask4d!,
        ],
        outs,
        { num_heads: hq, kv_num_heads: hkv, scale: { float: 1 }, do_rotary: 1, rotary_interleaved: 0 },
        { domain: 'com.microsoft' },
      );
      g.output(outs[1]!, 'float32', ['batch', hkv, kvShape, d]);
      g.output(outs[2]!, 'float32', ['batch', hkv, kvShape, d]);
      ctxRows = g.op('Reshape', [outs[0]!, shapeRows(hq * d)]);
    } else {
      const [q, k, vv] = g.opN('Split', [qkv, qkvSplit], 3, { axis: 1 });
      const toHeads = (t: string, shape: string) =>
        g.op('Transpose', [g.op('Reshape', [t, shape])], { perm: [0, 2, 1, 3] });
      const qr = applyRope(toHeads(q!, shapeQ)); // [B,Hq,S,D]
      const kT = applyRope(toHeads(k!, shapeKV)); // [B,Hkv,S,D]
      const vT = toHeads(vv!, shapeKV);
      let ctx: string; // [B,Hkv,G·S,D]
      const qG = g.op('Reshape', [qr, shapeGroupedQ]);
      const keysT = (t: string) => g.op('Transpose', [t], { perm: [0, 1, 3, 2] });
      if (kvMode === 'concat') {
        // 6. Scores [B,Hkv,G·S,T] = Q Kᵀ (1/sqrt(D) is in the Q weights) + mask; softmax; · V.
        const presentK = g.op('Concat', [past[i]!.key, kT], { axis: 2 }, { out: `present.${i}.key` }); // [B,Hkv,T,D]
        const presentV = g.op('Concat', [past[i]!.value, vT], { axis: 2 }, { out: `present.${i}.value` });
        g.output(presentK, 'float32', ['batch', hkv, 'total', d]);
        g.output(presentV, 'float32', ['batch', hkv, 'total', d]);
        const scores = g.op('Add', [g.op('MatMul', [qG, keysT(presentK)]), maskG]);
        ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), presentV]);
      } else {
        // 6'. Capacity cache: the past is read in place (C rows, unused ones masked) and never
        // copied; only this step's keys/values leave the graph. Scores over [past | new].
        g.op('Identity', [kT], {}, { out: `appended.${i}.key` });
        g.op('Identity', [vT], {}, { out: `appended.${i}.value` });
        g.output(`appended.${i}.key`, 'float32', ['batch', hkv, 'seq', d]);
        g.output(`appended.${i}.value`, 'float32', ['batch', hkv, 'seq', d]);
        const scoresPast = g.op('MatMul', [qG, keysT(past[i]!.key)]); // [B,Hkv,G·S,C]
        const scoresNew = g.op('MatMul', [qG, keysT(kT)]); // [B,Hkv,G·S,S]
        const scores = g.op('Add', [g.op('Concat', [scoresPast, scoresNew], { axis: -1 }), maskG]);
        const [probsPast, probsNew] = g.opN(
          'Split',
          [g.op('Softmax', [scores], { axis: -1 }), splitPastNew!],
          2,
          { axis: -1 },
        );
        ctx = g.op('Add', [g.op('MatMul', [probsPast!, past[i]!.value]), g.op('MatMul', [probsNew!, vT])]);
      }
      ctxRows = g.op('Reshape', [
        g.op('Transpose', [g.op('Reshape', [ctx, shapeHeadsQ])], { perm: [0, 2, 1, 3] }),
        shapeRows(hq * d),
      ]);
    }
    const attnOut = linear(
      g,
      src,
      ctxRows,
      [{ weight: `${p}.attn_output.weight` }],
      opts.weights,
      `${p}.attn_output`,
      acc,
    );
    delta = attnOut;

    // 7. SwiGLU MLP: down(silu(gate) * up), gate|up fused.
    const hn2 = norm(`${p}.ffn_norm.weight`);
    const gu = linear(
      g,
      src,
      hn2,
      [{ weight: `${p}.ffn_gate.weight` }, { weight: `${p}.ffn_up.weight` }],
      opts.weights,
      `${p}.ffn_gate_up`,
      acc,
    );
    const [gate, up] = g.opN('Split', [gu, ffSplit], 2, { axis: 1 });
    const act = g.op('Mul', [g.op('Mul', [gate!, g.op('Sigmoid', [gate!])]), up!]);
    delta = linear(g, src, act, [{ weight: `${p}.ffn_down.weight` }], opts.weights, `${p}.ffn_down`, acc);
    opts.onProgress?.(i + 1, layers.length);
  });

  // 8. Final norm and output head, on the rows asked for only (the residual and the pending
  //    delta are gathered before the fused add+norm).
  if (rowsIn) {
    x = g.op('Gather', [x, rowsIn], { axis: 0 }); // [R, H]
    if (delta !== null) delta = g.op('Gather', [delta, rowsIn], { axis: 0 });
  }
  const xn = norm('output_norm.weight');
  const headName = cfg.tiedEmbeddings || !src.has('output.weight') ? 'token_embd.weight' : 'output.weight';
  const headFormat = opts.head ?? 'fp32';
  let logitsRows: string;
  if (headFormat !== 'fp32') {
    const bits = headFormat === 'q8' ? 8 : 4;
    logitsRows = quantizedHead(g, src, xn, headName, bits, 'output', opts.headAccuracy ?? acc);
  } else if (headName === 'output.weight') {
    logitsRows = linear(g, src, xn, [{ weight: headName }], opts.weights, 'output', acc);
  } else {
    // Tied head: Gemm against the embedding initializer itself (no second copy).
    logitsRows = g.op('Gemm', [xn, embed], { transB: 1 });
  }
  g.op('Reshape', [logitsRows, shapeLogits], {}, { out: 'logits' });
  g.output('logits', 'float32', ['batch', opts.logitRows ? 'rows' : 'seq', v]);
  // Graph outputs in contract order: logits first.
  const bytes = g.finish({
    producer: 'ragspec',
    docString: `${cfg.name}: layers ${layers.join(',')}, weights ${opts.weights}, mask ${opts.mask}`,
    opsets: { '': OPSET, 'com.microsoft': 1 },
  });
  return { bytes, config: { ...cfg, numLayers: layers.length }, layers };
}

/** 2D padding mask int64 [B,T] → additive [B,1,S,T]: causal over T = P + S, and padding. */
function additiveFrom2d(g: GraphBuilder, mask2d: string, idsShape: string): string {
  const zero = g.scalarI64('zero', 0);
  const one = g.scalarI64('one', 1);
  const s = g.op('Gather', [idsShape, one]); // scalar S
  const t = g.op('Gather', [g.op('Shape', [mask2d]), one]); // scalar T
  const pastLen = g.op('Sub', [t, s]);
  const rows = g.op('Add', [g.op('Range', [zero, s, one]), pastLen]); // [S] absolute position of each row
  const cols = g.op('Range', [zero, t, one]); // [T]
  const causal = g.op('LessOrEqual', [
    g.op('Unsqueeze', [cols, g.i64('axes', [0])]),
    g.op('Unsqueeze', [rows, g.i64('axes', [1])]),
  ]); // [S,T]
  const pad = g.op('Unsqueeze', [g.op('Cast', [mask2d], { to: 9 }), g.i64('axes', [1, 2])]); // [B,1,1,T]
  const allowed = g.op('And', [causal, pad]); // [B,1,S,T]
  return g.op('Where', [allowed, g.scalarF32('attend', 0), g.scalarF32('blocked', -1e9)]);
}
