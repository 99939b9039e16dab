/**
 * Vocabulary, fixed once (see ../shared/ARCHITECTURE.md and STYLE.md):
 * - target: the model whose output we must reproduce exactly.
 * - step: one target forward.
 * - KV cache: per-layer keys/values of every position the target has seen.
 * Shapes are written as comments: `[S, V]` means S rows of V floats, row-major.
 */

/** Hyper-parameters of a Llama-family decoder, read from GGUF metadata. */
export interface LlamaConfig {
  /** `general.architecture` of the GGUF: 'llama' (Llama, SmolLM, TinyLlama) or 'qwen2'. */
  arch: 'llama' | 'qwen2';
  name: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Present only when the GGUF declares rope scaling. */
  ropeScaling?:
    | { type: 'linear'; factor: number }
    | {
        type: 'yarn' | 'llama3';
        factor: number;
        originalContextLength: number;
        lowFreqFactor?: number;
        highFreqFactor?: number;
      };
  /** Output head shares the token embedding matrix (no `output.weight` tensor). */
  tiedEmbeddings: boolean;
  /** Qwen2 has biases on q/k/v projections. */
  qkvBias: boolean;
}

/** Logits for every new position of one forward. */
export interface Logits {
  /** [S, V] row-major */
  data: Float32Array;
  rows: number;
  vocabSize: number;
}

/** Row `i` of the logits: `[V]`, a view into `logits.data` (no copy). */
export function logitsRow(logits: Logits, i: number): Float32Array {
  return logits.data.subarray(i * logits.vocabSize, (i + 1) * logits.vocabSize);
}

/** What a loaded model can do. */
export interface CausalLMCapabilities {
  /**
   * true: accepts an explicit 4D additive mask, so a whole draft tree verifies in one step.
   * false: only a 2D padding mask (Optimum / transformers.js exports) — chains only.
   */
  treeMask: boolean;
  /** `newBatch` works: several requests' rows in one forward (continuous batching). */
  batch?: boolean;
}

/**
 * Per-layer keys and values of the positions the model has already seen.
 * Layout per layer: key/value `[Hkv, P, D]` (batch 1).
 */
export interface KvCache {
  /** P: number of cached positions. */
  readonly length: number;
  /** Drop every position at index >= n. */
  truncate(n: number): void;
  /**
   * After a forward that appended S positions, keep only `indices` (0-based among those S,
   * ascending) — the accepted branch of a draft tree. Earlier positions are untouched.
   */
  keep(indices: readonly number[]): void;
  /** Number of positions the last forward appended (what `keep` indexes into). */
  readonly lastAppended: number;
  /** An independent copy (for branches / tests). */
  clone(): KvCache;
}

export interface ForwardOptions {
  /**
   * Which of the S new rows need logits (ascending indices in 0..S-1); default every row.
   * Prefill asks for its last row only, so the output head runs once per chunk, not S times.
   * The returned `Logits` then has `rows = logitRows.length`, in this order.
   */
  logitRows?: readonly number[];
}

export interface CausalLM {
  readonly config: LlamaConfig;
  readonly capabilities: CausalLMCapabilities;
  newCache(): KvCache;
  /**
   * Run the model over S new tokens after the P positions in `cache`, append their keys
   * and values to `cache`, and return logits for every new position (or those in
   * `opts.logitRows`).
   * @param tokens    [S] token ids
   * @param positions [S] absolute positions (tree depth + P for draft trees)
   * @param mask      [S, P+S] additive mask (0 = attend, -Infinity-like = blocked), or null
   *                  for the ordinary causal mask.
   */
  forward(
    tokens: readonly number[],
    positions: readonly number[],
    mask: Float32Array | null,
    cache: KvCache,
    opts?: ForwardOptions,
  ): Promise<Logits>;
  /**
   * Several requests in one forward (continuous batching), `maxBatch` request slots; only
   * when `capabilities.batch` (see onnx/batch-forward.ts).
   */
  newBatch?(maxBatch: number): BatchedLM;
  dispose(): Promise<void>;
}

/** One request's share of a batched forward: exactly what it would pass to `forward`. */
export interface BatchPart {
  tokens: readonly number[]; // [S_i]
  positions: readonly number[]; // [S_i]
  /** [S_i, P_i+S_i] additive, or null for the causal mask. */
  mask: Float32Array | null;
  /** A cache made by the same `BatchedLM.newCache()`. */
  cache: KvCache;
  logitRows?: readonly number[];
}

/**
 * Request slots over one KV arena, and a forward over several slots at once. Each part's
 * logits equal (within float rounding) those of the same call on `CausalLM.forward` alone.
 */
export interface BatchedLM {
  readonly maxBatch: number;
  /** Slots not yet taken. */
  readonly free: number;
  /**
   * A KV cache in a free slot (throws `conflict` when every slot is taken), starting with a
   * copy of `from`'s rows when given (a prefix-cache hit).
   */
  newCache(from?: KvCache | null): KvCache;
  /** The slot index of a cache (a forward runs the slot range of its parts). */
  slotOf(cache: KvCache): number;
  /** Give a slot back: the cache must not be used afterwards. */
  release(cache: KvCache): void;
  /** One target forward over every part (each part a different slot). Logits in part order. */
  forward(parts: readonly BatchPart[]): Promise<Logits[]>;
}

/** Mask value for "may not attend". Large but finite so softmax never sees NaN. */
export const MASK_BLOCKED = -1e9;

/** The ordinary causal mask for S new tokens after P cached ones. Returns [S, P+S]. */
export function causalMask(past: number, s: number): Float32Array {
  const total = past + s;
  const m = new Float32Array(s * total);
  for (let i = 0; i < s; i++) {
    for (let j = past + i + 1; j < total; j++) m[i * total + j] = MASK_BLOCKED;
  }
  return m;
}
