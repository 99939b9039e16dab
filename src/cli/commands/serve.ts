/**
 * `ragspec serve`: the HTTP service on the existing model and corpus. Settings merge
 * defaults → `--config` file → RAGSPEC_* env → flags (see src/config/schema.ts).
 */
import type { Command } from 'commander';
import { loadConfig, type ConfigFlags } from '../../config/load.ts';
import type { RagspecConfig } from '../../config/schema.ts';
import { realRuntime } from '../../api/runtime.ts';
import { startServer, type RunningServer } from '../../api/server.ts';
import { errorMessage, MissingAssetError } from '../../util/errors.ts';
import { DEVICE_HELP } from '../decode-flags.ts';

export interface ServeFlags extends ConfigFlags {
  config?: string;
  model?: string;
  drafter?: string;
  threads?: string;
}

/** Options shared by `serve` and `start`. */
export function addServeOptions(cmd: Command): Command {
  return cmd
    .option('--port <n>', 'port to listen on (default 8080; env RAGSPEC_PORT)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1; env RAGSPEC_HOST)')
    .option(
      '--api-key <key>',
      'require `Authorization: Bearer <key>` on every route but /healthz, /readyz, /metrics, /v1/models (env RAGSPEC_API_KEY)',
    )
    .option(
      '--config <file>',
      'JSON config file: {"server": {...}, "generation": {...}, "retrieval": {...}, "batching": {...}, "storage": {...}, "history": {...}, "log": {...}, "model": {"device": ...}}',
    )
    .option('--mode <mode>', 'default decode mode: ar, reference, model or hybrid (default hybrid)')
    .option('--data-dir <dir>', 'corpus + analytics folder (default $RAGSPEC_HOME/data)')
    .option('--queue-size <n>', 'generations allowed to wait for the model before 429 (default 8)')
    .option(
      '--max-batch <n>',
      'continuous batching: generations sharing each target forward (default 8; 1 = one at a time; env RAGSPEC_MAX_BATCH)',
    )
    .option(
      '--request-timeout-ms <n>',
      'cancel a generation after this long, queue wait included (default 120000)',
    )
    .option(
      '--log-level <level>',
      'pino level: fatal, error, warn, info, debug, trace, silent (default info)',
    )
    .option(
      '--model <dir>',
      'converted target model folder (default $RAGSPEC_HOME/models/smollm2-135m-instruct)',
    )
    .option(
      '--drafter <which>',
      "drafter model: 'none' (default), a converted folder with the target's tokenizer, or 'self' (layer-subset, experiments)",
    )
    .option('--threads <n>', 'onnxruntime intra-op threads')
    .option('--device <device>', `${DEVICE_HELP}; no usable GPU: /readyz is 503 with the reason`)
    .option('--no-history', "don't draft from (or add to) the history datastore of past answers");
}

export function configFrom(o: ServeFlags): RagspecConfig {
  return loadConfig({
    file: o.config,
    env: process.env,
    flags: {
      port: o.port,
      host: o.host,
      apiKey: o.apiKey,
      mode: o.mode,
      dataDir: o.dataDir,
      queueSize: o.queueSize,
      maxBatch: o.maxBatch,
      requestTimeoutMs: o.requestTimeoutMs,
      logLevel: o.logLevel,
      device: o.device,
      // commander sets `history: true` unless --no-history: only the flag itself overrides the config
      history: o.history === false ? false : undefined,
    },
  });
}

/** A curl line that works against this server as configured. */
export function curlExample(srv: RunningServer, config: RagspecConfig): string {
  // The key itself never goes to the terminal (scrollback, CI logs): the line reads it from the env.
  const authHeader = config.server.apiKey ? ` -H "Authorization: Bearer $RAGSPEC_API_KEY"` : '';
  return [
    ...(config.server.apiKey ? ['# with RAGSPEC_API_KEY set to the key this server was given'] : []),
    `curl -s ${srv.url}/v1/answer -H 'Content-Type: application/json'${authHeader} \\`,
    `  -d '{"question": "How do I install only production dependencies?"}'`,
  ].join('\n');
}

export async function serve(o: ServeFlags, config: RagspecConfig = configFrom(o)): Promise<RunningServer> {
  const threads = o.threads === undefined ? undefined : Number(o.threads);
  const srv = await startServer({
    config,
    load: realRuntime(config, {
      model: o.model,
      drafter: o.drafter,
      threads,
      maxBatch: config.batching.maxBatch,
      prefillChunksPerTick: config.batching.prefillChunksPerTick,
    }),
    handleSignals: true,
  });
  process.stderr.write(
    `ragspec: listening on ${srv.url} — loading the model and index (GET /readyz turns 200 when ready)\n`,
  );
  try {
    await srv.ready;
  } catch (err) {
    // Missing assets will not appear by waiting (setup has not run): stop and say so.
    if (err instanceof MissingAssetError || config.server.loadRetryMs === 0) {
      await srv.shutdown('runtime failed to load');
      throw err;
    }
    // Anything else may pass (a rebuild, a copy in progress): keep listening and retrying.
    process.stderr.write(
      `ragspec: loading failed: ${errorMessage(err)} — retrying in the background (GET /readyz is 503 until it works)
`,
    );
    return srv;
  }
  process.stderr.write(
    `ragspec: ready. Try:\n\n${curlExample(srv, config)}\n\n` +
      `OpenAI clients: baseURL ${srv.url}/v1, model "ragspec". Dashboard: ${srv.url}/analytics · metrics: ${srv.url}/metrics\n`,
  );
  return srv;
}

export function register(program: Command): void {
  addServeOptions(
    program
      .command('serve')
      .description(
        'Serve the HTTP API (question answering, OpenAI-compatible chat, documents, analytics) on the existing model and corpus',
      ),
  ).action(async (o: ServeFlags) => {
    await serve(o);
  });
}
