/**
 * Who may call what, checked before any body is read:
 * - `requireKey`: with `server.apiKey` set, every route except PUBLIC_PATHS needs
 *   `Authorization: Bearer <key>` (reads too: documents, analytics, the dashboard).
 * - `hostGuard`: a server bound to a loopback address answers only requests addressed to a
 *   loopback name, so a web page that rebinds its own DNS name to 127.0.0.1 cannot reach it.
 * - `originGuard`: write methods from a browser must be same-origin. Browsers send Origin on
 *   every cross-origin POST, including the `text/plain` form posts that skip CORS preflight.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ApiError, AuthenticationError } from './errors.ts';

/** Routes that answer without the key: liveness, readiness, the model list, and metrics (counts only, no user text). */
export const PUBLIC_PATHS: readonly RegExp[] = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/metrics$/,
  /^\/v1\/models(\/[^/]+)?$/,
];

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isPublicPath(p: string): boolean {
  return PUBLIC_PATHS.some((re) => re.test(p));
}

export function keyMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function requireKey(key: string | null): RequestHandler {
  return (req, _res, next) => {
    if (!key || isPublicPath(req.path) || keyMatches(req.headers.authorization, key)) return next();
    next(new AuthenticationError());
  };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`. */
function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.split(':')[0]!;
}

function forbidden(message: string, code: string): ApiError {
  return new ApiError(403, 'invalid_request_error', message, { code });
}

export function hostGuard(boundHost: string): RequestHandler {
  const check = isLoopbackHost(boundHost);
  return (req, _res, next) => {
    if (!check) return next();
    const host = req.headers.host;
    if (host && isLoopbackHost(hostName(host))) return next();
    next(
      forbidden(
        'this server listens on loopback only and answers only requests addressed to localhost — use http://127.0.0.1:<port>',
        'host_not_allowed',
      ),
    );
  };
}

function sameOrigin(req: Request, origin: string): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  return o.host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
}

export const originGuard: RequestHandler = (req, _res, next) => {
  if (!WRITE_METHODS.has(req.method)) return next();
  const origin = req.headers.origin;
  if (origin === undefined || sameOrigin(req, origin)) return next();
  next(
    forbidden(
      'cross-origin writes are refused — call the API from a server-side client, not from a web page',
      'cross_origin',
    ),
  );
};
