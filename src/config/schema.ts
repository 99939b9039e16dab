/**
 * The service configuration: one zod schema gives the type, the checks and the documented
 * defaults. Every object is strict, so a misspelt key is refused instead of ignored.
 */
import { z } from 'zod';

import { DECODE_MODES } from '../drafting/modes.ts';
import { DEVICES } from '../model/onnx/device.ts';

/** Where the models run (src/model/onnx/device.ts); the one validation of a device name. */
export const DeviceSchema = z.enum(DEVICES);

const server = z
  .strictObject({
    /** Loopback by default: expose it on purpose, not by accident. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** When set, every route but /healthz, /readyz, /metrics and /v1/models requires `Authorization: Bearer <apiKey>`. */
    apiKey: z.string().min(1).nullable().default(null),
    /** express body-parser limit for JSON and text bodies. */
    bodyLimit: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'use a size like 512kb or 2mb')
      .default('2mb'),
    /** Generations waiting for the one model worker before new ones get 429. */
    queueSize: z.number().int().min(0).max(1000).default(8),
    /** Document uploads and deletes waiting for the one writer before new ones get 429. */
    ingestQueueSize: z.number().int().min(0).max(1000).default(4),
    /** A generation (queue wait included) is cancelled after this long. */
    requestTimeoutMs: z.number().int().min(100).default(120_000),
    /** A client gets this long to send its request headers (slow-header clients are cut). */
    headersTimeoutMs: z.number().int().min(100).default(20_000),
    /** ... and this long to send the whole request, body included (not the response: generations stream). */
    bodyTimeoutMs: z.number().int().min(100).default(60_000),
    /** Open connections beyond this are closed at once. */
    maxConnections: z.number().int().min(1).default(512),
    /** A failed load of the index, embedder or model is tried again after this long (doubling to 60 s); 0: never. */
    loadRetryMs: z.number().int().min(0).default(5_000),
    /** On SIGTERM, in-flight requests get this long to finish before the process exits. */
    shutdownGraceMs: z.number().int().min(0).default(10_000),
  })
  .prefault({});

const generation = z
  .strictObject({
    mode: z.enum(DECODE_MODES).default('hybrid'),
    defaultMaxTokens: z.number().int().min(1).default(256),
    /** Requests asking for more get 400. */
    maxTokensCap: z.number().int().min(1).default(1024),
    maxStopStrings: z.number().int().min(0).max(64).default(4),
    maxStopLength: z.number().int().min(1).default(64),
    /** Repetition penalties of requests that send none (src/verify/penalties.ts); off by default. */
    frequencyPenalty: z.number().min(-2).max(2).default(0),
    presencePenalty: z.number().min(-2).max(2).default(0),
    repetitionPenalty: z.number().gt(0).max(10).default(1),
  })
  .prefault({});

const retrieval = z
  .strictObject({
    defaultTopK: z.number().int().min(0).default(4),
    topKCap: z.number().int().min(1).default(16),
  })
  .prefault({});

const batching = z
  .strictObject({
    /**
     * Continuous batching: up to this many generations share each target forward (their
     * draft trees and prefill chunks in one batch). 1 runs one generation at a time.
     */
    maxBatch: z.number().int().min(1).max(64).default(8),
    /**
     * Prompt chunks (128 tokens) prefilled per batched step, oldest request first; decoding
     * requests step every time. 0 prefills every admitted prompt in lockstep (all first
     * tokens arrive when the last prompt is in).
     */
    prefillChunksPerTick: z.number().int().min(0).max(64).default(1),
  })
  .prefault({});

const storage = z
  .strictObject({
    /**
     * 'sqlite' (one process's folder) or 'postgres' (shared by replicas). Unset: 'postgres'
     * when `url` is set (e.g. by RAGSPEC_DATABASE_URL alone), else 'sqlite'.
     */
    kind: z.enum(['sqlite', 'postgres']).nullable().default(null),
    /** Folder holding the corpus store, index and analytics DB; default `$RAGSPEC_HOME/data`. */
    dataDir: z.string().min(1).nullable().default(null),
    /** PostgreSQL URL (postgres://user:password@host:5432/db) for the corpus and analytics. */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//i, 'use postgres://USER:PASSWORD@HOST:5432/DATABASE')
      .nullable()
      .default(null),
  })
  .refine((s) => s.kind !== 'postgres' || s.url !== null, {
    message: 'storage.kind "postgres" needs storage.url (or RAGSPEC_DATABASE_URL)',
  })
  .prefault({});

const history = z
  .strictObject({
    /** Draft from the target's own past answers (the history datastore in the data dir; hybrid mode). */
    enabled: z.boolean().default(true),
    /** Add every finished answer to it (false: use it read-only). */
    record: z.boolean().default(true),
    /** Tokens held at most; the least recently used answers are evicted first (~100-150 MB when full). */
    maxTokens: z.number().int().min(1_000).default(1_000_000),
  })
  .prefault({});

const log = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .prefault({});

const model = z
  .strictObject({
    /**
     * 'cpu' (default), 'webgpu' (onnxruntime-node's bundled WebGPU provider: a GPU with a
     * Vulkan driver on Linux) or 'cuda' (onnxruntime-node installed with CUDA). No usable GPU:
     * /readyz is 503 with the reason.
     */
    device: DeviceSchema.default('cpu'),
  })
  .prefault({});

export const ConfigSchema = z.strictObject({
  server,
  generation,
  retrieval,
  batching,
  storage,
  history,
  log,
  model,
});

export type RagspecConfig = z.infer<typeof ConfigSchema>;
/** What a config file, env or flags may hold: any subset. */
export type ConfigInput = z.input<typeof ConfigSchema>;

/** The store the config names: PostgreSQL when `storage.kind` says so or only a URL is given. */
export function storageKind(config: RagspecConfig): 'sqlite' | 'postgres' {
  return config.storage.kind ?? (config.storage.url ? 'postgres' : 'sqlite');
}
