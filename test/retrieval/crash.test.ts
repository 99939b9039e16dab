/**
 * Durability: `ragspec ingest` runs as a child process and is SIGKILLed at random moments,
 * half of them while it embeds, half inside a commit (the child's plain progress lines say
 * which phase it is in; commit-pause-cli.ts injects a pause that widens the window between
 * the index file's rename and the SQLite commit). After every kill the store must open, its passages
 * and the index's live labels must agree, a search must work, and a following ingest must
 * complete and match the files on disk.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCorpus } from '../../src/retrieval/index.ts';
import { repoRoot } from '../../src/util/paths.ts';
import { sharedEmbedder, tempDir, writeFiles } from './helpers.ts';
import { seededRandom as rng } from '../helpers/tiny-gguf.ts';

const KILLS = 22;
const WORDS =
  'registry tarball scope token cache lockfile workspace script audit publish semver peer bundle alias tag prefix'.split(
    ' ',
  );

let dir: string;
let docs: string;
let data: string;

beforeAll(() => {
  dir = tempDir('crash');
  docs = path.join(dir, 'docs');
  data = path.join(dir, 'data');
  fs.mkdirSync(docs, { recursive: true });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface KillResult {
  phase: 'embed' | 'commit' | 'exited';
  lastLine: string;
}

/** Starts the ingest; kills it `delayMs` after the first progress line of `target` phase. */
function ingestAndKill(target: 'embed' | 'commit', delayMs: number): Promise<KillResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'bin', 'run-ts.js'),
        path.join(repoRoot, 'test', 'retrieval', 'commit-pause-cli.ts'),
        '80',
        'ingest',
        docs,
        '--data',
        data,
        '--prune',
        '--commit-every',
        '2',
        '--batch',
        '2',
      ],
      {
        cwd: repoRoot,
        env: process.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let lastLine = '';
    let armed = false;
    let buf = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (!l.startsWith('ingest:')) continue;
        lastLine = l;
        if (!armed && l.startsWith(`ingest: ${target} `)) {
          armed = true;
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') {
        resolve({ phase: lastLine.startsWith('ingest: commit ') ? 'commit' : 'embed', lastLine });
      } else if (code === 0) {
        resolve({ phase: 'exited', lastLine });
      } else {
        reject(new Error(`ingest exited with ${code}: ${lastLine} ${buf}`));
      }
    });
  });
}

describe('an ingest SIGKILLed at random moments leaves a consistent, usable store', () => {
  it(`survives ${KILLS} kills during embedding and during commit`, async () => {
    const seed = Number(process.env.RAGSPEC_CRASH_SEED ?? Date.now() % 100000);
    console.log(`crash test seed ${seed} (set RAGSPEC_CRASH_SEED to replay)`);
    const rand = rng(seed);
    const sentence = () =>
      Array.from(
        { length: 8 + Math.floor(rand() * 10) },
        () => WORDS[Math.floor(rand() * WORDS.length)],
      ).join(' ') + '.';
    const doc = (i: number) =>
      `# Note ${i}\n\n${sentence()} ${sentence()}\n\n## Details\n\n${sentence()} ${sentence()} ${sentence()}\n`;
    const files = new Map<string, string>();
    for (let i = 0; i < 10; i++) files.set(`note-${i}.md`, doc(i));
    const embedder = await sharedEmbedder();
    const phases = { embed: 0, commit: 0, exited: 0 };
    let strayFiles = 0;

    for (let round = 0; round < KILLS; round++) {
      // 1. Change a few files, delete one, add one: the child has real work each round.
      for (let j = 0; j < 4; j++) {
        const name = `note-${Math.floor(rand() * 14)}.md`;
        files.set(name, doc(round * 10 + j));
      }
      if (files.size > 6) files.delete([...files.keys()][Math.floor(rand() * files.size)]!);
      fs.rmSync(docs, { recursive: true, force: true });
      writeFiles(docs, Object.fromEntries(files));

      // 2. Kill the child at a random moment of the targeted phase.
      const target = round % 2 === 0 ? 'embed' : 'commit';
      const delay = Math.floor(rand() * (target === 'embed' ? 30 : 70));
      const killed = await ingestAndKill(target, delay);
      phases[killed.phase]++;
      const indexFiles = fs.readdirSync(data).filter((n) => /^index-\d+\.hnsw(\.tmp)?$/.test(n));

      // 3. The store opens; passages and labels agree; a search works.
      const corpus = await openCorpus(data, { embedder });
      try {
        const gen = corpus.store.generation();
        // Files of a generation the store never committed (temp, or renamed but not recorded).
        strayFiles += indexFiles.filter((n) => n !== `index-${gen}.hnsw`).length;
        const ids = corpus.store.allPassageIds();
        if (gen > 0) {
          const labels = corpus
            .currentIndex()
            .liveLabels()
            .sort((a, b) => a - b);
          expect(labels, `round ${round} (${killed.lastLine})`).toEqual(ids);
        }
        if (ids.length) {
          const res = await corpus.search('registry cache token', { k: 3 });
          expect(res.length).toBeGreaterThan(0);
          for (const p of res) expect(corpus.getDocument(p.docId)!.source.slice(p.start, p.end)).toBe(p.text);
        }

        // 4. A following ingest completes and the store then matches the files on disk.
        await corpus.ingestPaths([docs], { prune: true, commitEvery: 4 });
        const stored = corpus.listDocuments();
        expect(stored.map((d) => d.path).sort()).toEqual([...files.keys()].sort());
        for (const d of stored) expect(corpus.getDocument(d.id)!.source).toBe(files.get(d.path));
        const labels = corpus
          .currentIndex()
          .liveLabels()
          .sort((a, b) => a - b);
        expect(labels).toEqual(corpus.store.allPassageIds());
        // Only the committed generation's index file is left.
        expect(fs.readdirSync(data).filter((n) => n.startsWith('index-'))).toEqual([
          `index-${corpus.store.generation()}.hnsw`,
        ]);
      } finally {
        await corpus.close();
      }
    }
    console.log(
      `kills: ${phases.embed} while embedding, ${phases.commit} inside a commit, ${phases.exited} finished first; ${strayFiles} uncommitted index files found and discarded`,
    );
    expect(phases.embed + phases.commit).toBeGreaterThanOrEqual(20);
    expect(phases.commit).toBeGreaterThanOrEqual(5);
    expect(phases.embed).toBeGreaterThanOrEqual(5);
  });
});
