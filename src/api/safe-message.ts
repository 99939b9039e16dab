/**
 * Client-safe error text. Messages are written for operators (they name files, folders and
 * processes so the log says what broke); a client gets the same sentence with those details
 * cut out. The full text stays in the server log. Called from the one error handler, the SSE
 * error event and /readyz.
 */
import type { ApiError, ErrorEnvelope } from './errors.ts';

/**
 * Extensions of the server's own files (models, indexes, stores, locks). Not .md/.txt: those
 * are the documents' own names, which the client sent and may see.
 */
const FILE_EXT = 'onnx|gguf|bin|sqlite|sqlite3|db|wal|shm|hnsw|idx|lock|safetensors|pid';

/** Our own routes look like absolute paths; they stay readable. */
const ROUTE = '(?!v1(?:/|\\b)|healthz\\b|readyz\\b|metrics\\b|analytics\\b)';

const RULES: [RegExp, string][] = [
  // file: URLs and absolute POSIX paths (a leading / then at least one more segment).
  [/file:\/\/\S+/g, '<path>'],
  [new RegExp(`(^|[\\s("'=\`])/${ROUTE}(?:[^\\s/"'\`):]+/)*[^\\s/"'\`):]+/?`, 'g'), '$1<path>'],
  // Windows paths: C:\…, \\server\share\….
  [/\b[A-Za-z]:\\[^\s"'`)]*/g, '<path>'],
  [/\\\\[^\s"'`)]+/g, '<path>'],
  // Home-relative paths.
  [/(^|[\s("'=`])~\/[^\s"'`)]*/g, '$1<path>'],
  // Process ids.
  [/\bpid[\s:=#]*\d+/gi, 'another process'],
  // Bare file names with a known extension (relative paths included).
  [new RegExp(`(^|[\\s("'=\`])[\\w.-]+(?:/[\\w.-]+)*\\.(?:${FILE_EXT})\\b`, 'gi'), '$1<file>'],
];

export function safeMessage(text: string): string {
  let out = text.split('\n')[0] ?? '';
  for (const [re, to] of RULES) out = out.replace(re, to);
  return out.replace(/(<path>|<file>)(:\s*\1)+/g, '$1').trim();
}

/** The error envelope a client sees for `err`: its message made safe. */
export function safeEnvelope(err: ApiError): ErrorEnvelope {
  const body = err.toJSON();
  return { error: { ...body.error, message: safeMessage(body.error.message) } };
}
