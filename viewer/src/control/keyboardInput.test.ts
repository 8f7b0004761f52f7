import { TextInput } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { isLeaveShortcut, isPasteShortcut, keyEventToInput, PressedKeys, textToInputs } from './keyboardInput.js';

const key = (
  k: string,
  code: string,
  mods: Partial<Record<'shiftKey' | 'ctrlKey' | 'altKey' | 'metaKey', boolean>> = {},
) => ({
  key: k,
  code,
  shiftKey: false,
  ctrlKey: false,
  altKey: false,
  metaKey: false,
  ...mods,
});

describe('keyboard input', () => {
  it('carries key, code and modifiers', () => {
    expect(keyEventToInput(key('A', 'KeyA', { shiftKey: true, ctrlKey: true }), 'down')).toEqual({
      t: 'key',
      action: 'down',
      key: 'A',
      code: 'KeyA',
      mods: { shift: true, ctrl: true, alt: false, meta: false },
    });
  });

  it('skips IME composition', () => {
    expect(keyEventToInput({ ...key('a', 'KeyA'), isComposing: true }, 'down')).toBeNull();
    expect(keyEventToInput(key('Process', 'KeyA'), 'down')).toBeNull();
  });

  it('leaves Ctrl/Cmd+V to the browser paste event', () => {
    expect(isPasteShortcut(key('v', 'KeyV', { ctrlKey: true }))).toBe(true);
    expect(isPasteShortcut(key('v', 'KeyV', { metaKey: true }))).toBe(true);
    expect(isPasteShortcut(key('v', 'KeyV'))).toBe(false);
    expect(isPasteShortcut(key('c', 'KeyC', { ctrlKey: true }))).toBe(false);
  });

  it('recognises the leave-the-screen shortcut by physical key, whatever the layout', () => {
    expect(isLeaveShortcut(key('Œ', 'KeyQ', { altKey: true, shiftKey: true }))).toBe(true);
    expect(isLeaveShortcut(key('q', 'KeyQ', { altKey: true }))).toBe(false);
    expect(isLeaveShortcut(key('Q', 'KeyQ', { altKey: true, shiftKey: true, ctrlKey: true }))).toBe(false);
  });

  it('splits long pasted text into valid text messages without breaking surrogate pairs', () => {
    const text = '😀'.repeat(3000);
    const messages = textToInputs(text);
    expect(messages.length).toBe(2);
    for (const m of messages) TextInput.parse(m);
    expect(messages.map((m) => m.text).join('')).toBe(text);
  });

  it('releases every held key on focus loss', () => {
    const pressed = new PressedKeys();
    const ctrl = keyEventToInput(key('Control', 'ControlLeft', { ctrlKey: true }), 'down');
    const a = keyEventToInput(key('a', 'KeyA'), 'down');
    if (!ctrl || !a) throw new Error('unexpected null');
    pressed.press(ctrl);
    pressed.press(a);
    pressed.release(a);
    expect(pressed.releaseAll()).toEqual([{ t: 'key', action: 'up', key: 'Control', code: 'ControlLeft', mods: {} }]);
    expect(pressed.releaseAll()).toEqual([]);
  });
});
