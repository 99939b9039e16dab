/** zod → BadRequestError with the offending field as `param` and a one-line message. */
import type { z } from 'zod';
import { BadRequestError } from './errors.ts';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError(
      'request body must be a JSON object (send Content-Type: application/json)',
      null,
      'invalid_body',
    );
  }
  return parseWith(schema, body);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  else if (issue.code === 'invalid_union' && param) message = `${param} has the wrong shape or type`;
  throw new BadRequestError(param ? `${param}: ${message}` : message, param, 'invalid_value');
}
