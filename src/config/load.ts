/**
 * `loadConfig()`: defaults, then a JSON config file, then `RAGSPEC_*` environment
 * variables, then command-line flags — each layer overrides the one before, and the
 * merged result is validated once. Unknown keys anywhere are refused with their path.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { BadFileError, RagspecError } from '../util/errors.ts';
import { ConfigSchema, type RagspecConfig } from './schema.ts';

type Tree = { [k: string]: unknown };

/** Environment variables and where they land. Numbers are parsed; anything else is a string. */
export const ENV_KEYS: Record<string, { path: [string, string]; kind: 'string' | 'int' }> = {
  RAGSPEC_HOST: { path: ['server', 'host'], kind: 'string' },
  RAGSPEC_PORT: { path: ['server', 'port'], kind: 'int' },
  RAGSPEC_API_KEY: { path: ['server', 'apiKey'], kind: 'string' },
  RAGSPEC_QUEUE_SIZE: { path: ['server', 'queueSize'], kind: 'int' },
  RAGSPEC_REQUEST_TIMEOUT_MS: { path: ['server', 'requestTimeoutMs'], kind: 'int' },
  RAGSPEC_SHUTDOWN_GRACE_MS: { path: ['server', 'shutdownGraceMs'], kind: 'int' },
  RAGSPEC_MODE: { path: ['generation', 'mode'], kind: 'string' },
  RAGSPEC_MAX_BATCH: { path: ['batching', 'maxBatch'], kind: 'int' },
  RAGSPEC_DATA_DIR: { path: ['storage', 'dataDir'], kind: 'string' },
  RAGSPEC_DATABASE_URL: { path: ['storage', 'url'], kind: 'string' },
  RAGSPEC_LOG_LEVEL: { path: ['log', 'level'], kind: 'string' },
  RAGSPEC_DEVICE: { path: ['model', 'device'], kind: 'string' },
};

/** Command-line flags of `ragspec serve` / `start` that map onto config keys. */
export interface ConfigFlags {
  host?: string;
  port?: number | string;
  apiKey?: string;
  mode?: string;
  dataDir?: string;
  logLevel?: string;
  queueSize?: number | string;
  requestTimeoutMs?: number | string;
  device?: string;
  /** `--no-history` (false); undefined leaves the file/env setting. */
  history?: boolean;
  maxBatch?: number | string;
}

const FLAG_PATHS: Record<keyof ConfigFlags, [string, string, 'string' | 'int']> = {
  history: ['history', 'enabled', 'string'], // a boolean, set as it is
  host: ['server', 'host', 'string'],
  port: ['server', 'port', 'int'],
  apiKey: ['server', 'apiKey', 'string'],
  queueSize: ['server', 'queueSize', 'int'],
  requestTimeoutMs: ['server', 'requestTimeoutMs', 'int'],
  maxBatch: ['batching', 'maxBatch', 'int'],
  mode: ['generation', 'mode', 'string'],
  dataDir: ['storage', 'dataDir', 'string'],
  logLevel: ['log', 'level', 'string'],
  device: ['model', 'device', 'string'],
};

function parseValue(raw: string, kind: 'string' | 'int', where: string): unknown {
  if (kind === 'string') return raw;
  if (!/^-?\d+$/.test(raw.trim()))
    throw new RagspecError(`${where}: expected an integer, got "${raw}"`, { kind: 'bad_input' });
  return Number(raw);
}

function setIn(tree: Tree, [section, key]: [string, string], value: unknown): void {
  const sub = (tree[section] ??= {}) as Tree;
  sub[key] = value;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later layers win; objects merge key by key, everything else is replaced. */
export function mergeLayers(...layers: Tree[]): Tree {
  const out: Tree = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeLayers(out[k] as Tree, v) : v;
    }
  }
  return out;
}

export function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new BadFileError(file, 'cannot read the config file', 'check the --config path');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new BadFileError(
      file,
      `not valid JSON (${(e as Error).message})`,
      'the config file is JSON, e.g. {"server": {"port": 8080}}',
    );
  }
  if (!isPlainObject(parsed))
    throw new BadFileError(file, 'the config must be a JSON object', 'e.g. {"server": {"port": 8080}}');
  return parsed;
}

export function envLayer(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  for (const [name, spec] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setIn(tree, spec.path, parseValue(raw, spec.kind, name));
  }
  return tree;
}

export function flagLayer(flags: ConfigFlags): Tree {
  const tree: Tree = {};
  for (const [name, [section, key, kind]] of Object.entries(FLAG_PATHS)) {
    const raw = flags[name as keyof ConfigFlags];
    if (raw === undefined) continue;
    setIn(tree, [section, key], typeof raw === 'string' ? parseValue(raw, kind, `--${name}`) : raw);
  }
  return tree;
}

function describeIssues(err: z.ZodError, source: string): string {
  return err.issues
    .map((i) => {
      const where = i.path.join('.') || '(top level)';
      if (i.code === 'unrecognized_keys') {
        const keys = i.keys.map((k) => (i.path.length ? `${i.path.join('.')}.${k}` : k));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
      }
      return `${where}: ${i.message}`;
    })
    .map((m) => `${source}: ${m}`)
    .join('; ');
}

export interface LoadConfigOptions {
  /** Path of a JSON config file (`--config`). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: ConfigFlags;
  /** Extra layer applied last (tests). */
  overrides?: Tree;
}

/** Merge defaults → file → env → flags → overrides and validate. Throws a one-line RagspecError. */
export function loadConfig(opts: LoadConfigOptions = {}): RagspecConfig {
  const fileLayer = opts.file ? readConfigFile(opts.file) : {};
  // Check the file on its own first so an unknown key names the file it sits in.
  if (opts.file) {
    const r = ConfigSchema.safeParse(fileLayer);
    if (!r.success)
      throw new RagspecError(describeIssues(r.error, opts.file), {
        code: 'bad_config',
        hint: 'fix or remove that key (`ragspec serve --help` lists the settings)',
        kind: 'bad_input',
      });
  }
  const merged = mergeLayers(
    fileLayer,
    envLayer(opts.env ?? process.env),
    flagLayer(opts.flags ?? {}),
    opts.overrides ?? {},
  );
  const r = ConfigSchema.safeParse(merged);
  if (!r.success)
    throw new RagspecError(describeIssues(r.error, 'config'), { code: 'bad_config', kind: 'bad_input' });
  return r.data;
}
