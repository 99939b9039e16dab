/**
 * llama.cpp as the peer, through node-llama-cpp's prebuilt CPU binary: the same GGUF, fed
 * ragspec's prompt token ids, greedy, with a fixed thread count. Two sequences on two
 * contexts: plain, and prompt lookup (`InputLookupTokenPredictor` over the prompt).
 *
 * Nothing is built or downloaded: `build: 'never'` fails with node-llama-cpp's own message
 * when the prebuilt binary does not load.
 */
import fs from 'node:fs';
import {
  getLlama,
  InputLookupTokenPredictor,
  LlamaLogLevel,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { TimedRun } from './peer-report.ts';

/**
 * Prompt lookup settings. node-llama-cpp's default maximum pattern length (0) is clamped to
 * the minimum (1), so without an explicit maximum it matches single tokens only.
 */
export const LOOKUP = { patternLength: { min: 1, max: 64 }, predictionLength: { min: 1, max: 8 } };

export interface LlamaRunOptions {
  lookup: boolean;
  maxTokens: number;
  /** Generation stops at these ids (ragspec's EOS set, so both engines stop alike). */
  eosIds: readonly number[];
  /** Decodes ids to text (ragspec's tokenizer, so texts compare exactly). */
  decode: (ids: readonly number[]) => string;
}

export class LlamaCppPeer {
  private constructor(
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly contexts: LlamaContext[],
    private readonly plain: LlamaContextSequence,
    private readonly lookup: LlamaContextSequence,
  ) {}

  /** `contextSize` must hold the longest prompt plus the new tokens. */
  static async load(gguf: string, threads: number, contextSize: number): Promise<LlamaCppPeer> {
    if (!fs.existsSync(gguf)) throw new Error(`no GGUF at ${gguf} — run \`npx ragspec setup\` first`);
    const llama = await getLlama({
      gpu: false,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
      maxThreads: threads,
    });
    const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
    // ideal = min = threads: exactly `threads` threads for every evaluation, as ragspec gets
    const opts = { contextSize, threads: { ideal: threads, min: threads } };
    const a = await model.createContext(opts);
    const b = await model.createContext(opts);
    const lookup = b.getSequence({ tokenPredictor: new InputLookupTokenPredictor(LOOKUP) });
    return new LlamaCppPeer(llama, model, [a, b], a.getSequence(), lookup);
  }

  /** How llama.cpp itself tokenizes the rendered prompt (special tokens parsed). */
  tokenCount(text: string): number {
    return this.model.tokenize(text, true).length;
  }

  /** One greedy generation from a cleared KV cache (no prefix reuse, like ragspec's runs here). */
  async run(prompt: readonly number[], o: LlamaRunOptions): Promise<TimedRun> {
    const seq = o.lookup ? this.lookup : this.plain;
    await seq.clearHistory();
    const ids = prompt as Token[];
    // the lookup source is the whole prompt, as LlamaCompletion gives it
    seq.tokenPredictor?.updateInputTokens(ids.slice());
    const usedBefore = seq.tokenPredictions.used;
    const eos = new Set(o.eosIds);

    // 1. Prefill every prompt token but the last (ragspec prefills the same rows).
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1));
    const t1 = performance.now();
    // evaluate() expects the predictor's state to hold the tokens it is about to evaluate
    // (it pushes each sampled token before predicting); the prefill reset left out the last.
    seq.tokenPredictor?.pushTokens(ids.slice(-1));

    // 2. Decode from the last prompt token; the predictor (if any) drafts inside evaluate.
    const tokens: number[] = [];
    let tFirst = NaN;
    for await (const t of seq.evaluate(ids.slice(-1), { temperature: 0 })) {
      if (Number.isNaN(tFirst)) tFirst = performance.now();
      if (eos.has(t)) break;
      tokens.push(t);
      if (tokens.length >= o.maxTokens) break;
    }
    const t2 = performance.now();
    // A consumed prediction is a token that needed no forward of its own.
    const used = seq.tokenPredictions.used - usedBefore;
    const forwards = tokens.length - used;
    return {
      decode_tok_s: t2 > t1 ? (tokens.length * 1000) / (t2 - t1) : 0,
      prefill_tok_s: t1 > t0 ? ((prompt.length - 1) * 1000) / (t1 - t0) : 0,
      ttft_ms: tFirst - t0,
      tokens_per_forward: forwards > 0 ? tokens.length / forwards : null,
      text: o.decode(tokens),
      tokens,
    };
  }

  async dispose(): Promise<void> {
    for (const c of this.contexts) await c.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
