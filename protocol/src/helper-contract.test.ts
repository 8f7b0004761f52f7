import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HELPER_SETTINGS, HelperErrorCode } from './helper.js';
import { buildHelperContract, HELPER_CONTRACT_PATH, serializeHelperContract } from './helper-contract.js';

describe('helper contract.json', () => {
  it('is up to date with the zod schemas (run `npm run gen -w protocol`)', () => {
    expect(readFileSync(HELPER_CONTRACT_PATH, 'utf8')).toBe(serializeHelperContract());
  });

  it('carries every error code and every setting with its env name', () => {
    const c = buildHelperContract();
    expect(c.helperErrorCodes).toEqual(HelperErrorCode.options);
    expect(c.settings.map((s) => s.env)).toEqual(Object.values(HELPER_SETTINGS).map((s) => s.env));
    expect(c.settings.find((s) => s.key === 'display')).toMatchObject({ env: 'DISPLAY', required: true });
  });
});
