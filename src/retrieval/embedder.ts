/**
 * Sentence embeddings with all-MiniLM-L6-v2 (quantised ONNX): WordPiece tokens from
 * `@huggingface/tokenizers`, a forward through `OrtModel`, mean pooling over the attention
 * mask and L2 normalisation. Batched, padded per batch to the longest sequence.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { OrtModel, type HostTensor } from '../model/onnx/session.ts';
import { MissingAssetError, BadFileError } from '../util/errors.ts';
import { paths } from '../util/paths.ts';

/** The model was trained with sequences up to 256 word pieces; longer input is truncated. */
export const MAX_SEQ_TOKENS = 256;
export const EMBEDDING_DIM = 384;
export const EMBEDDER_NAME = 'all-MiniLM-L6-v2 (quantised ONNX)';

export interface EmbedderOptions {
  /** Folder with model.onnx and tokenizer.json; default `paths.embedder()`. */
  dir?: string;
  /** Passages per forward; default 16. */
  batchSize?: number;
  intraOpThreads?: number;
}

/** Loads the embedding model's tokenizer alone (the chunker counts tokens with it). */
export function loadEmbedderTokenizer(dir = paths.embedder()): Tokenizer {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file))
    throw new MissingAssetError(`the embedding tokenizer ${file}`, 'run `npx ragspec setup`');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new BadFileError(
      file,
      `not valid JSON (${(err as Error).message})`,
      'run `npx ragspec setup` to fetch it again',
    );
  }
  // The shipped file pads and truncates to 128; we truncate to 256 and pad per batch ourselves.
  json.truncation = null;
  json.padding = null;
  return new Tokenizer(json, {});
}

export class Embedder {
  readonly dim = EMBEDDING_DIM;
  readonly name = EMBEDDER_NAME;
  private readonly clsId: number;
  private readonly sepId: number;

  private constructor(
    readonly tokenizer: Tokenizer,
    private readonly model: OrtModel,
    private readonly batchSize: number,
  ) {
    this.clsId = tokenizer.token_to_id('[CLS]') ?? 101;
    this.sepId = tokenizer.token_to_id('[SEP]') ?? 102;
  }

  static async load(opts: EmbedderOptions = {}): Promise<Embedder> {
    const dir = opts.dir ?? paths.embedder();
    const modelFile = path.join(dir, 'model.onnx');
    if (!fs.existsSync(modelFile))
      throw new MissingAssetError(`the embedding model ${modelFile}`, 'run `npx ragspec setup`');
    const tokenizer = loadEmbedderTokenizer(dir);
    const model = await OrtModel.load(modelFile, { intraOpThreads: opts.intraOpThreads });
    for (const name of ['input_ids', 'attention_mask']) {
      if (!model.inputNames.includes(name)) {
        throw new BadFileError(
          modelFile,
          `has no input "${name}" (inputs: ${model.inputNames.join(', ')})`,
          'run `npx ragspec setup`',
        );
      }
    }
    return new Embedder(tokenizer, model, opts.batchSize ?? 16);
  }

  /** Word-piece ids with [CLS] … [SEP], truncated to MAX_SEQ_TOKENS. */
  encode(text: string): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const body = ids.length > MAX_SEQ_TOKENS - 2 ? ids.slice(0, MAX_SEQ_TOKENS - 2) : ids;
    return [this.clsId, ...body, this.sepId];
  }

  /** Unit-length embeddings, one per text, in input order. */
  async embed(texts: readonly string[], onBatch?: (done: number) => void): Promise<Float32Array[]> {
    const encoded = texts.map((t) => this.encode(t));
    // Sort by length so each batch pads little; results go back to input order.
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
    const out = new Array<Float32Array>(texts.length);
    for (let b = 0; b < order.length; b += this.batchSize) {
      const idx = order.slice(b, b + this.batchSize);
      const vecs = await this.forward(idx.map((i) => encoded[i]!));
      idx.forEach((i, j) => (out[i] = vecs[j]!));
      onBatch?.(Math.min(b + this.batchSize, order.length));
    }
    return out;
  }

  private async forward(batch: number[][]): Promise<Float32Array[]> {
    const B = batch.length;
    const S = Math.max(...batch.map((x) => x.length));
    const ids = new BigInt64Array(B * S); // [B, S], 0 = [PAD]
    const mask = new BigInt64Array(B * S); // [B, S]
    batch.forEach((seq, r) => {
      for (let c = 0; c < seq.length; c++) {
        ids[r * S + c] = BigInt(seq[c]!);
        mask[r * S + c] = 1n;
      }
    });
    const feeds: Record<string, HostTensor> = {
      input_ids: { type: 'int64', data: ids, dims: [B, S] },
      attention_mask: { type: 'int64', data: mask, dims: [B, S] },
    };
    if (this.model.inputNames.includes('token_type_ids')) {
      feeds.token_type_ids = { type: 'int64', data: new BigInt64Array(B * S), dims: [B, S] };
    }
    const outName = this.model.outputNames.includes('last_hidden_state')
      ? 'last_hidden_state'
      : this.model.outputNames[0]!;
    const res = await this.model.run(feeds, [outName]);
    const hidden = res[outName]!.data as Float32Array; // [B, S, D]
    const D = this.dim;
    const vecs: Float32Array[] = [];
    for (let r = 0; r < B; r++) {
      const v = new Float32Array(D);
      const n = batch[r]!.length;
      for (let c = 0; c < n; c++) {
        const off = (r * S + c) * D;
        for (let d = 0; d < D; d++) v[d]! += hidden[off + d]!;
      }
      let norm = 0;
      for (let d = 0; d < D; d++) {
        v[d]! /= n;
        norm += v[d]! * v[d]!;
      }
      norm = Math.sqrt(norm) || 1;
      for (let d = 0; d < D; d++) v[d]! /= norm;
      vecs.push(v);
    }
    return vecs;
  }

  async close(): Promise<void> {
    await this.model.dispose();
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
