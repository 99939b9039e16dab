/**
 * `npm run bench:peer` — ragspec against llama.cpp (node-llama-cpp, prebuilt CPU binary) on
 * the same GGUF and exactly the prompt `ragspec ask` builds for each question (retrieval,
 * numbered passages, chat template), greedy, same thread count. Engines are interleaved per
 * question (the order rotates) after an untimed warm-up, so machine noise hits all alike.
 * Prints medians and per-question ratios vs llama.cpp plain as markdown; see --help.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { prepareAnswer } from '../src/answer/answer.ts';
import { loadEngine } from '../src/engine/load.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';
import { LlamaCppPeer } from './peer-llamacpp.ts';
import { runRagspec } from './peer-ragspec.ts';
import {
  PEER_ENGINES,
  PLAIN_OF,
  sameTokens,
  summaryMarkdown,
  type EngineRun,
  type PeerDocument,
  type PeerEngine,
  type QuestionResult,
  type TimedRun,
} from './peer-report.ts';

const HELP = `npm run bench:peer -- [options]

ragspec (ar, reference, hybrid) vs llama.cpp (plain, prompt lookup) on the same GGUF and prompts.

  --limit N         questions to run (default: all)
  --max-tokens N    most new tokens per answer (default 128)
  --threads N       threads for both engines (default: ${os.availableParallelism()}, this machine's cores)
  --k N             passages retrieved per question, as \`ragspec ask -k\` (default 4)
  --questions FILE  JSONL with {"id", "question"} per line (default ../shared/eval/npm-docs-dev.jsonl)
  --json FILE       write {machine, threads, questions: [{id, prompt, prompt_tokens, engines}]}
  --help            this text`;

const Question = z.object({ id: z.string(), question: z.string().min(1) });

function fail(msg: string): never {
  console.error(`bench:peer: ${msg}`);
  process.exit(2);
}

function positive(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

function readQuestions(file: string, limit: number): z.infer<typeof Question>[] {
  if (!fs.existsSync(file))
    fail(`no questions file at ${file} — pass --questions FILE (JSONL: id, question)`);
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const items = lines.slice(0, limit).map((l, i) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(l);
    } catch {
      fail(`${file} line ${i + 1} is not JSON — one {"id", "question"} object per line`);
    }
    const r = Question.safeParse(parsed);
    if (!r.success) fail(`${file} line ${i + 1} needs a string "id" and a non-empty "question"`);
    return r.data;
  });
  if (items.length === 0) fail(`${file} has no questions`);
  return items;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        limit: { type: 'string' },
        'max-tokens': { type: 'string' },
        threads: { type: 'string' },
        k: { type: 'string' },
        questions: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message} — see --help`);
  }
  if (values.help) {
    console.log(HELP);
    return;
  }
  const limit = positive(values.limit, 'limit', Infinity);
  const maxTokens = positive(values['max-tokens'], 'max-tokens', 128);
  const threads = positive(values.threads, 'threads', os.availableParallelism());
  const k = positive(values.k, 'k', 4);
  const items = readQuestions(
    values.questions ?? path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl'),
    limit,
  );
  const gguf = path.join(paths.targetModel(), 'model.gguf');
  if (!fs.existsSync(gguf)) fail(`no model at ${gguf} — run \`npx ragspec setup\` first`);

  // 1. The prompts `ragspec ask` builds: retrieve, number the passages, render the chat template.
  const engine = await loadEngine({ threads });
  const corpus = await openCorpus(paths.data(), { readOnly: true });
  const prompts = [];
  try {
    for (const item of items) {
      const { request, passages } = await prepareAnswer(corpus, {
        question: item.question,
        k,
        maxTokens,
        sampling: { temperature: 0 },
        mode: 'ar',
      });
      const messages = request.messages!;
      prompts.push({
        ...item,
        req: { messages, passages },
        text: engine.renderChat(messages),
        ids: engine.promptTokens({ messages }),
      });
    }
  } finally {
    await corpus.close();
  }
  const longest = Math.max(...prompts.map((p) => p.ids.length));
  const peer = await LlamaCppPeer.load(gguf, threads, longest + maxTokens + 16);
  const tokenizer = engine.tokenizer;
  const llamaOpts = { eosIds: tokenizer.eosIds, decode: (ids: readonly number[]) => tokenizer.decode(ids) };

  type Prompt = (typeof prompts)[number];
  const run = (e: PeerEngine, p: Prompt, n: number): Promise<TimedRun> => {
    switch (e) {
      case 'ragspec-ar':
        return runRagspec(engine, p.req, 'ar', n);
      case 'ragspec-reference':
        return runRagspec(engine, p.req, 'reference', n);
      case 'ragspec-hybrid':
        return runRagspec(engine, p.req, 'hybrid', n);
      case 'llamacpp-ar':
        return peer.run(p.ids, { ...llamaOpts, lookup: false, maxTokens: n });
      case 'llamacpp-lookup':
        return peer.run(p.ids, { ...llamaOpts, lookup: true, maxTokens: n });
    }
  };

  // 2. Untimed warm-up: every engine once on the first prompt (sessions, threads, caches).
  for (const e of PEER_ENGINES) await run(e, prompts[0]!, Math.min(8, maxTokens));

  // 3. Timed runs, engines interleaved per question, the order rotated so none always goes first.
  const loadStart = os.loadavg();
  const questions: QuestionResult[] = [];
  const identical: Partial<Record<PeerEngine, number>> = {};
  let tokenCountsMatch = 0;
  let ragspecMismatches = 0;
  for (const [qi, p] of prompts.entries()) {
    const runs = new Map<PeerEngine, TimedRun>();
    for (let i = 0; i < PEER_ENGINES.length; i++) {
      const e = PEER_ENGINES[(i + qi) % PEER_ENGINES.length]!;
      runs.set(e, await run(e, p, maxTokens));
    }
    for (const [e, plain] of Object.entries(PLAIN_OF) as [PeerEngine, PeerEngine][]) {
      if (sameTokens(runs.get(e)!.tokens, runs.get(plain)!.tokens)) identical[e] = (identical[e] ?? 0) + 1;
      else if (e.startsWith('ragspec-')) {
        ragspecMismatches++;
        console.error(`MISMATCH ${p.id} ${e}: output differs from ${plain}`);
      }
    }
    if (peer.tokenCount(p.text) === p.ids.length) tokenCountsMatch++;
    const engines = Object.fromEntries(
      PEER_ENGINES.map((e) => {
        const { tokens: _ids, ...out } = runs.get(e)!;
        return [e, out];
      }),
    ) as Record<PeerEngine, EngineRun>;
    questions.push({ id: p.id, prompt: p.text, prompt_tokens: p.ids.length, engines });
    const line = PEER_ENGINES.map((e) => `${e} ${engines[e].decode_tok_s.toFixed(1)}`).join(' | ');
    console.error(
      `[${qi + 1}/${prompts.length}] ${p.id} ${p.ids.length} prompt tokens, decode tok/s: ${line}`,
    );
  }

  const cpus = os.cpus();
  const doc: PeerDocument = {
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
      cores: cpus.length,
      node: process.version,
      load_start: loadStart,
      load_end: os.loadavg(),
    },
    threads,
    questions,
  };
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(doc, null, 1) + '\n');
  console.log(summaryMarkdown(doc, { identical, tokenCountsMatch, maxTokens }));
  await peer.dispose();
  await engine.dispose();
  if (ragspecMismatches > 0) {
    console.error(`bench:peer: ${ragspecMismatches} ragspec outputs differ from ragspec-ar — FAILED`);
    process.exitCode = 1;
  }
}

await main();
