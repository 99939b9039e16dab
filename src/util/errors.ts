/**
 * What kind of problem an error is, independent of how it is reported. Lower layers say
 * only this; the HTTP layer maps kinds to statuses in one table (src/api/errors.ts), the CLI
 * prints the one-line message.
 * - `bad_input`: the caller's input (arguments, a file, a request, the config) is wrong;
 * - `not_found`: something the caller named does not exist;
 * - `conflict`: the resource is busy or in a state that forbids this (a write lock, read-only);
 * - `unavailable`: a needed asset or service is not there yet (retry or set it up);
 * - `internal`: anything else.
 */
export type ErrorKind = 'bad_input' | 'not_found' | 'conflict' | 'unavailable' | 'internal';

/**
 * Errors a user can act on. The CLI prints `message` (and `hint`) on one line and exits
 * non-zero without a stack trace; the HTTP layer maps `kind` into its error envelope.
 */
export class RagspecError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly kind: ErrorKind;

  constructor(
    message: string,
    opts: { code?: string; hint?: string; kind?: ErrorKind; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RagspecError';
    this.code = opts.code ?? 'ragspec_error';
    this.hint = opts.hint;
    this.kind = opts.kind ?? 'internal';
  }

  /** One line: the problem, then how to fix it. */
  oneLine(): string {
    const msg = this.message.replace(/\s*\n\s*/g, ' ');
    return this.hint ? `${msg} — ${this.hint}` : msg;
  }
}

/** A file on disk is not what we expected (truncated, wrong format, unsupported). */
export class BadFileError extends RagspecError {
  readonly file: string;
  constructor(file: string, problem: string, hint?: string) {
    super(`${file}: ${problem}`, { code: 'bad_file', hint, kind: 'bad_input' });
    this.name = 'BadFileError';
    this.file = file;
  }
}

/** A required asset (model, index) is missing; the hint says how to get it. */
export class MissingAssetError extends RagspecError {
  constructor(what: string, hint: string) {
    super(`${what} is missing`, { code: 'missing_asset', hint, kind: 'unavailable' });
    this.name = 'MissingAssetError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof RagspecError) return err.oneLine();
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
