/**
 * `tokenizer.ggml.pre` → the tokenizer.json normalizer / pre-tokenizer of the original HF
 * tokenizer. The names and regexes follow llama.cpp's pre-tokenizer table (llama-vocab.cpp);
 * where the HF original is known (smollm, gpt-2) we write that exactly.
 */

type Json = Record<string, unknown>;

export interface PreTokenizerSpec {
  normalizer: Json | null;
  preTokenizer: Json;
  /** BPE `ignore_merges`: a word that is itself a token is not split (llama3). */
  ignoreMerges: boolean;
}

const GPT2_RE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_RE =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** llama.cpp's fallback list, applied one after another. */
const DEFAULT_RES = [
  '[\\p{P}\\$\\+<=>\\^~\\|]+',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  '\\p{N}+',
  '[0-9][0-9][0-9]',
];

const byteLevel = (useRegex: boolean): Json => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: useRegex,
});
/** Isolated split: matches and the text between them both become pieces (llama.cpp's regex split). */
const split = (re: string): Json => ({
  type: 'Split',
  pattern: { Regex: re },
  behavior: 'Isolated',
  invert: false,
});
const seq = (...pretokenizers: Json[]): Json => ({ type: 'Sequence', pretokenizers });

const TABLE: Record<string, PreTokenizerSpec> = {};
function add(names: string[], spec: PreTokenizerSpec): void {
  for (const n of names) TABLE[n] = spec;
}

// SmolLM / StarCoder: every digit alone, then GPT-2 byte-level splitting.
add(['smollm', 'starcoder', 'refact'], {
  normalizer: null,
  preTokenizer: seq({ type: 'Digits', individual_digits: true }, byteLevel(true)),
  ignoreMerges: false,
});
add(['gpt-2', 'gpt2', 'phi-2', 'mpt', 'olmo'], {
  normalizer: null,
  preTokenizer: byteLevel(true),
  ignoreMerges: false,
});
add(['llama3', 'llama-v3', 'llama-bpe', 'dbrx', 'smaug-bpe'], {
  normalizer: null,
  preTokenizer: seq(split(LLAMA3_RE), byteLevel(false)),
  ignoreMerges: true,
});
add(['qwen2', 'deepseek-r1-qwen', 'stablelm2'], {
  normalizer: { type: 'NFC' },
  preTokenizer: seq(split(QWEN2_RE), byteLevel(false)),
  ignoreMerges: false,
});
add(['default'], {
  normalizer: null,
  preTokenizer: seq(...DEFAULT_RES.map(split), byteLevel(false)),
  ignoreMerges: false,
});

export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = Object.keys(TABLE);

export function preTokenizerFor(pre: string): PreTokenizerSpec | undefined {
  return TABLE[pre];
}

export { GPT2_RE };
