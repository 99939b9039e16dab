/**
 * Chat prompts: the model's own Jinja chat template (GGUF `tokenizer.chat_template`),
 * rendered with @huggingface/jinja exactly as transformers' apply_chat_template would.
 */
import { randomUUID } from 'node:crypto';
import { Template } from '@huggingface/jinja';
import { RagspecError } from '../../util/errors.ts';
import type { TextTokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatRenderOptions {
  /** End with the assistant header so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `tools`, `documents`). */
  extra?: Record<string, unknown>;
}

/** Plain ChatML, used only when a model ships no template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specials: { bosToken: string | null; eosToken: string },
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new RagspecError(`the model's chat template does not parse: ${firstLine(err)}`, {
        code: 'bad_chat_template',
        hint: 'use a GGUF with a valid tokenizer.chat_template',
      });
    }
  }

  /** The template of a tokenizer (ChatML when the model has none). */
  static of(tok: TextTokenizer): ChatTemplate {
    return new ChatTemplate(tok.chatTemplate ?? CHATML_TEMPLATE, {
      bosToken: tok.bosToken,
      eosToken: tok.eosToken,
    });
  }

  render(messages: readonly ChatMessage[], opts: ChatRenderOptions = {}): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: this.specials.bosToken ?? '',
        eos_token: this.specials.eosToken,
        ...opts.extra,
      });
    } catch (err) {
      // @huggingface/jinja provides raise_exception itself; its message names the template's complaint.
      throw new RagspecError(`rendering the chat template failed: ${firstLine(err)}`, {
        code: 'bad_chat_template',
      });
    }
  }
}

/**
 * A conversation as prompt tokens, with the chat template's own markers as special tokens and
 * every message's content tokenized as plain text: `<|im_start|>system` typed by a user is
 * the characters it looks like, never a new turn. The template is rendered once with a
 * placeholder per message; the text between placeholders (the template's) is tokenized with
 * special tokens parsed, each content without.
 *
 * A template that transforms content (trims, escapes) cannot be split this way; such a
 * conversation is tokenized as one string with special tokens removed from the contents.
 */
export function encodeChat(
  tok: TextTokenizer,
  messages: readonly ChatMessage[],
  opts: ChatRenderOptions = {},
): number[] {
  const template = ChatTemplate.of(tok);
  const nonce = randomUUID();
  const marks = messages.map((_, i) => `\u0000${nonce}:${i}\u0000`);
  const rendered = template.render(
    messages.map((m, i) => ({ role: m.role, content: marks[i]! })),
    opts,
  );
  const pieces = rendered.split(new RegExp(`\u0000${nonce}:(\\d+)\u0000`));
  // split with one capture group: [template, index, template, index, …, template]
  const order = pieces.filter((_, k) => k % 2 === 1).map(Number);
  const verbatim =
    order.length === messages.length &&
    order.every((n, k) => n === k) &&
    pieces.map((p, k) => (k % 2 === 1 ? messages[Number(p)]!.content : p)).join('') ===
      template.render(messages, opts);
  if (!verbatim) {
    const cleaned = messages.map((m) => ({ role: m.role, content: stripSpecials(tok, m.content) }));
    return tok.encode(template.render(cleaned, opts));
  }
  const ids: number[] = [];
  pieces.forEach((p, k) => {
    if (k % 2 === 1) ids.push(...tok.encode(messages[Number(p)]!.content, { parseSpecial: false }));
    else if (p.length > 0) ids.push(...tok.encode(p));
  });
  return ids;
}

/** `text` with every special token's text removed (the fallback for content-transforming templates). */
function stripSpecials(tok: TextTokenizer, text: string): string {
  let out = text;
  for (const s of tok.specialTokenTexts()) out = out.split(s).join('');
  return out;
}

/** Render a conversation with a tokenizer's chat template. */
export function renderChat(
  tok: TextTokenizer,
  messages: readonly ChatMessage[],
  opts: ChatRenderOptions = {},
): string {
  return ChatTemplate.of(tok).render(messages, opts);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
