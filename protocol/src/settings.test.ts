import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, describeSettings, parseEnv, resolveSettings, setting, settingsSchema } from './settings.js';

const TABLE = {
  name: setting.str('T_NAME', { help: 'a name' }),
  size: setting.int('T_SIZE', 1, 10, { default: 5, help: 'a size' }),
  mode: setting.oneOf('T_MODE', ['a', 'b'] as const, { default: 'a', help: 'a mode' }),
  on: setting.bool('T_ON', { default: false, help: 'a switch' }),
  url: setting.url('T_URL', { default: 'http://x', help: 'a URL' }),
  list: setting.json('T_LIST', z.array(z.number()), { default: [], help: 'numbers' }),
  secret: setting.str('T_SECRET', { default: 'hunter2', help: 'a secret', secret: true }),
  display: setting.str('T_DISPLAY', {
    default: ':0',
    help: 'a display',
    pattern: { re: /^:\d+$/, message: 'must look like ":0"' },
  }),
} as const;

function rejection(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseEnv', () => {
  it('applies defaults, parses each type and freezes the result', () => {
    const c = parseEnv(TABLE, { T_NAME: 'n', T_SIZE: ' 7 ', T_ON: 'Yes', T_URL: 'https://h/p//', T_LIST: '[1,2]' });
    expect(c).toEqual({
      name: 'n',
      size: 7,
      mode: 'a',
      on: true,
      url: 'https://h/p',
      list: [1, 2],
      secret: 'hunter2',
      display: ':0',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv(TABLE, { T_NAME: 'n', T_SIZE: '' }).size).toBe(5);
  });

  it('names the variable of a missing required setting', () => {
    const err = rejection(() => parseEnv(TABLE, {}));
    expect(err.variable).toBe('T_NAME');
    expect(err.message).toMatch(/T_NAME: is required \(a name\)/);
  });

  it.each([
    ['T_SIZE', '11', /between 1 and 10/],
    ['T_SIZE', '2.5', /must be an integer/],
    ['T_SIZE', '0x5', /must be an integer/],
    ['T_MODE', 'c', /one of a, b/],
    ['T_ON', 'maybe', /boolean/],
    ['T_URL', 'ftp://x', /http\(s\) URL/],
    ['T_LIST', '[', /not valid JSON/],
    ['T_LIST', '["x"]', /\[0\]/],
    ['T_DISPLAY', 'x:0', /must look like ":0"/],
  ])('rejects %s=%s with a message naming it', (env, raw, message) => {
    const err = rejection(() => parseEnv(TABLE, { T_NAME: 'n', [env]: raw }));
    expect(err.variable).toBe(env);
    expect(err.message).toMatch(message);
  });
});

describe('one range per setting', () => {
  it('checks typed values with the same range as the environment strings', () => {
    expect(resolveSettings(TABLE, { name: 'n', size: 10 }).size).toBe(10);
    expect(rejection(() => resolveSettings(TABLE, { name: 'n', size: 11 })).variable).toBe('T_SIZE');
    expect(rejection(() => resolveSettings(TABLE, { name: 'n', display: 'x' })).message).toMatch(/":0"/);
  });

  it('settingsSchema applies defaults and refuses unknown keys and out-of-range values', () => {
    const schema = settingsSchema(TABLE);
    expect(schema.parse({ name: 'n' })).toMatchObject({ name: 'n', size: 5, mode: 'a', on: false });
    expect(schema.safeParse({ name: 'n', size: 0 }).success).toBe(false);
    expect(schema.safeParse({ name: 'n', extra: 1 }).success).toBe(false);
    expect(schema.safeParse({}).success).toBe(false);
  });

  it('settingsSchema emits a JSON Schema with each env name, default and range', () => {
    const json = z.toJSONSchema(settingsSchema(TABLE), { io: 'input' }) as {
      properties: Record<string, { description?: string; default?: unknown; minimum?: number; maximum?: number }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(json.properties.size).toMatchObject({ default: 5, minimum: 1, maximum: 10 });
    expect(json.properties.size?.description).toContain('T_SIZE');
    expect(json.required).toEqual(['name']);
    expect(json.additionalProperties).toBe(false);
  });
});

describe('describeSettings', () => {
  it('prints one line per setting with its default, hiding secrets', () => {
    const text = describeSettings(TABLE);
    expect(text.split('\n')).toHaveLength(Object.keys(TABLE).length);
    expect(text).toMatch(/T_NAME\s+a name \(required\)/);
    expect(text).toMatch(/T_SIZE\s+a size \(default 5\)/);
    expect(text).toContain('(secret)');
    expect(text).not.toContain('hunter2');
  });
});
