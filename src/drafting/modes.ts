/**
 * Decode modes, defined once: which draft sources a request uses. The type, the config and
 * HTTP schemas, the CLI flag check and the source factory all read this list.
 * - `ar`: no drafts (plain autoregressive decoding through the same loop);
 * - `reference`: spans copied from the passages, the prompt and the output so far;
 * - `model`: a drafter model;
 * - `hybrid`: reference and the history datastore (the target's past outputs), the drafter
 *   model where those have nothing.
 */
export const DECODE_MODES = ['ar', 'reference', 'model', 'hybrid'] as const;

export type DecodeMode = (typeof DECODE_MODES)[number];

export function isDecodeMode(v: string): v is DecodeMode {
  return (DECODE_MODES as readonly string[]).includes(v);
}
