/**
 * The service configuration: one zod schema gives the type, the checks and the documented
 * defaults. Every object is strict, so a misspelt key is refused instead of ignored.
 */
import { z } from 'zod';

import { DECODE_MODES } from '../drafting/modes.ts';

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
  })
  .prefault({});

const storage = z
  .strictObject({
    /** Folder holding the corpus store, index and analytics DB; default `$RAGSPEC_HOME/data`. */
    dataDir: z.string().min(1).nullable().default(null),
  })
  .prefault({});

const log = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .prefault({});

export const ConfigSchema = z.strictObject({ server, generation, retrieval, batching, storage, log });

export type RagspecConfig = z.infer<typeof ConfigSchema>;
/** What a config file, env or flags may hold: any subset. */
export type ConfigInput = z.input<typeof ConfigSchema>;
