/**
 * Errors a user can act on. The CLI prints `message` (and `hint`) on one line and exits
 * non-zero without a stack trace; the HTTP layer maps `status` into its error envelope.
 */
export class RagspecError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly status: number;

  constructor(
    message: string,
    opts: { code?: string; hint?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RagspecError';
    this.code = opts.code ?? 'ragspec_error';
    this.hint = opts.hint;
    this.status = opts.status ?? 500;
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
    super(`${file}: ${problem}`, { code: 'bad_file', hint, status: 400 });
    this.name = 'BadFileError';
    this.file = file;
  }
}

/** A required asset (model, index) is missing; the hint says how to get it. */
export class MissingAssetError extends RagspecError {
  constructor(what: string, hint: string) {
    super(`${what} is missing`, { code: 'missing_asset', hint, status: 503 });
    this.name = 'MissingAssetError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof RagspecError) return err.oneLine();
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
