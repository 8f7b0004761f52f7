import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALLOWLIST, classify, decide, expandPattern } from './hold-policy.js';

describe('hold policy: which commands pass while a person has control', () => {
  it.each([
    'Page.enable',
    'Runtime.enable',
    'Network.enable',
    'DOM.disable',
    'Browser.getVersion',
    'Target.getTargets',
    'Target.getTargetInfo',
    'Target.attachToTarget',
    'Target.attachToBrowserTarget',
    'Target.setDiscoverTargets',
    'Target.setAutoAttach',
    'Target.detachFromTarget',
    'DOM.getDocument',
    'DOM.querySelector',
    'Page.getFrameTree',
    'Page.setLifecycleEventsEnabled',
    'Runtime.releaseObject',
  ])('%s is a read: passes', (method) => {
    expect(classify(method)).toBe('read');
  });

  it.each([
    'Runtime.evaluate',
    'Runtime.callFunctionOn',
    'Runtime.addBinding',
    'Input.dispatchMouseEvent',
    'Input.insertText',
    'Page.navigate',
    'Page.reload',
    'Page.addScriptToEvaluateOnNewDocument',
    'Page.bringToFront',
    'Emulation.setDeviceMetricsOverride',
    'Emulation.setFocusEmulationEnabled',
    'Target.createTarget',
    'Target.closeTarget',
    'Target.activateTarget',
    'Target.sendMessageToTarget',
    'Browser.setDownloadBehavior',
    'Fetch.enable',
    'Debugger.enable',
    'WebAuthn.enable',
    'DOM.setAttributeValue',
    'Overlay.highlightNode',
    'Nope.unknownMethod',
    'getVersion',
  ])('%s could change the page or browser: held', (method) => {
    expect(classify(method)).toBe('change');
  });

  it('lets through what un-pauses the browser for the person: new targets, intercepted requests, the debugger', () => {
    for (const m of [
      'Runtime.runIfWaitingForDebugger',
      'Fetch.continueRequest',
      'Fetch.fulfillRequest',
      'Debugger.resume',
    ]) {
      expect(classify(m)).toBe('resume');
    }
  });

  it('passes a viewport screenshot, holds one that resizes the view beyond the viewport', () => {
    expect(classify('Page.captureScreenshot', { format: 'png' })).toBe('read');
    expect(classify('Page.captureScreenshot', { captureBeyondViewport: true })).toBe('change');
  });

  it('answers the Vmlive domain locally', () => {
    expect(classify('Vmlive.getControl')).toBe('vmlive');
    expect(classify('Vmlive.enable')).toBe('vmlive');
  });

  it('decides: forward in agent mode, hold (or reject) changes while held, reads queue behind held commands', () => {
    expect(decide('change', 'agent', 0, 'hold')).toBe('forward');
    expect(decide('change', 'user', 0, 'hold')).toBe('hold');
    expect(decide('change', 'paused', 0, 'hold')).toBe('hold');
    expect(decide('change', 'user', 0, 'reject')).toBe('reject');
    expect(decide('read', 'user', 0, 'hold')).toBe('forward');
    expect(decide('read', 'user', 3, 'hold')).toBe('hold');
    expect(decide('resume', 'user', 3, 'hold')).toBe('forward');
    expect(decide('vmlive', 'user', 3, 'hold')).toBe('local');
    expect(decide('vmlive', 'agent', 0, 'reject')).toBe('local');
  });

  it('expands alternation patterns', () => {
    expect(expandPattern('{A.x,B.y}')).toEqual(['A.x', 'B.y']);
    expect(expandPattern('{A,B}.enable')).toEqual(['A.enable', 'B.enable']);
    expect(expandPattern('Page.captureSnapshot')).toEqual(['Page.captureSnapshot']);
  });

  it('is documented: README.md lists every allowlist rule', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const rule of ALLOWLIST) {
      for (const method of expandPattern(rule.pattern)) expect(readme, method).toContain(method);
    }
  });
});
