import { describe, expect, it } from 'vitest';
import { errorFrame, eventFrame, parseCommand, resultFrame } from './cdp-message.js';

describe('CDP message parsing at the gateway edge', () => {
  it('reads id, method, sessionId and params of a command', () => {
    expect(parseCommand('{"id":3,"method":"Page.navigate","params":{"url":"x"},"sessionId":"S"}')).toEqual({
      kind: 'command',
      command: { id: 3, method: 'Page.navigate', sessionId: 'S', params: { url: 'x' } },
    });
    expect(parseCommand('{"id":0,"method":"Browser.getVersion"}')).toEqual({
      kind: 'command',
      command: { id: 0, method: 'Browser.getVersion', sessionId: undefined, params: {} },
    });
  });

  it.each([
    ['not json', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['null', 'not a JSON object'],
    ['"str"', 'not a JSON object'],
    ['{"method":"Page.enable"}', 'no integer id'],
    ['{"id":"1","method":"Page.enable"}', 'no integer id'],
    ['{"id":1.5,"method":"Page.enable"}', 'no integer id'],
  ])('%s is malformed (%s): nothing to answer', (text, reason) => {
    expect(parseCommand(text)).toEqual({ kind: 'malformed', reason });
  });

  it('answers a command with an id but a bad method, sessionId or params on that id', () => {
    expect(parseCommand('{"id":7}')).toMatchObject({ kind: 'invalid', id: 7, reason: 'bad method' });
    expect(parseCommand('{"id":7,"method":"A.b","sessionId":5}')).toMatchObject({ kind: 'invalid', id: 7 });
    expect(parseCommand('{"id":7,"method":"A.b","params":[1],"sessionId":"S"}')).toMatchObject({
      kind: 'invalid',
      id: 7,
      sessionId: 'S',
      reason: 'bad params',
    });
  });

  it('writes errors, results and events with the sessionId only when there is one', () => {
    expect(JSON.parse(errorFrame(1, undefined, -32000, 'm'))).toEqual({ id: 1, error: { code: -32000, message: 'm' } });
    expect(JSON.parse(errorFrame(1, 'S', -32000, 'm'))).toEqual({
      id: 1,
      sessionId: 'S',
      error: { code: -32000, message: 'm' },
    });
    expect(JSON.parse(resultFrame(2, 'S', { a: 1 }))).toEqual({ id: 2, sessionId: 'S', result: { a: 1 } });
    expect(JSON.parse(eventFrame('X.y', { a: 1 }, undefined))).toEqual({ method: 'X.y', params: { a: 1 } });
  });
});
