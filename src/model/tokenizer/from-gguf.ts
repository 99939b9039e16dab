/**
 * Build a Hugging Face tokenizer.json (and the bits of tokenizer_config.json we need) from
 * a GGUF's `tokenizer.*` metadata. Two vocabulary kinds:
 * - 'gpt2': byte-level BPE; merges are stored; the pre-tokenizer comes from tokenizer.ggml.pre.
 * - 'llama': SentencePiece BPE with byte fallback; merges are rebuilt from the token scores.
 */
import type { MetadataValue } from '@huggingface/gguf';
import { BadFileError } from '../../util/errors.ts';
import { preTokenizerFor, SUPPORTED_PRE_TOKENIZERS } from './pre-tokenizers.ts';
import { mergesFromScores } from './spm.ts';
import { TokenType } from './token-types.ts';

export { TokenType };

type Json = Record<string, unknown>;

/** What tokenizer.json cannot say but we need: special ids and the chat template. */
export interface TokenizerSettings {
  kind: 'byte-level' | 'sentencepiece';
  bosId: number | null;
  eosId: number;
  /** End-of-generation ids: eos, eot and end-of-turn style tokens. */
  eosIds: number[];
  padId: number | null;
  addBos: boolean;
  addEos: boolean;
  chatTemplate: string | null;
}

export interface GgufTokenizer {
  tokenizerJson: Json;
  settings: TokenizerSettings;
}

/** Tokens that end a turn in the chat formats we know (llama.cpp detects the same by text). */
const END_TOKEN_TEXTS = [
  '<|im_end|>',
  '<|endoftext|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|end_of_text|>',
  '<|end|>',
  '<end_of_turn>',
  '</s>',
];

export function tokenizerFromGguf(metadata: Record<string, MetadataValue>, file = '<gguf>'): GgufTokenizer {
  const model = metadata['tokenizer.ggml.model'];
  const tokens = metadata['tokenizer.ggml.tokens'];
  if (typeof model !== 'string' || !Array.isArray(tokens)) {
    throw new BadFileError(
      file,
      'the GGUF has no tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens missing)',
      'use a GGUF that embeds its tokenizer, as llama.cpp conversions do',
    );
  }
  const vocab = tokens.map(String);
  const types = numberArray(metadata['tokenizer.ggml.token_type']) ?? vocab.map(() => TokenType.NORMAL);
  const id = (key: string): number | null => {
    const v = metadata[`tokenizer.ggml.${key}`];
    return typeof v === 'number' || typeof v === 'bigint' ? Number(v) : null;
  };
  const flag = (key: string, dflt: boolean): boolean => {
    const v = metadata[`tokenizer.ggml.${key}`];
    return typeof v === 'boolean' ? v : dflt;
  };

  let json: Json;
  let kind: TokenizerSettings['kind'];
  let addBosDefault: boolean;
  if (model === 'gpt2') {
    const pre = String(metadata['tokenizer.ggml.pre'] ?? 'default');
    const spec = preTokenizerFor(pre);
    if (!spec) {
      throw new BadFileError(
        file,
        `unsupported pre-tokenizer '${pre}' (tokenizer.ggml.pre)`,
        `supported: ${SUPPORTED_PRE_TOKENIZERS.join(', ')}`,
      );
    }
    const merges = metadata['tokenizer.ggml.merges'];
    json = byteLevelJson(vocab, Array.isArray(merges) ? merges.map(String) : [], spec);
    kind = 'byte-level';
    addBosDefault = spec.ignoreMerges; // llama.cpp: llama3-style vocabularies add BOS by default
  } else if (model === 'llama') {
    const scores = numberArray(metadata['tokenizer.ggml.scores']);
    if (!scores)
      throw new BadFileError(
        file,
        'SentencePiece vocabulary without tokenizer.ggml.scores',
        'the file is incomplete',
      );
    const unk = id('unknown_token_id') ?? 0;
    json = sentencePieceJson(vocab, scores, types, vocab[unk] ?? '<unk>', flag('add_space_prefix', true));
    kind = 'sentencepiece';
    addBosDefault = true;
  } else {
    throw new BadFileError(
      file,
      `unsupported tokenizer model '${model}'`,
      "ragspec reads 'gpt2' (byte-level BPE) and 'llama' (SentencePiece) vocabularies",
    );
  }

  json.added_tokens = addedTokens(vocab, types);
  const bosId = id('bos_token_id');
  const eosId = id('eos_token_id');
  if (eosId === null)
    throw new BadFileError(file, 'tokenizer.ggml.eos_token_id is missing', 'the file is incomplete');
  const addBos = flag('add_bos_token', addBosDefault) && bosId !== null;
  const addEos = flag('add_eos_token', false);
  json.post_processor = postProcessor(vocab, addBos ? bosId : null, addEos ? eosId : null, kind);

  const eosIds = new Set<number>([eosId]);
  for (const key of ['eot_token_id', 'eom_token_id']) {
    const v = id(key);
    if (v !== null) eosIds.add(v);
  }
  vocab.forEach((t, i) => {
    if (types[i] === TokenType.CONTROL && END_TOKEN_TEXTS.includes(t)) eosIds.add(i);
  });
  const template = metadata['tokenizer.chat_template'];
  return {
    tokenizerJson: json,
    settings: {
      kind,
      bosId,
      eosId,
      eosIds: [...eosIds].sort((a, b) => a - b),
      padId: id('padding_token_id'),
      addBos,
      addEos,
      chatTemplate: typeof template === 'string' ? template : null,
    },
  };
}

function numberArray(v: MetadataValue | undefined): number[] | null {
  return Array.isArray(v) ? v.map(Number) : null;
}

function vocabObject(vocab: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  vocab.forEach((t, i) => {
    // Duplicate strings can occur (unused slots); the first id wins, as in llama.cpp.
    if (!(t in out)) out[t] = i;
  });
  return out;
}

function byteLevelJson(
  vocab: string[],
  merges: string[],
  spec: ReturnType<typeof preTokenizerFor> & object,
): Json {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: spec.normalizer,
    pre_tokenizer: spec.preTokenizer,
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab: vocabObject(vocab),
      merges: merges.map((m) => {
        const sp = m.indexOf(' ');
        return [m.slice(0, sp), m.slice(sp + 1)];
      }),
    },
  };
}

function sentencePieceJson(
  vocab: string[],
  scores: number[],
  types: number[],
  unk: string,
  addSpacePrefix: boolean,
): Json {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    // Spaces become ▁ and the text gets one leading ▁ (only before the first special-free piece).
    pre_tokenizer: {
      type: 'Metaspace',
      replacement: '▁',
      prepend_scheme: addSpacePrefix ? 'first' : 'never',
      split: false,
    },
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabObject(vocab),
      merges: mergesFromScores(vocab, scores, types),
    },
  };
}

/** Control tokens are special added tokens; user-defined ones are added but not special. */
function addedTokens(vocab: string[], types: number[]): Json[] {
  const out: Json[] = [];
  vocab.forEach((content, id) => {
    const t = types[id];
    if (t !== TokenType.CONTROL && t !== TokenType.USER_DEFINED) return;
    out.push({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t === TokenType.CONTROL,
    });
  });
  return out;
}

function postProcessor(
  vocab: string[],
  bosId: number | null,
  eosId: number | null,
  kind: TokenizerSettings['kind'],
): Json | null {
  if (bosId === null && eosId === null) {
    return kind === 'byte-level'
      ? { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }
      : null;
  }
  const special = (i: number): Json => ({ SpecialToken: { id: vocab[i], type_id: 0 } });
  const single: Json[] = [
    ...(bosId !== null ? [special(bosId)] : []),
    { Sequence: { id: 'A', type_id: 0 } },
    ...(eosId !== null ? [special(eosId)] : []),
  ];
  const specialTokens: Json = {};
  for (const i of [bosId, eosId])
    if (i !== null) specialTokens[vocab[i]!] = { id: vocab[i], ids: [i], tokens: [vocab[i]] };
  return {
    type: 'TemplateProcessing',
    single,
    pair: [...single, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: specialTokens,
  };
}
