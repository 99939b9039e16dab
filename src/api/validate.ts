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

/** `name`: the param a bare value (a route parameter such as `:id`) is reported as. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, name?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = [...(name ? [name] : []), ...issue.path.map(String)].join('.') || null;
  // an unknown field is named by its key (the issue's path is the object holding it)
  const param = issue.code === 'unrecognized_keys' ? [at, issue.keys[0]].filter(Boolean).join('.') : at;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  else if (issue.code === 'invalid_union' && param) message = `${param} has the wrong shape or type`;
  throw new BadRequestError(at ? `${at}: ${message}` : message, param, 'invalid_value');
}
