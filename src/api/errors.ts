/**
 * Typed HTTP errors. Every error the service answers with is one of these, rendered in one
 * envelope — the OpenAI one, `{error: {message, type, param, code}}` — so that OpenAI
 * clients and our own routes read failures the same way. No stack trace ever leaves here.
 */
import { RagspecError, type ErrorKind } from '../util/errors.ts';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout_error';

export interface ErrorEnvelope {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    type: ErrorType,
    message: string,
    opts: { param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  toJSON(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = 'invalid_request') {
    super(400, 'invalid_request_error', message, { param, code });
  }
}

/** Prompt (plus requested completion) does not fit the model's context window. */
export class ContextLengthError extends ApiError {
  constructor(promptTokens: number, maxTokens: number, contextLength: number) {
    super(
      400,
      'invalid_request_error',
      `prompt is ${promptTokens} tokens and max_tokens is ${maxTokens}, but the model's context window is ${contextLength} tokens — shorten the messages, lower top_k or max_tokens`,
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
}

export class AuthenticationError extends ApiError {
  constructor(message = 'missing or wrong API key — send `Authorization: Bearer <key>`') {
    super(401, 'authentication_error', message, {
      code: 'invalid_api_key',
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string, param: string | null = null) {
    super(404, 'not_found_error', message, { param, code: 'not_found' });
  }
}

export class MethodNotAllowedError extends ApiError {
  constructor(method: string, path: string) {
    super(405, 'invalid_request_error', `${method} is not allowed on ${path}`, {
      code: 'method_not_allowed',
    });
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limit: string) {
    super(
      413,
      'invalid_request_error',
      `request body is larger than the ${limit} limit — send less text per request`,
      {
        code: 'payload_too_large',
      },
    );
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(got: string) {
    super(415, 'invalid_request_error', `unsupported Content-Type ${got} — send application/json`, {
      code: 'unsupported_media_type',
    });
  }
}

/** The model worker's queue is full: come back later. */
export class QueueFullError extends ApiError {
  constructor(retryAfterSeconds: number, queueSize: number) {
    super(
      429,
      'rate_limit_error',
      `the generation queue is full (${queueSize} waiting; expected wait ${retryAfterSeconds}s) — retry after ${retryAfterSeconds}s`,
      {
        code: 'queue_full',
        headers: { 'Retry-After': String(retryAfterSeconds) },
      },
    );
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(message: string, code = 'unavailable', retryAfterSeconds?: number) {
    super(503, 'service_unavailable', message, {
      code,
      headers: retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

export class RequestTimeoutError extends ApiError {
  constructor(ms: number) {
    super(
      504,
      'timeout_error',
      `generation did not finish within ${ms} ms — lower max_tokens or raise server.requestTimeoutMs`,
      {
        code: 'timeout',
      },
    );
  }
}

export class InternalError extends ApiError {
  constructor(message = 'internal error — see the server log') {
    super(500, 'server_error', message, { code: 'internal_error' });
  }
}

/** The one table from the error kinds lower layers throw to HTTP statuses and envelope types. */
export const HTTP_OF_KIND: Record<ErrorKind, { status: number; type: ErrorType }> = {
  bad_input: { status: 400, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'not_found_error' },
  conflict: { status: 409, type: 'invalid_request_error' },
  unavailable: { status: 503, type: 'service_unavailable' },
  internal: { status: 500, type: 'server_error' },
};

/**
 * Anything thrown in a handler → an ApiError. RagspecErrors keep their one-line message
 * (they are written for users) and get the status of their kind; unknown errors become a
 * bare 500 (the log has it).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof RagspecError) {
    const { status, type } = HTTP_OF_KIND[err.kind];
    return new ApiError(status, type, err.oneLine(), { code: err.code });
  }
  // body-parser errors carry `status`/`type`.
  const e = err as { status?: number; type?: string; message?: string; limit?: number } | null;
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.type === 'entity.too.large') return new PayloadTooLargeError(`${e.limit ?? '?'} bytes`);
    if (e.type === 'entity.parse.failed')
      return new BadRequestError('request body is not valid JSON', null, 'invalid_json');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
      return new ApiError(415, 'invalid_request_error', e.message ?? 'unsupported encoding', {
        code: 'unsupported_encoding',
      });
    return new ApiError(e.status, 'invalid_request_error', (e.message ?? 'bad request').split('\n')[0]!, {
      code: 'bad_request',
    });
  }
  return new InternalError();
}
