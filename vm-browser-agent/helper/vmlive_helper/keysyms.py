"""DOM KeyboardEvent `key`/`code` -> X11 keysym numbers (pure; no X connection).

Values are from X11/keysymdef.h. Printable characters map per the keysym encoding rule:
Latin-1 characters are their own keysym, any other Unicode character U is 0x01000000 + U
(X11 "Unicode keysyms", keysymdef.h).
"""
from typing import Optional

# DOM `key` values (UI Events KeyboardEvent key Values) for non-printable keys.
NAMED_KEYS = {
    'Enter': 0xff0d, 'Tab': 0xff09, 'Backspace': 0xff08, 'Escape': 0xff1b, 'Delete': 0xffff,
    'Insert': 0xff63, 'Home': 0xff50, 'End': 0xff57, 'PageUp': 0xff55, 'PageDown': 0xff56,
    'ArrowLeft': 0xff51, 'ArrowUp': 0xff52, 'ArrowRight': 0xff53, 'ArrowDown': 0xff54,
    'Pause': 0xff13, 'ScrollLock': 0xff14, 'PrintScreen': 0xff61, 'ContextMenu': 0xff67,
    'CapsLock': 0xffe5, 'NumLock': 0xff7f,
    'Shift': 0xffe1, 'Control': 0xffe3, 'Alt': 0xffe9, 'Meta': 0xffeb, 'AltGraph': 0xfe03, 'OS': 0xffeb,
    'Super': 0xffeb,
}
for _n in range(1, 13):
    NAMED_KEYS['F%d' % _n] = 0xffbe + _n - 1

# Left/right variants chosen by DOM `code` for modifier keys.
MODIFIER_CODES = {
    'ShiftLeft': 0xffe1, 'ShiftRight': 0xffe2, 'ControlLeft': 0xffe3, 'ControlRight': 0xffe4,
    'AltLeft': 0xffe9, 'AltRight': 0xffea, 'MetaLeft': 0xffeb, 'MetaRight': 0xffec,
    'OSLeft': 0xffeb, 'OSRight': 0xffec,
}

# DOM `code` (physical US-layout position) -> unshifted character, the fallback when
# `key` is something we cannot map (e.g. 'Dead' or 'Unidentified').
_CODE_CHARS = {
    'Space': ' ', 'Minus': '-', 'Equal': '=', 'BracketLeft': '[', 'BracketRight': ']', 'Backslash': '\\',
    'Semicolon': ';', 'Quote': "'", 'Backquote': '`', 'Comma': ',', 'Period': '.', 'Slash': '/',
    'IntlBackslash': '\\',
}

KEYSYM_SHIFT_L = 0xffe1


def char_keysym(char: str) -> int:
    """Keysym for one printable character."""
    point = ord(char)
    if char == '\n' or char == '\r':
        return NAMED_KEYS['Enter']
    if char == '\t':
        return NAMED_KEYS['Tab']
    if 0x20 <= point <= 0x7e or 0xa0 <= point <= 0xff:
        return point
    return 0x01000000 + point


def _code_keysym(code: str) -> Optional[int]:
    if code in MODIFIER_CODES:
        return MODIFIER_CODES[code]
    if code.startswith('Key') and len(code) == 4 and code[3].isalpha():
        return ord(code[3].lower())
    if code.startswith('Digit') and len(code) == 6 and code[5].isdigit():
        return ord(code[5])
    if code.startswith('Numpad') and len(code) == 7 and code[6].isdigit():
        return 0xffb0 + int(code[6])  # XK_KP_0..9
    if code == 'NumpadEnter':
        return 0xff8d
    if code in _CODE_CHARS:
        return ord(_CODE_CHARS[code])
    if code in NAMED_KEYS:  # Enter, Tab, F1.. share names between key and code
        return NAMED_KEYS[code]
    return None


def dom_key_to_keysym(key: str, code: str) -> Optional[int]:
    """Keysym for a DOM key event, or None when it cannot be mapped.

    `key` wins (it reflects the viewer's layout and Shift), except for modifiers, where
    `code` tells left from right so that releases match presses.
    """
    if code in MODIFIER_CODES:
        return MODIFIER_CODES[code]
    if key in NAMED_KEYS:
        return NAMED_KEYS[key]
    if len(key) == 1 and (key == ' ' or key.isprintable()):
        return char_keysym(key)
    if key == 'Spacebar':
        return 0x20
    return _code_keysym(code)


def is_modifier_keysym(keysym: int) -> bool:
    return 0xffe1 <= keysym <= 0xffee or keysym == 0xfe03
