/** Flag parsing and stats formatting shared by `ragspec generate` and `ragspec ask`. */
import { DeviceSchema } from '../config/schema.ts';
import { RagspecError } from '../util/errors.ts';
import { DECODE_MODES, isDecodeMode } from '../drafting/modes.ts';
import { DEVICES, type Device } from '../model/onnx/device.ts';
import type { DecodeMode, GenerationStats, SamplingSettings } from '../engine/types.ts';

export interface SamplingFlags {
  temperature: string;
  topK?: string;
  topP?: string;
  seed?: string;
  frequencyPenalty?: string;
  presencePenalty?: string;
  repetitionPenalty?: string;
}

export function parseMode(v: string): DecodeMode {
  if (!isDecodeMode(v))
    throw new RagspecError(`unknown --mode "${v}"`, {
      kind: 'bad_input',
      hint: `use one of ${DECODE_MODES.join(', ')}`,
    });
  return v;
}

/** `--device` help, the same on every command that loads a model. */
export const DEVICE_HELP =
  'where the model runs: cpu, webgpu (a GPU with a Vulkan driver) or cuda (onnxruntime-node installed with CUDA); default cpu, env RAGSPEC_DEVICE';

/** `--device`, else RAGSPEC_DEVICE, else 'cpu' — checked by the config's own schema. */
export function parseDevice(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Device {
  const fromEnv = env.RAGSPEC_DEVICE === '' ? undefined : env.RAGSPEC_DEVICE;
  const raw = flag ?? fromEnv ?? 'cpu';
  const r = DeviceSchema.safeParse(raw);
  if (!r.success)
    throw new RagspecError(`unknown ${flag !== undefined ? '--device' : 'RAGSPEC_DEVICE'} "${raw}"`, {
      kind: 'bad_input',
      code: 'bad_device',
      hint: `use one of ${DEVICES.join(', ')}`,
    });
  return r.data;
}

export function parseSampling(o: SamplingFlags): SamplingSettings {
  const num = (
    v: string | undefined,
    flag: string,
    ok: (n: number) => boolean,
    what: string,
  ): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n))
      throw new RagspecError(`${flag} must be ${what}, got "${v}"`, { kind: 'bad_input' });
    return n;
  };
  const temperature = num(o.temperature, '--temperature', (n) => n >= 0, 'a number ≥ 0') ?? 0;
  const topK = num(o.topK, '--top-k', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  const topP = num(o.topP, '--top-p', (n) => n > 0 && n <= 1, 'in (0, 1]');
  const seed = num(o.seed, '--seed', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
  const penalty = (v: string | undefined, flag: string): number | undefined =>
    num(v, flag, (n) => n >= -2 && n <= 2, 'in [-2, 2] (OpenAI range; 0 = off)');
  const frequencyPenalty = penalty(o.frequencyPenalty, '--frequency-penalty');
  const presencePenalty = penalty(o.presencePenalty, '--presence-penalty');
  const repetitionPenalty = num(
    o.repetitionPenalty,
    '--repetition-penalty',
    (n) => n > 0,
    'a number > 0 (1 = off)',
  );
  return { temperature, topK, topP, seed, frequencyPenalty, presencePenalty, repetitionPenalty };
}

export function formatStats(s: GenerationStats, mode: DecodeMode): string {
  const src = Object.entries(s.bySource)
    .map(([k, v]) => `${k} ${v.acceptedTokens}/${v.draftTokens}`)
    .join(', ');
  return [
    `mode ${mode}: ${s.completionTokens} tokens in ${s.steps} target forwards (${s.tokensPerStep.toFixed(2)} tokens/forward), ` +
      `${s.decodeTokensPerSecond.toFixed(1)} tok/s decode`,
    `drafts ${s.drafts}, draft tokens ${s.draftTokens}, accepted ${s.acceptedTokens}, mean acceptance length ${s.meanAcceptanceLength.toFixed(2)}` +
      (src ? ` (accepted/drafted by source: ${src})` : ''),
    `time: prefill ${s.timeMs.prefill.toFixed(0)} ms, draft ${s.timeMs.draft.toFixed(0)} ms, verify ${s.timeMs.verify.toFixed(0)} ms, other ${s.timeMs.other.toFixed(0)} ms (${s.promptTokens} prompt tokens)`,
  ].join('\n');
}
