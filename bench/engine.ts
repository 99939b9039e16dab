/**
 * `npm run bench` — the speculative engine over the dev set, in one process, modes
 * interleaved per question (so machine noise hits every mode alike):
 * decode tok/s per mode and speedup vs `ar`, tokens per target forward, acceptance by
 * source, tree sizes, time shares; an identical-output check that FAILS the run on any
 * difference from `ar`; and the same greedy generation in @huggingface/transformers on the
 * Optimum export of the same model (the peer a TypeScript user would otherwise pick).
 * Writes the Engine section of docs/BENCHMARKS.md and docs/speedup.svg.
 *
 * Accepted tokens are broken down by every draft source kind that drafted (passage, prompt,
 * output, recycling, history, model), with the passage copy rate (answer characters copied
 * from the passages). History recording is off (`recordHistory: false`): no run feeds the next.
 * `--fresh` measures instead with a fresh `ragspec ask` process per question per mode
 * (bench/engine-fresh.ts) and writes the "Engine, fresh process per question" section.
 *
 * Flags: --limit N (questions), --max-tokens N (128), --k N (passages, 4),
 *        --modes ar,reference,hybrid (add model with a --drafter), --model DIR, --drafter none|self|DIR,
 *        --fresh,
 *        --drafter-variant NAME, --model-every N (mode `model` on every Nth question only),
 *        --no-peer, --no-subsets, --no-write, --json FILE, --render FILE (re-render a saved run)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from '../src/engine/engine.ts';
import { loadEngine } from '../src/engine/load.ts';
import { completeAnswer, prepareAnswer, type PassageSearch } from '../src/answer/answer.ts';
import type { DecodeMode, GenerationResult } from '../src/engine/types.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';
import { renderReport, type QuestionRun, type PeerRun } from './engine-report.ts';
import { drafterAgreement, subsetsMarkdown, type SubsetResult } from './drafter-agreement.ts';
import { freshMarkdown, runFresh } from './engine-fresh.ts';

/** Keeps the history datastore (when the engine has one) out of the measurement. */
const NO_HISTORY = { recordHistory: false };

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const has = (name: string): boolean => process.argv.includes(`--${name}`);

async function main(): Promise<void> {
  // --render FILE: re-render docs from a saved --json run (no model runs)
  const saved = flag('render');
  if (saved) {
    const j = JSON.parse(fs.readFileSync(saved, 'utf8')) as {
      questions: QuestionRun[];
      peer: PeerRun | null;
      modes: DecodeMode[];
      meta: Parameters<typeof renderReport>[3];
    };
    const report = renderReport(j.questions, j.modes, j.peer, j.meta);
    console.log(report.markdown);
    if (!has('no-write')) {
      writeSection(path.join(repoRoot, 'docs', 'BENCHMARKS.md'), report.markdown);
      fs.writeFileSync(path.join(repoRoot, 'docs', 'speedup.svg'), report.svg);
    }
    return;
  }
  const limit = Number(flag('limit') ?? Infinity);
  const maxTokens = Number(flag('max-tokens') ?? 128);
  const k = Number(flag('k') ?? 4);
  // mode `model` costs ~3 AR runs with SmolLM2's useless layer-subset drafter: every Nth question
  const modelEvery = Math.max(1, Number(flag('model-every') ?? 1));
  const modes = (
    flag('modes') ?? (flag('drafter') ? 'ar,reference,model,hybrid' : 'ar,reference,hybrid')
  ).split(',') as DecodeMode[];
  if (!modes.includes('ar')) modes.unshift('ar');
  const modelDir = flag('model') ?? paths.targetModel();
  const evalFile = path.join(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
  const items = fs
    .readFileSync(evalFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; question: string })
    .slice(0, limit);

  if (has('fresh')) {
    const runs = runFresh(items, modes, k, maxTokens, flag('drafter') ? ['--drafter', flag('drafter')!] : []);
    const md = freshMarkdown(
      runs,
      modes,
      k,
      maxTokens,
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(', '),
    );
    console.log(md);
    if (flag('json')) fs.writeFileSync(flag('json')!, JSON.stringify({ runs, modes }, null, 1));
    if (!has('no-write'))
      writeSection(path.join(repoRoot, 'docs', 'BENCHMARKS.md'), md, '## Engine, fresh process per question');
    const differ = runs.filter((r) => modes.some((m) => r.modes[m]!.answer !== r.modes.ar!.answer));
    if (differ.length > 0) {
      console.error(`bench: ${differ.length} answers differ from ar — FAILED`);
      process.exitCode = 1;
    }
    return;
  }

  const engine = await loadEngine({
    model: modelDir,
    drafter: flag('drafter') ?? 'none',
    drafterVariant: flag('drafter-variant'),
  });
  const runModes = modes.filter((m) => m !== 'model' || engine.drafter);
  if (runModes.length < modes.length) console.error('bench: no drafter model loaded — skipping mode "model"');
  const corpus = await openCorpus(flag('data') ?? paths.data(), { readOnly: true });
  const questions: QuestionRun[] = [];
  let mismatches = 0;
  for (const [qi, item] of items.entries()) {
    const prepared = await prepareAnswer(corpus, ask(item.question, k, maxTokens));
    const results = new Map<DecodeMode, GenerationResult>();
    // rotate the order per question so warm-up and drift do not favour one mode
    const qModes = runModes.filter((m) => m !== 'model' || qi % modelEvery === 0);
    const order = qModes.map((_, i) => qModes[(i + qi) % qModes.length]!);
    for (const mode of order) {
      const answer = await completeAnswer(engine, {
        ...prepared,
        request: { ...prepared.request, mode, ...NO_HISTORY },
      });
      results.set(mode, answer.result);
    }
    const ar = results.get('ar')!;
    const run: QuestionRun = {
      id: item.id,
      promptTokens: ar.stats.promptTokens,
      tokens: ar.tokens.length,
      arTokens: ar.tokens,
      modes: {},
    };
    for (const [mode, r] of results) {
      const same = r.tokens.length === ar.tokens.length && r.tokens.every((t, i) => t === ar.tokens[i]);
      if (!same) {
        mismatches++;
        const at = r.tokens.findIndex((t, i) => t !== ar.tokens[i]);
        console.error(`MISMATCH ${item.id} ${mode}: first difference at token ${at}`);
      }
      run.modes[mode] = {
        stats: r.stats,
        same,
        copiedChars: r.copiedSpans.reduce((a, s) => a + s.text.length, 0),
        textChars: r.text.length,
      };
    }
    questions.push(run);
    const line = qModes
      .map(
        (m) =>
          `${m} ${run.modes[m]!.stats.decodeTokensPerSecond.toFixed(1)} tok/s ${run.modes[m]!.stats.tokensPerStep.toFixed(2)} t/f`,
      )
      .join(' | ');
    console.error(`[${qi + 1}/${items.length}] ${item.id} ${ar.tokens.length} tok: ${line}`);
  }

  // Self-drafting layer subsets: agreement with the target on its own answers (3 questions).
  let subsets: SubsetResult[] | null = null;
  const gguf = path.join(modelDir, 'model.gguf');
  if (!has('no-subsets') && fs.existsSync(gguf)) {
    const seqs = [];
    for (const [qi, item] of items.slice(0, 3).entries()) {
      const prompt = await answerPrompt(engine, corpus, item.question, k, maxTokens);
      seqs.push({ ids: [...prompt, ...questions[qi]!.arTokens], from: prompt.length - 1 });
    }
    subsets = await drafterAgreement(gguf, modelDir, seqs);
    console.error(subsetsMarkdown(subsets));
  }
  await corpus.close();

  let peer: PeerRun | null = null;
  if (!has('no-peer')) peer = await runPeer(engine, modelDir, items, k, maxTokens, questions);
  await engine.dispose();

  const meta = {
    maxTokens,
    k,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`,
    costCurve: engine.costCurve?.ms,
    subsets: subsets ? subsetsMarkdown(subsets) : undefined,
    drafter: engine.drafter?.name,
    load: os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(', '),
  };
  const report = renderReport(questions, runModes, peer, meta);
  console.log(report.markdown);
  if (flag('json'))
    fs.writeFileSync(flag('json')!, JSON.stringify({ questions, peer, modes: runModes, meta }, null, 1));
  if (!has('no-write')) {
    writeSection(path.join(repoRoot, 'docs', 'BENCHMARKS.md'), report.markdown);
    fs.writeFileSync(path.join(repoRoot, 'docs', 'speedup.svg'), report.svg);
  }
  if (mismatches > 0) {
    console.error(`bench: ${mismatches} outputs differ from ar — FAILED`);
    process.exitCode = 1;
  }
}

/** The answer use case's question for the bench: greedy, every mode compared with `ar`. */
function ask(question: string, k: number, maxTokens: number) {
  return { question, k, maxTokens, sampling: { temperature: 0 }, mode: 'ar' as const };
}

/** Prompt tokens of the answer use case for a question (what every mode prefills). */
async function answerPrompt(
  engine: Engine,
  corpus: PassageSearch,
  question: string,
  k: number,
  maxTokens: number,
): Promise<number[]> {
  return engine.promptTokens((await prepareAnswer(corpus, ask(question, k, maxTokens))).request);
}

/** transformers.js greedy on the Optimum export (written next to the model when missing). */
async function runPeer(
  engine: Engine,
  modelDir: string,
  items: { question: string }[],
  k: number,
  maxTokens: number,
  runs: QuestionRun[],
): Promise<PeerRun | null> {
  const exportRoot = path.join(paths.models(), 'optimum-export');
  const exportDir = path.join(exportRoot, 'smollm2');
  const gguf = path.join(modelDir, 'model.gguf');
  try {
    if (!fs.existsSync(path.join(exportDir, 'onnx', 'model.onnx'))) {
      if (!fs.existsSync(gguf)) throw new Error(`no ${gguf} to export from`);
      const { exportOptimum } = await import('../src/model/onnx/optimum.ts');
      await exportOptimum(gguf, exportDir, { weights: 'int4' });
    }
    const { AutoModelForCausalLM, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = exportRoot + path.sep;
    const model = await AutoModelForCausalLM.from_pretrained('smollm2', { dtype: 'fp32', device: 'cpu' });
    const corpus = await openCorpus(paths.data(), { readOnly: true });
    const out: PeerRun = { tokPerSec: [], same: 0, total: 0 };
    const { Tensor } = await import('@huggingface/transformers');
    for (const [qi, item] of items.entries()) {
      const ids = await answerPrompt(engine, corpus, item.question, k, maxTokens);
      const input_ids = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
      const attention_mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
      // prefill timing is subtracted with a 1-token run, as ragspec reports decode tok/s
      const t0 = performance.now();
      await model.generate({ input_ids, attention_mask, max_new_tokens: 1, do_sample: false } as never);
      const t1 = performance.now();
      const res = (await model.generate({
        input_ids,
        attention_mask,
        max_new_tokens: maxTokens,
        do_sample: false,
      } as never)) as { data: BigInt64Array };
      const t2 = performance.now();
      const theirs = Array.from(res.data, Number).slice(ids.length);
      const eos = new Set(engine.tokenizer.eosIds);
      const trimmed = theirs.findIndex((t) => eos.has(t));
      const toks = trimmed >= 0 ? theirs.slice(0, trimmed) : theirs;
      const decodeMs = t2 - t1 - (t1 - t0);
      out.tokPerSec.push(decodeMs > 0 ? (toks.length * 1000) / decodeMs : 0);
      const ar = runs[qi]!;
      out.total++;
      if (toks.length === ar.arTokens.length && toks.every((t, i) => t === ar.arTokens[i])) out.same++;
      console.error(
        `[peer ${qi + 1}/${items.length}] transformers.js ${out.tokPerSec[out.tokPerSec.length - 1]!.toFixed(1)} tok/s`,
      );
    }
    await corpus.close();
    await model.dispose();
    return out;
  } catch (err) {
    console.error(
      `bench: transformers.js peer skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
    return null;
  }
}

/** Replace one "## …" section of BENCHMARKS.md (up to the next "## "), leaving the others. */
function writeSection(file: string, body: string, heading = '## Engine'): void {
  const doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = doc.search(new RegExp(`^${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  if (start < 0) {
    fs.writeFileSync(file, `${doc.trimEnd()}\n\n${body}\n`);
    return;
  }
  const next = doc.indexOf('\n## ', start + 3);
  fs.writeFileSync(file, doc.slice(0, start) + body.trimEnd() + '\n' + (next >= 0 ? doc.slice(next) : ''));
}

await main();
