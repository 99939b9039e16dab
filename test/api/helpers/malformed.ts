/** Malformed requests every ragspec server must refuse with a 4xx and the error envelope. */
export interface BadRequest {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** JSON-encoded unless `raw` is set. */
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  auth?: 'none' | 'wrong' | 'good';
  status: number;
  code?: string;
}

const long = (n: number) => 'word '.repeat(Math.ceil(n / 5)).slice(0, n);

export function malformedRequests(): BadRequest[] {
  const A = '/v1/answer';
  const C = '/v1/chat/completions';
  const D = '/v1/documents';
  const q = { question: 'What does npm ci do?' };
  const chat = { model: 'ragspec', messages: [{ role: 'user', content: 'hi' }] };
  return [
    { name: 'answer: body is not JSON', method: 'POST', path: A, raw: '{"question": ', contentType: 'application/json', status: 400, code: 'invalid_json' },
    { name: 'answer: body is a JSON array', method: 'POST', path: A, raw: '[1,2]', contentType: 'application/json', status: 400, code: 'invalid_body' },
    { name: 'answer: body is a JSON string', method: 'POST', path: A, raw: '"hello"', contentType: 'application/json', status: 400, code: 'invalid_body' },
    { name: 'answer: body is JSON null', method: 'POST', path: A, raw: 'null', contentType: 'application/json', status: 400, code: 'invalid_body' },
    { name: 'answer: body is a JSON number', method: 'POST', path: A, raw: '42', contentType: 'application/json', status: 400, code: 'invalid_body' },
    { name: 'answer: empty object', method: 'POST', path: A, body: {}, status: 400 },
    { name: 'answer: empty question', method: 'POST', path: A, body: { question: '' }, status: 400 },
    { name: 'answer: blank question', method: 'POST', path: A, body: { question: '   ' }, status: 400 },
    { name: 'answer: question is a number', method: 'POST', path: A, body: { question: 123 }, status: 400 },
    { name: 'answer: unknown field', method: 'POST', path: A, body: { ...q, colour: 'blue' }, status: 400 },
    { name: 'answer: top_k negative', method: 'POST', path: A, body: { ...q, top_k: -1 }, status: 400 },
    { name: 'answer: top_k over the cap', method: 'POST', path: A, body: { ...q, top_k: 1000 }, status: 400 },
    { name: 'answer: top_k fractional', method: 'POST', path: A, body: { ...q, top_k: 2.5 }, status: 400 },
    { name: 'answer: max_tokens 0', method: 'POST', path: A, body: { ...q, max_tokens: 0 }, status: 400 },
    { name: 'answer: max_tokens over the cap', method: 'POST', path: A, body: { ...q, max_tokens: 1_000_000 }, status: 400 },
    { name: 'answer: max_tokens as a string', method: 'POST', path: A, body: { ...q, max_tokens: '10' }, status: 400 },
    { name: 'answer: temperature negative', method: 'POST', path: A, body: { ...q, temperature: -1 }, status: 400 },
    { name: 'answer: temperature too high', method: 'POST', path: A, body: { ...q, temperature: 7 }, status: 400 },
    { name: 'answer: top_p 0', method: 'POST', path: A, body: { ...q, top_p: 0 }, status: 400 },
    { name: 'answer: top_p above 1', method: 'POST', path: A, body: { ...q, top_p: 1.5 }, status: 400 },
    { name: 'answer: seed negative', method: 'POST', path: A, body: { ...q, seed: -3 }, status: 400 },
    { name: 'answer: unknown mode', method: 'POST', path: A, body: { ...q, mode: 'turbo' }, status: 400 },
    { name: 'answer: stream not a boolean', method: 'POST', path: A, body: { ...q, stream: 'yes' }, status: 400 },
    { name: 'answer: too many stop strings', method: 'POST', path: A, body: { ...q, stop: ['a', 'b', 'c', 'd', 'e', 'f'] }, status: 400 },
    { name: 'answer: empty stop string', method: 'POST', path: A, body: { ...q, stop: '' }, status: 400 },
    { name: 'answer: question over the length limit', method: 'POST', path: A, body: { question: long(40_000) }, status: 400 },
    { name: 'answer: body over the size limit', method: 'POST', path: A, body: { question: long(3_000_000) }, status: 413, code: 'payload_too_large' },
    { name: 'answer: text/plain body', method: 'POST', path: A, raw: 'What does npm ci do?', contentType: 'text/plain', status: 415 },
    { name: 'answer: GET is not allowed', method: 'GET', path: A, status: 405 },
    { name: 'unknown route', method: 'GET', path: '/v1/nothing-here', status: 404 },
    { name: 'chat: model missing', method: 'POST', path: C, body: { messages: chat.messages }, status: 400 },
    { name: 'chat: unknown model', method: 'POST', path: C, body: { ...chat, model: 'gpt-9' }, status: 404, code: 'not_found' },
    { name: 'chat: no messages', method: 'POST', path: C, body: { ...chat, messages: [] }, status: 400 },
    { name: 'chat: unknown role', method: 'POST', path: C, body: { ...chat, messages: [{ role: 'robot', content: 'x' }] }, status: 400 },
    { name: 'chat: content is a number', method: 'POST', path: C, body: { ...chat, messages: [{ role: 'user', content: 5 }] }, status: 400 },
    { name: 'chat: n = 2', method: 'POST', path: C, body: { ...chat, n: 2 }, status: 400 },
    { name: 'chat: unknown stream_options key', method: 'POST', path: C, body: { ...chat, stream: true, stream_options: { include_usage: true, x: 1 } }, status: 400 },
    { name: 'chat: tools', method: 'POST', path: C, body: { ...chat, tools: [{ type: 'function' }] }, status: 400 },
    { name: 'chat: retrieval is a string', method: 'POST', path: C, body: { ...chat, retrieval: 'yes' }, status: 400 },
    {
      name: 'chat: prompt longer than the context window',
      method: 'POST',
      path: C,
      body: { ...chat, retrieval: false, messages: Array.from({ length: 4 }, () => ({ role: 'user', content: long(30_000) })) },
      status: 400,
      code: 'context_length_exceeded',
    },
    { name: 'chat: max_tokens does not fit beside the prompt', method: 'POST', path: C, body: { ...chat, retrieval: false, messages: [{ role: 'user', content: long(20_000) }], max_tokens: 8000 }, status: 400, code: 'context_length_exceeded' },
    { name: 'documents: path escapes with ..', method: 'POST', path: D, body: { path: '../../etc/passwd', text: 'x' }, status: 400 },
    { name: 'documents: absolute path', method: 'POST', path: D, body: { path: '/etc/passwd', text: 'x' }, status: 400 },
    { name: 'documents: dot segment', method: 'POST', path: D, body: { path: 'a/./b.md', text: 'x' }, status: 400 },
    { name: 'documents: backslash path', method: 'POST', path: D, body: { path: 'a\\..\\b.md', text: 'x' }, status: 400 },
    { name: 'documents: empty text', method: 'POST', path: D, body: { path: 'a.md', text: '' }, status: 400 },
    { name: 'documents: missing path', method: 'POST', path: D, body: { text: 'hello' }, status: 400 },
    { name: 'documents: duplicate path in one request', method: 'POST', path: D, body: { documents: [{ path: 'a.md', text: 'x' }, { path: 'a.md', text: 'y' }] }, status: 400 },
    { name: 'documents: text body without ?path', method: 'POST', path: D, raw: 'hello', contentType: 'text/plain', status: 400 },
    { name: 'documents: text body with ../ path', method: 'POST', path: `${D}?path=..%2Fx.md`, raw: 'hello', contentType: 'text/plain', status: 400 },
    { name: 'documents: id with ..', method: 'GET', path: `${D}/..%2F..%2Fetc`, status: 400 },
    { name: 'documents: unknown id', method: 'GET', path: `${D}/f-0000000000000000`, status: 404 },
    { name: 'documents: delete unknown id', method: 'DELETE', path: `${D}/f-0000000000000000`, status: 404 },
    { name: 'documents: limit 0', method: 'GET', path: `${D}?limit=0`, status: 400 },
    { name: 'documents: limit not a number', method: 'GET', path: `${D}?limit=abc`, status: 400 },
    { name: 'documents: DELETE on the collection is not allowed', method: 'DELETE', path: D, status: 405 },
    { name: 'analytics: bad window', method: 'GET', path: '/v1/analytics?window=forever', status: 400 },
    { name: 'analytics: unknown parameter', method: 'GET', path: '/v1/analytics?colour=blue', status: 400 },
    { name: 'models: unknown id', method: 'GET', path: '/v1/models/gpt-9', status: 404 },
    { name: 'auth: ingest without a key', method: 'POST', path: D, body: { path: 'x.md', text: 'x' }, auth: 'none', status: 401 },
    { name: 'auth: ingest with a wrong key', method: 'POST', path: D, body: { path: 'x.md', text: 'x' }, auth: 'wrong', status: 401 },
    { name: 'auth: delete without a key', method: 'DELETE', path: `${D}/f-0000000000000000`, auth: 'none', status: 401 },
    { name: 'auth: answer without a key', method: 'POST', path: A, body: q, auth: 'none', status: 401 },
  ];
}
