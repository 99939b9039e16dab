/**
 * The official `openai` npm client, pointed at the server's baseURL, works streaming and
 * non-streaming, and the concatenated stream equals the non-streamed answer for the same
 * seed (greedy and sampled).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';

let srv: RunningServer;
let client: OpenAI;
const KEY = 'openai-client-key';

beforeAll(async () => {
  const dataDir = tmpDataDir('openai');
  await makeTestCorpus(dataDir);
  srv = await startTestServer({ dataDir, backend: testBackend, overrides: { server: { apiKey: KEY } } });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: KEY, maxRetries: 0 });
});

afterAll(async () => {
  await srv?.shutdown('test done');
  removeTmpDirs();
});

const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'Answer briefly.' },
  { role: 'user', content: 'What does npm ci do?' },
];

async function both(params: { temperature?: number; top_p?: number; seed?: number }) {
  const plain = await client.chat.completions.create({
    model: 'ragspec',
    messages,
    max_tokens: 12,
    ...params,
  });
  const stream = await client.chat.completions.create({
    model: 'ragspec',
    messages,
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
    ...params,
  });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    if (chunk.choices.length === 0) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { plain, text, finish, usage };
}

describe('openai npm client', () => {
  it('lists models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('ragspec');
  });

  it('greedy: the stream concatenates to the non-streamed answer', async () => {
    const { plain, text, finish, usage } = await both({ temperature: 0 });
    expect(plain.object).toBe('chat.completion');
    const content = plain.choices[0]!.message.content!;
    expect(content.length).toBeGreaterThan(0);
    expect(text).toBe(content);
    expect(finish).toBe(plain.choices[0]!.finish_reason);
    expect(usage).toEqual(plain.usage);
  });

  it('sampling with a seed: the stream concatenates to the non-streamed answer', async () => {
    const { plain, text, usage } = await both({ temperature: 0.8, top_p: 0.95, seed: 1234 });
    expect(text).toBe(plain.choices[0]!.message.content);
    expect(usage?.completion_tokens).toBe(plain.usage?.completion_tokens);
  });

  it('surfaces errors as APIError with the OpenAI envelope', async () => {
    await expect(client.chat.completions.create({ model: 'gpt-9', messages })).rejects.toMatchObject({
      status: 404,
      type: 'not_found_error',
    });
    await expect(
      client.chat.completions.create({ model: 'ragspec', messages, max_tokens: 10_000_000 }),
    ).rejects.toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      param: 'max_tokens',
    });
    const bad = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'ragspec', messages })).rejects.toMatchObject({
      status: 401,
    });
  });
});
