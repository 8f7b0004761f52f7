import { writeFileSync } from 'node:fs';
import { ConfigError, HELPER_SETTINGS, HelperSettings } from '@vmlive/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCa } from '../../master-controller/src/test/test-ca.js';
import { describeAgentSettings, parseAgentConfig } from './config.js';

const base = {
  VMLIVE_CONTROLLER_URL: 'http://127.0.0.1:8080/',
  VMLIVE_VM_ID: 'vm1',
  VMLIVE_VM_TOKEN: 'tok',
  DISPLAY: ':5',
};

function rejection(env: Record<string, string>): ConfigError {
  try {
    parseAgentConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('agent config', () => {
  it('applies defaults and strips the trailing slash of the controller URL', () => {
    const c = parseAgentConfig(base);
    expect(c.controllerUrl).toBe('http://127.0.0.1:8080');
    expect(c.helper.codec).toBe('vp8');
    expect([c.helper.width, c.helper.height, c.helper.fps]).toEqual([1280, 720, 30]);
    expect(c.iceServers).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.helper)).toBe(true);
  });

  it('parses every helper setting from its env name into a value the helper schema accepts', () => {
    const c = parseAgentConfig({
      ...base,
      VMLIVE_CODEC: 'h264',
      VMLIVE_WIDTH: '1920',
      VMLIVE_HEIGHT: '1080',
      VMLIVE_FPS: '60',
      VMLIVE_CAPTURE: 'timer',
      VMLIVE_BITRATE_KBPS: '4000',
      VMLIVE_KEYFRAME_INTERVAL_S: '2',
      VMLIVE_KEYFRAME_THROTTLE_MS: '0',
      VMLIVE_VP8_CPU_USED: '-4',
      VMLIVE_PLAYOUT_DELAY: 'off',
      VMLIVE_RTX: 'off',
      VMLIVE_TWCC: 'off',
      VMLIVE_LINK_ADAPT: 'off',
      VMLIVE_REDUCED_BITRATE_KBPS: '400',
      VMLIVE_ICE_TCP: 'yes',
      VMLIVE_PEER_SILENCE_MS: '8000',
      VMLIVE_RTP_MTU: '1400',
      VMLIVE_NICE: '0',
      VMLIVE_HELPER_LOG_LEVEL: 'debug',
    });
    expect(c.helper).toEqual({
      display: ':5',
      codec: 'h264',
      width: 1920,
      height: 1080,
      fps: 60,
      capture: 'timer',
      bitrateKbps: 4000,
      keyframeIntervalS: 2,
      keyframeThrottleMs: 0,
      vp8CpuUsed: -4,
      playoutDelay: false,
      rtx: false,
      twcc: false,
      linkAdapt: false,
      reducedBitrateKbps: 400,
      iceTcp: true,
      peerSilenceMs: 8000,
      mtu: 1400,
      nice: 0,
      logLevel: 'debug',
    });
    expect(HelperSettings.parse(c.helper)).toEqual(c.helper);
  });

  it('names the missing required variable', () => {
    const { VMLIVE_VM_TOKEN: _omit, ...rest } = base;
    expect(rejection(rest).variable).toBe('VMLIVE_VM_TOKEN');
    const { DISPLAY: _display, ...noDisplay } = base;
    expect(rejection(noDisplay).variable).toBe('DISPLAY');
  });

  it.each([
    ['VMLIVE_CODEC', 'av1', /one of vp8, h264/],
    ['VMLIVE_FPS', '0', /between 1 and 60/],
    ['VMLIVE_FPS', '61', /between 1 and 60/],
    ['VMLIVE_WIDTH', '12.5', /integer/],
    ['VMLIVE_WIDTH', '7680', /between 160 and 3840/],
    ['VMLIVE_RTP_MTU', '9000', /between 576 and 1500/],
    ['VMLIVE_PLAYOUT_DELAY', 'maybe', /boolean/],
    ['DISPLAY', 'nodisplay', /X display/],
    ['VMLIVE_CONTROLLER_URL', 'ftp://x', /http/],
    ['VMLIVE_ICE_SERVERS', '[{"url":1}]', /VMLIVE_ICE_SERVERS/],
    ['VMLIVE_ICE_SERVERS', 'not json', /VMLIVE_ICE_SERVERS/],
  ])('rejects %s=%s with a message naming it', (name, value, message) => {
    const err = rejection({ ...base, [name]: value });
    expect(err.variable).toBe(name);
    expect(err.message).toMatch(message);
  });

  it('parses ICE servers JSON', () => {
    const c = parseAgentConfig({ ...base, VMLIVE_ICE_SERVERS: '[{"urls":"stun:127.0.0.1:3478"}]' });
    expect(c.iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }]);
  });

  it('describes the agent settings and the helper settings with their env names', () => {
    const text = describeAgentSettings();
    for (const s of Object.values(HELPER_SETTINGS)) expect(text).toContain(s.env);
    expect(text).toMatch(/VMLIVE_VM_TOKEN.*\(required\)/);
  });

  describe('VMLIVE_CA_FILE (a CA bundle for an https:// controller)', () => {
    const ca = makeTestCa();
    afterAll(() => ca.remove());
    const https = { ...base, VMLIVE_CONTROLLER_URL: 'https://127.0.0.1:8443' };

    it('accepts a readable PEM bundle that Node was started with (NODE_EXTRA_CA_CERTS)', () => {
      const c = parseAgentConfig({ ...https, VMLIVE_CA_FILE: ca.caFile, NODE_EXTRA_CA_CERTS: ca.caFile });
      expect(c.caFile).toBe(ca.caFile);
      expect(c.controllerUrl).toBe('https://127.0.0.1:8443');
    });

    it('is optional: unset, the system roots alone are trusted', () => {
      expect(parseAgentConfig(https).caFile).toBe('');
    });

    it.each([
      ['an unreadable file', () => `${ca.dir}/missing.pem`, /cannot read/],
      ['a file without a certificate', () => file('empty.pem', 'not a certificate\n'), /no PEM certificate/],
      [
        'a damaged certificate',
        () => file('bad.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
        /not a valid X.509/,
      ],
    ])('rejects %s, naming VMLIVE_CA_FILE', (_what, path, message) => {
      const p = path();
      const err = rejection({ ...https, VMLIVE_CA_FILE: p, NODE_EXTRA_CA_CERTS: p });
      expect(err.variable).toBe('VMLIVE_CA_FILE');
      expect(err.message).toMatch(message);
    });

    it('rejects a bundle Node did not load at start (NODE_EXTRA_CA_CERTS unset or another file)', () => {
      for (const extra of [undefined, `${ca.dir}/other.pem`]) {
        const err = rejection({
          ...https,
          VMLIVE_CA_FILE: ca.caFile,
          ...(extra ? { NODE_EXTRA_CA_CERTS: extra } : {}),
        });
        expect(err.variable).toBe('VMLIVE_CA_FILE');
        expect(err.message).toMatch(/NODE_EXTRA_CA_CERTS/);
      }
    });

    function file(name: string, text: string): string {
      const p = `${ca.dir}/${name}`;
      writeFileSync(p, text);
      return p;
    }
  });
});
