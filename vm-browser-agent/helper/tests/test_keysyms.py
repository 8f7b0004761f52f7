import unittest

from vmlive_helper.keysyms import char_keysym, dom_key_to_keysym, is_modifier_keysym


class DomKeyToKeysymTest(unittest.TestCase):
    def test_letters_and_digits_follow_the_key(self):
        self.assertEqual(dom_key_to_keysym('a', 'KeyA'), ord('a'))
        self.assertEqual(dom_key_to_keysym('A', 'KeyA'), ord('A'))
        self.assertEqual(dom_key_to_keysym('7', 'Digit7'), ord('7'))

    def test_punctuation_uses_the_produced_character(self):
        self.assertEqual(dom_key_to_keysym('@', 'Digit2'), ord('@'))
        self.assertEqual(dom_key_to_keysym(' ', 'Space'), 0x20)
        self.assertEqual(dom_key_to_keysym('/', 'Slash'), ord('/'))

    def test_named_keys(self):
        expected = {'Enter': 0xff0d, 'Tab': 0xff09, 'Backspace': 0xff08, 'Escape': 0xff1b, 'ArrowLeft': 0xff51,
                    'ArrowDown': 0xff54, 'Home': 0xff50, 'End': 0xff57, 'PageUp': 0xff55, 'PageDown': 0xff56,
                    'Delete': 0xffff, 'F1': 0xffbe, 'F12': 0xffc9}
        for key, keysym in expected.items():
            self.assertEqual(dom_key_to_keysym(key, key), keysym, key)

    def test_modifiers_keep_left_and_right_apart(self):
        self.assertEqual(dom_key_to_keysym('Shift', 'ShiftLeft'), 0xffe1)
        self.assertEqual(dom_key_to_keysym('Shift', 'ShiftRight'), 0xffe2)
        self.assertEqual(dom_key_to_keysym('Control', 'ControlLeft'), 0xffe3)
        self.assertEqual(dom_key_to_keysym('Alt', 'AltLeft'), 0xffe9)
        self.assertEqual(dom_key_to_keysym('Meta', 'MetaLeft'), 0xffeb)
        self.assertTrue(is_modifier_keysym(0xffe1))
        self.assertFalse(is_modifier_keysym(ord('a')))

    def test_unidentified_key_falls_back_to_code(self):
        self.assertEqual(dom_key_to_keysym('Unidentified', 'KeyQ'), ord('q'))
        self.assertEqual(dom_key_to_keysym('Dead', 'Quote'), ord("'"))
        self.assertEqual(dom_key_to_keysym('Unidentified', 'Numpad5'), 0xffb5)
        self.assertIsNone(dom_key_to_keysym('Unidentified', 'Fn'))

    def test_unicode_characters_use_unicode_keysyms(self):
        self.assertEqual(char_keysym('é'), 0xe9)  # Latin-1: keysym == code point
        self.assertEqual(char_keysym('€'), 0x010020ac)
        self.assertEqual(char_keysym('日'), 0x010065e5)
        self.assertEqual(char_keysym('\n'), 0xff0d)


if __name__ == '__main__':
    unittest.main()
