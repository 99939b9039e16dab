/**
 * Request schemas: the single source of both the request types and their checks. Caps
 * (max_tokens, top_k, stop strings) come from the config, so the schemas are built per app.
 */
import { z } from 'zod';
import type { RagspecConfig } from '../config/schema.ts';
import { DECODE_MODES } from '../drafting/modes.ts';

export interface Limits {
  maxTokensCap: number;
  topKCap: number;
  maxStopStrings: number;
  maxStopLength: number;
}

export function limitsFrom(cfg: RagspecConfig): Limits {
  return {
    maxTokensCap: cfg.generation.maxTokensCap,
    topKCap: cfg.retrieval.topKCap,
    maxStopStrings: cfg.generation.maxStopStrings,
    maxStopLength: cfg.generation.maxStopLength,
  };
}

/** Longest question / message we take; the context-window check catches the rest in tokens. */
export const MAX_TEXT_CHARS = 32_000;

/**
 * Longest conversation (all messages, all parts) we take. Counting its prompt tokens and
 * building its retrieval query run before the queue, so this bounds the work a request can
 * cause before it waits its turn; four full messages is far beyond any context window.
 */
export const MAX_CONVERSATION_CHARS = 4 * MAX_TEXT_CHARS;

type Content = string | { text: string }[];
const contentLength = (c: Content): number =>
  typeof c === 'string' ? c.length : c.reduce((n, p) => n + p.text.length, 0);

/**
 * A document path as stored in the corpus: relative, forward slashes, no `.`/`..` segments,
 * printable characters only. It is a name in the store, never joined onto a filesystem path.
 */
export const DocPath = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9 _.\-/]*$/,
    'use letters, digits, space, _ . - and / (relative, no leading /)',
  )
  .refine(
    (p) => !p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..'),
    'no empty, . or .. path segments',
  );

/** Document ids as the corpus hands them out (hex hashes, slugs). */
export const DocId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'a document id is letters, digits, _ . : -')
  .refine((s) => !s.includes('..'), 'no ".." in ids');

export function makeSchemas(limits: Limits) {
  const maxTokens = z.number().int().min(1).max(limits.maxTokensCap);
  const temperature = z.number().min(0).max(2);
  const topP = z.number().gt(0).max(1);
  const seed = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
  const mode = z.enum(DECODE_MODES);
  const stop = z.union([
    z.string().min(1).max(limits.maxStopLength),
    z.array(z.string().min(1).max(limits.maxStopLength)).max(limits.maxStopStrings),
  ]);
  const topK = z.number().int().min(0).max(limits.topKCap);
  // Repetition penalties (src/verify/penalties.ts): OpenAI's range for frequency/presence.
  const penalty = z.number().min(-2).max(2);
  const repetitionPenalty = z.number().gt(0, 'repetition_penalty must be > 0 (1 = off)').max(10);

  const Answer = z.strictObject({
    question: z.string().trim().min(1, 'question must not be empty').max(MAX_TEXT_CHARS),
    /** Passages retrieved for the prompt and as draft references; 0 turns retrieval off. */
    top_k: topK.optional(),
    max_tokens: maxTokens.optional(),
    temperature: temperature.optional(),
    top_p: topP.optional(),
    seed: seed.optional(),
    frequency_penalty: penalty.optional(),
    presence_penalty: penalty.optional(),
    repetition_penalty: repetitionPenalty.optional(),
    mode: mode.optional(),
    stream: z.boolean().optional(),
    stop: stop.optional(),
    path_prefix: z.string().max(256).optional(),
  });

  const textPart = z.object({ type: z.literal('text'), text: z.string().max(MAX_TEXT_CHARS) });
  const Message = z.object({
    role: z.enum(['system', 'developer', 'user', 'assistant']),
    content: z
      .union([z.string().max(MAX_TEXT_CHARS), z.array(textPart).min(1).max(64)])
      .refine(
        (c) => contentLength(c) <= MAX_TEXT_CHARS,
        `a message's text parts together must be at most ${MAX_TEXT_CHARS} characters`,
      ),
    name: z.string().max(64).optional(),
  });

  /**
   * OpenAI chat completions. Loose (clients send fields we do not use: user, metadata …),
   * but every field we honour is checked, the penalties included (`repetition_penalty` is
   * the extension vLLM and TGI also take). `retrieval` is our extension:
   * `false` turns retrieval off for the request; an object sets its top_k / path_prefix.
   */
  const Chat = z.looseObject({
    model: z.string().min(1).max(256),
    messages: z
      .array(Message)
      .min(1)
      .max(256)
      .refine(
        (ms) => ms.reduce((n, m) => n + contentLength(m.content), 0) <= MAX_CONVERSATION_CHARS,
        `the messages together must be at most ${MAX_CONVERSATION_CHARS} characters — send less text`,
      ),
    max_tokens: maxTokens.nullish(),
    max_completion_tokens: maxTokens.nullish(),
    temperature: temperature.nullish(),
    top_p: topP.nullish(),
    seed: seed.nullish(),
    frequency_penalty: penalty.nullish(),
    presence_penalty: penalty.nullish(),
    repetition_penalty: repetitionPenalty.nullish(),
    stop: stop.nullish(),
    n: z.literal(1).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
    mode: mode.optional(),
    retrieval: z
      .union([
        z.boolean(),
        z.strictObject({ top_k: topK.optional(), path_prefix: z.string().max(256).optional() }),
      ])
      .optional(),
    logprobs: z.literal(false).nullish(),
    tools: z.array(z.unknown()).max(0, 'tools are not supported').nullish(),
  });

  const DocumentInput = z.strictObject({
    path: DocPath,
    text: z.string().min(1, 'text must not be empty'),
    title: z.string().max(512).optional(),
    /** How to read `text`: markdown (default) or plain text. */
    format: z.enum(['markdown', 'text']).optional(),
  });
  const Documents = z.union([
    z.strictObject({ documents: z.array(DocumentInput).min(1).max(1000) }),
    DocumentInput,
  ]);

  const DocumentList = z.strictObject({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    prefix: z.string().max(256).optional(),
  });

  const Analytics = z.strictObject({
    window: z
      .string()
      .regex(/^(all|\d{1,6}[smhd])$/, 'window is "all" or a number with s, m, h or d (e.g. 15m, 24h, 7d)')
      .optional(),
    recent: z.coerce.number().int().min(0).max(200).optional(),
  });

  return { Answer, Chat, Documents, DocumentInput, DocumentList, Analytics };
}

export type Schemas = ReturnType<typeof makeSchemas>;
export type AnswerBody = z.infer<Schemas['Answer']>;
export type ChatBody = z.infer<Schemas['Chat']>;
export type DocumentsBody = z.infer<Schemas['Documents']>;
export type DocumentInputBody = z.infer<Schemas['DocumentInput']>;

/** Window string → milliseconds (null = all time). */
export function windowMs(w: string | undefined): number | null {
  if (w === undefined || w === 'all') return null;
  const n = Number(w.slice(0, -1));
  const unit = w.slice(-1);
  return n * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[unit as 's' | 'm' | 'h' | 'd'];
}
