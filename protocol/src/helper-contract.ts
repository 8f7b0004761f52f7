/**
 * Builds the agent ⇄ helper contract for the Python helper from the zod schemas,
 * so Python validates exactly what TypeScript does: JSON Schemas (2020-12, as
 * zod 4 emits them) of every agent → helper command, helper → agent event,
 * data-channel input message and feedback, and the helper settings; plus the
 * HelperErrorCode list, the bad-config exit code, the data-channel label and
 * the settings table (env names, defaults, help) for the helper's --help.
 *
 * Schemas the helper parses are emitted with io 'input' (defaults optional, the
 * helper applies them); schemas it emits with io 'output' (every field, no
 * unknown properties), which is what its encoder checks before writing.
 *
 * `npm run gen -w protocol` writes vm-browser-agent/helper/vmlive_helper/contract.json;
 * helper-contract.test.ts fails when the checked-in file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  HELPER_EXIT_BAD_CONFIG,
  HELPER_SETTINGS,
  HelperCommand,
  HelperErrorCode,
  HelperEvent,
  HelperSettings,
} from './helper.js';
import { INPUT_CHANNEL_LABEL, InputFeedback, InputMessage } from './input.js';

export const HELPER_CONTRACT_PATH = fileURLToPath(
  new URL('../../vm-browser-agent/helper/vmlive_helper/contract.json', import.meta.url),
);

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'throw' }) as Json;
  return rest;
}

export function buildHelperContract() {
  return {
    $comment: 'Generated from protocol/src/helper.ts and input.ts by `npm run gen -w protocol`. Do not edit.',
    helperExitBadConfig: HELPER_EXIT_BAD_CONFIG,
    inputChannelLabel: INPUT_CHANNEL_LABEL,
    helperErrorCodes: [...HelperErrorCode.options],
    settings: Object.entries(HELPER_SETTINGS).map(([key, s]) => ({
      key,
      env: s.env,
      help: s.help,
      ...(s.default === undefined ? { required: true } : { default: s.default }),
    })),
    schemas: {
      HelperSettings: schema(HelperSettings, 'input'),
      HelperCommand: schema(HelperCommand, 'input'),
      HelperEvent: schema(HelperEvent, 'output'),
      InputMessage: schema(InputMessage, 'input'),
      InputFeedback: schema(InputFeedback, 'output'),
    },
  };
}

export function serializeHelperContract(): string {
  return `${JSON.stringify(buildHelperContract(), null, 2)}\n`;
}

// `tsx protocol/src/helper-contract.ts --write` (npm run gen -w protocol) regenerates the file.
if (process.argv[1]?.endsWith('helper-contract.ts') && process.argv.includes('--write')) {
  writeFileSync(HELPER_CONTRACT_PATH, serializeHelperContract());
  process.stdout.write(`wrote ${HELPER_CONTRACT_PATH}\n`);
}
