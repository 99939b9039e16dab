/** Tokenizer (from GGUF metadata or tokenizer.json) and chat template rendering. */
export { TextTokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer.ts';
export {
  ChatTemplate,
  renderChat,
  encodeChat,
  CHATML_TEMPLATE,
  type ChatMessage,
  type ChatRenderOptions,
} from './chat.ts';
export { tokenizerFromGguf, type TokenizerSettings, type GgufTokenizer } from './from-gguf.ts';
export { SUPPORTED_PRE_TOKENIZERS, preTokenizerFor } from './pre-tokenizers.ts';
export { TokenType } from './token-types.ts';
export { BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-level.ts';
