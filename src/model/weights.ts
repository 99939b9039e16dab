/**
 * The bridge between the GGUF reader and the ONNX graph builder: named tensors with their
 * quantisation type and raw bytes, dequantised on demand.
 * GGUF tensor names follow llama.cpp: `token_embd.weight`, `blk.{i}.attn_q.weight`,
 * `blk.{i}.attn_k.weight`, `blk.{i}.attn_v.weight`, `blk.{i}.attn_output.weight`,
 * `blk.{i}.attn_norm.weight`, `blk.{i}.ffn_norm.weight`, `blk.{i}.ffn_gate.weight`,
 * `blk.{i}.ffn_up.weight`, `blk.{i}.ffn_down.weight`, `output_norm.weight`, `output.weight`,
 * and for Qwen2 `blk.{i}.attn_{q,k,v}.bias`.
 */
import type { LlamaConfig } from './types.ts';

/** GGML type names we handle. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export interface RawTensor {
  name: string;
  /** GGUF dims, innermost first: a weight with ne = [in, out] is `out` rows of `in` values. */
  ne: number[];
  type: GgmlType;
  /** The tensor's bytes exactly as stored in the file. */
  raw: Uint8Array;
}

export interface WeightSource {
  readonly config: LlamaConfig;
  /** Every tensor name in the file. */
  names(): string[];
  has(name: string): boolean;
  raw(name: string): RawTensor;
  /** Dequantised values, row-major over `ne` reversed (i.e. [out, in] for a weight). */
  f32(name: string): Float32Array;
}
