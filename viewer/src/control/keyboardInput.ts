/**
 * DOM keyboard and clipboard events → `input` channel messages.
 */
import type { KeyInput, TextInput } from '@vmlive/protocol';

export interface KeyLike {
  key: string;
  code: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
  isComposing?: boolean;
}

const MAX_KEY_LENGTH = 32;
/** Code points per message: the protocol caps `text` at 4096 UTF-16 units; a code point is at most 2. */
const MAX_TEXT_CODE_POINTS = 2048;

/** Returns null for events the VM cannot use (IME composition, unknown keys). */
export function keyEventToInput(event: KeyLike, action: 'down' | 'up'): KeyInput | null {
  if (event.isComposing || event.key === 'Process' || event.key === 'Dead') return null;
  if (!event.key || event.key.length > MAX_KEY_LENGTH || event.code.length > MAX_KEY_LENGTH) return null;
  return {
    t: 'key',
    action,
    key: event.key,
    code: event.code,
    mods: { shift: event.shiftKey, ctrl: event.ctrlKey, alt: event.altKey, meta: event.metaKey },
  };
}

/** Ctrl/Cmd+V is left to the browser so its `paste` event delivers the text (sent as `text`). */
export function isPasteShortcut(event: KeyLike): boolean {
  return (event.ctrlKey || event.metaKey) && !event.altKey && (event.key === 'v' || event.key === 'V');
}

/** Alt+Shift+Q leaves the remote screen: focus goes back to the page instead of the VM. */
export const LEAVE_SHORTCUT_LABEL = 'Alt+Shift+Q';
export function isLeaveShortcut(event: KeyLike): boolean {
  return event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code === 'KeyQ';
}

/** Splits pasted text into `text` messages within the protocol's size limit. */
export function textToInputs(text: string): TextInput[] {
  const out: TextInput[] = [];
  const chars = Array.from(text); // never split a surrogate pair
  for (let i = 0; i < chars.length; i += MAX_TEXT_CODE_POINTS) {
    out.push({ t: 'text', text: chars.slice(i, i + MAX_TEXT_CODE_POINTS).join('') });
  }
  return out;
}

/** Tracks pressed keys so focus loss can release them (no stuck Ctrl in the VM). */
export class PressedKeys {
  private readonly down = new Map<string, KeyInput>();

  press(input: KeyInput): void {
    this.down.set(input.code || input.key, input);
  }

  release(input: KeyInput): void {
    this.down.delete(input.code || input.key);
  }

  /** Key-up messages for everything still held, and forget them. */
  releaseAll(): KeyInput[] {
    const ups = [...this.down.values()].map((k): KeyInput => ({ ...k, action: 'up', mods: {} }));
    this.down.clear();
    return ups;
  }
}
