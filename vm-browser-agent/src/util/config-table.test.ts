import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../config.js';
import { ConfigError } from './config-table.js';

const base = {
  VMLIVE_CONTROLLER_URL: 'http://127.0.0.1:8080/',
  VMLIVE_VM_ID: 'vm1',
  VMLIVE_VM_TOKEN: 'tok',
  DISPLAY: ':5',
};

describe('agent config', () => {
  it('applies defaults and strips the trailing slash of the controller URL', () => {
    const c = parseAgentConfig(base);
    expect(c.controllerUrl).toBe('http://127.0.0.1:8080');
    expect(c.codec).toBe('vp8');
    expect([c.width, c.height, c.fps]).toEqual([1280, 720, 30]);
    expect(c.iceServers).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the missing required variable', () => {
    const { VMLIVE_VM_TOKEN: _omit, ...rest } = base;
    expect(() => parseAgentConfig(rest)).toThrow(ConfigError);
    expect(() => parseAgentConfig(rest)).toThrow(/VMLIVE_VM_TOKEN/);
  });

  it.each([
    ['VMLIVE_CODEC', 'av1', /one of vp8, h264/],
    ['VMLIVE_FPS', '0', /between 1 and 60/],
    ['VMLIVE_WIDTH', '12.5', /integer/],
    ['VMLIVE_CONTROLLER_URL', 'ftp://x', /http/],
    ['VMLIVE_ICE_SERVERS', '[{"url":1}]', /VMLIVE_ICE_SERVERS/],
    ['VMLIVE_ICE_SERVERS', 'not json', /VMLIVE_ICE_SERVERS/],
  ])('rejects %s=%s with a message naming it', (name, value, message) => {
    let error: unknown;
    try {
      parseAgentConfig({ ...base, [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect(String((error as Error).message)).toMatch(message);
  });

  it('parses ICE servers JSON', () => {
    const c = parseAgentConfig({ ...base, VMLIVE_ICE_SERVERS: '[{"urls":"stun:127.0.0.1:3478"}]' });
    expect(c.iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }]);
  });
});
