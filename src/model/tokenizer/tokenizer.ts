/**
 * TextTokenizer: text ↔ token ids for a model, built from its GGUF (or a tokenizer.json on
 * disk) and run by @huggingface/tokenizers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BadFileError } from '../../util/errors.ts';
import { openGguf } from '../gguf/reader.ts';
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-level.ts';
import { tokenizerFromGguf, type TokenizerSettings } from './from-gguf.ts';

type Json = Record<string, unknown>;
const utf8 = new TextEncoder();

export interface EncodeOptions {
  /**
   * Add the model's BOS/EOS as its GGUF asks (tokenizer.ggml.add_bos_token). Default false:
   * prompts rendered by the chat template already carry their special tokens.
   */
  addSpecial?: boolean;
  /**
   * Turn control-token text such as `<|im_end|>` into the control token. Default true. Pass
   * false for untrusted text (document passages, user messages) so it cannot forge turns.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop control tokens (bos, eos, `<|im_end|>`...). Default false. */
  skipSpecial?: boolean;
}

export class TextTokenizer {
  readonly bosId: number | null;
  readonly eosId: number;
  /** Every id that ends generation: eos plus end-of-turn tokens such as `<|im_end|>`. */
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  readonly vocabSize: number;
  readonly chatTemplate: string | null;
  readonly kind: TokenizerSettings['kind'];
  readonly bosToken: string | null;
  readonly eosToken: string;
  /**
   * Bytes no token can represent. Encoding drops them (as the HF tokenizer does with no unk
   * token), so text containing them does not round-trip. SmolLM2 lacks a few rare C0 controls
   * and bytes that never occur in UTF-8 or only lead code points of unassigned planes 4-11.
   */
  readonly missingBytes: ReadonlySet<number>;

  private readonly tok: Tokenizer;
  /** Same model without added tokens, for parseSpecial: false (built on first use). */
  private plainTok: Tokenizer | null = null;
  private readonly idToTok: string[];
  private readonly special: Set<number>;
  private readonly byteCache = new Map<number, Uint8Array>();

  private constructor(
    private readonly json: Json,
    private readonly settings: TokenizerSettings,
  ) {
    this.tok = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    const model = json.model as { vocab: Record<string, number> };
    const size = Math.max(-1, ...Object.values(model.vocab)) + 1;
    this.idToTok = new Array<string>(size);
    for (const [t, i] of Object.entries(model.vocab)) this.idToTok[i] = t;
    this.special = new Set();
    for (const a of json.added_tokens as { id: number; content: string; special: boolean }[]) {
      this.idToTok[a.id] = a.content;
      if (a.special) this.special.add(a.id);
    }
    this.vocabSize = this.idToTok.length;
    this.bosId = settings.bosId;
    this.eosId = settings.eosId;
    this.eosIds = settings.eosIds;
    this.padId = settings.padId;
    this.chatTemplate = settings.chatTemplate;
    this.kind = settings.kind;
    this.bosToken = settings.bosId === null ? null : (this.idToTok[settings.bosId] ?? null);
    this.eosToken = this.idToTok[settings.eosId] ?? '';
    const missing = new Set<number>();
    for (let b = 0; b < 256; b++) {
      const piece =
        this.kind === 'byte-level'
          ? BYTE_TO_CHAR[b]!
          : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (model.vocab[piece] === undefined) missing.add(b);
    }
    this.missingBytes = missing;
  }

  /** Whether every byte of `text` has a token (then decode(encode(text)) === text). */
  canEncode(text: string): boolean {
    if (this.missingBytes.size === 0) return true;
    for (const b of utf8.encode(text)) if (this.missingBytes.has(b)) return false;
    return true;
  }

  /** The tokenizer embedded in a GGUF model file. */
  static async fromGguf(file: string): Promise<TextTokenizer> {
    const g = await openGguf(file);
    const { tokenizerJson, settings } = tokenizerFromGguf(g.metadata, file);
    return new TextTokenizer(tokenizerJson, settings);
  }

  /** From GGUF metadata already parsed (see openGguf). */
  static fromGgufMetadata(metadata: Parameters<typeof tokenizerFromGguf>[0], file?: string): TextTokenizer {
    const { tokenizerJson, settings } = tokenizerFromGguf(metadata, file);
    return new TextTokenizer(tokenizerJson, settings);
  }

  /**
   * A tokenizer.json on disk, with the tokenizer_config.json beside it (HF layout) for the
   * special tokens and chat template, as written by `toJSON()` / `tokenizerConfig()`.
   */
  static fromFile(tokenizerJsonPath: string): TextTokenizer {
    const json = readJson(tokenizerJsonPath);
    const cfgPath = path.join(path.dirname(tokenizerJsonPath), 'tokenizer_config.json');
    const cfg = fs.existsSync(cfgPath) ? readJson(cfgPath) : {};
    return new TextTokenizer(json, settingsFromConfig(json, cfg, tokenizerJsonPath));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    let t = this.tok;
    if (opts.parseSpecial === false) {
      this.plainTok ??= new Tokenizer(
        { ...this.json, added_tokens: [] },
        { clean_up_tokenization_spaces: false },
      );
      t = this.plainTok;
    }
    return t.encode(text, { add_special_tokens: opts.addSpecial ?? false }).ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.tok.decode([...ids], {
      skip_special_tokens: opts.skipSpecial ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  /** The text of every added token (matched before the model runs when special tokens are parsed). */
  specialTokenTexts(): string[] {
    return (this.json.added_tokens as { content: string }[]).map((a) => a.content);
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  isEos(id: number): boolean {
    return this.eosIds.includes(id);
  }

  /**
   * The exact bytes a token stands for, so a stream of tokens can be turned into text with a
   * streaming UTF-8 decoder even when a character spans tokens. Special tokens give their text.
   * (SentencePiece: `▁` is a space; the leading-space strip of `decode` is not applied.)
   */
  tokenBytes(id: number): Uint8Array {
    let b = this.byteCache.get(id);
    if (b) return b;
    const t = this.idToTok[id] ?? '';
    if (this.special.has(id)) b = utf8.encode(t);
    else if (this.kind === 'byte-level')
      b = Uint8Array.from(Array.from(t), (c) => CHAR_TO_BYTE.get(c) ?? 0x3f);
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(t)) b = Uint8Array.of(parseInt(t.slice(3, 5), 16));
    else b = utf8.encode(t.replaceAll('▁', ' '));
    this.byteCache.set(id, b);
    return b;
  }

  /** The tokenizer.json object (HF format). */
  toJSON(): Json {
    return this.json;
  }

  /** A tokenizer_config.json for the same tokenizer (HF format, read back by fromFile). */
  tokenizerConfig(): Json {
    const s = this.settings;
    return {
      add_bos_token: s.addBos,
      add_eos_token: s.addEos,
      bos_token: this.bosToken,
      eos_token: this.eosToken,
      pad_token: s.padId === null ? null : (this.idToTok[s.padId] ?? null),
      unk_token: ((this.json.model as Json).unk_token as string | null) ?? null,
      clean_up_tokenization_spaces: false,
      model_max_length: 1e30,
      tokenizer_class: s.kind === 'byte-level' ? 'GPT2Tokenizer' : 'LlamaTokenizer',
      chat_template: s.chatTemplate,
      // Extra ids generation must stop on (HF reads eos from generation_config.json).
      ragspec_eos_token_ids: s.eosIds,
    };
  }
}

function readJson(file: string): Json {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON';
    throw new BadFileError(
      file,
      why,
      'point at a tokenizer.json written by ragspec convert or a Hugging Face export',
    );
  }
}

function settingsFromConfig(json: Json, cfg: Json, file: string): TokenizerSettings {
  const added = json.added_tokens as { id: number; content: string }[];
  const vocab = (json.model as { vocab: Record<string, number> }).vocab;
  const idOf = (v: unknown): number | null => {
    const content =
      typeof v === 'string'
        ? v
        : v && typeof v === 'object' && 'content' in v
          ? String((v as Json).content)
          : null;
    if (content === null) return null;
    return added.find((a) => a.content === content)?.id ?? vocab[content] ?? null;
  };
  const eosId = idOf(cfg.eos_token) ?? idOf('<|im_end|>') ?? idOf('</s>') ?? idOf('<|endoftext|>');
  if (eosId === null)
    throw new BadFileError(
      file,
      'cannot tell the end-of-sequence token',
      'put a tokenizer_config.json with eos_token beside it',
    );
  const extra = Array.isArray(cfg.ragspec_eos_token_ids) ? (cfg.ragspec_eos_token_ids as number[]) : [];
  const model = json.model as Json;
  return {
    kind: model.byte_fallback ? 'sentencepiece' : 'byte-level',
    bosId: idOf(cfg.bos_token),
    eosId,
    eosIds: [...new Set([eosId, ...extra])].sort((a, b) => a - b),
    padId: idOf(cfg.pad_token),
    addBos: cfg.add_bos_token === true,
    addEos: cfg.add_eos_token === true,
    chatTemplate: typeof cfg.chat_template === 'string' ? cfg.chat_template : null,
  };
}
