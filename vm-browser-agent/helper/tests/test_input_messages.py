import json
import unittest

from vmlive_helper.input_injection import ControlGate, WheelAccumulator, scale_point, split_for_remap
from vmlive_helper.contract import SchemaError
from vmlive_helper.input_messages import InputCounts, InvalidInput, encode_feedback, parse_input


def ok(msg):
    return parse_input(json.dumps(msg))


class ParseInputTest(unittest.TestCase):
    def test_valid_messages(self):
        self.assertEqual(ok({'t': 'pointer', 'action': 'down', 'x': 0.5, 'y': 1, 'button': 2})['button'], 2)
        self.assertNotIn('button', ok({'t': 'pointer', 'action': 'move', 'x': 0, 'y': 0}))
        self.assertEqual(ok({'t': 'wheel', 'x': 0.1, 'y': 0.2, 'dx': 0, 'dy': -120})['dy'], -120)
        key = ok({'t': 'key', 'action': 'down', 'key': 'a', 'code': 'KeyA', 'mods': {'shift': True}})
        self.assertEqual(key['mods'], {'shift': True})
        self.assertEqual(ok({'t': 'text', 'text': 'héllo'})['text'], 'héllo')

    def test_invalid_messages(self):
        bad = [
            'not json', '[]', '{}', json.dumps({'t': 'nope'}),
            json.dumps({'t': 'pointer', 'action': 'move', 'x': 1.5, 'y': 0}),
            json.dumps({'t': 'pointer', 'action': 'move', 'x': True, 'y': 0}),
            json.dumps({'t': 'pointer', 'action': 'drag', 'x': 0, 'y': 0}),
            json.dumps({'t': 'pointer', 'action': 'down', 'x': 0, 'y': 0, 'button': 5}),
            json.dumps({'t': 'pointer', 'action': 'down', 'x': 0, 'y': 0, 'button': 1.5}),
            '{"t":"wheel","x":0,"y":0,"dx":NaN,"dy":0}',
            json.dumps({'t': 'key', 'action': 'down', 'key': '', 'code': 'KeyA'}),
            json.dumps({'t': 'key', 'action': 'down', 'key': 'a' * 33, 'code': 'KeyA'}),
            json.dumps({'t': 'key', 'action': 'press', 'key': 'a', 'code': 'KeyA'}),
            json.dumps({'t': 'key', 'action': 'down', 'key': 'a', 'code': 'KeyA', 'mods': {'shift': 1}}),
            json.dumps({'t': 'text', 'text': ''}),
            json.dumps({'t': 'text', 'text': 'x' * 4097}),
            json.dumps({'t': 'text', 'text': 'x' * 20000}),
        ]
        for text in bad:
            with self.assertRaises(InvalidInput, msg=text):
                parse_input(text)

    def test_reasons_name_the_field(self):
        with self.assertRaises(InvalidInput) as ctx:
            ok({'t': 'pointer', 'action': 'move', 'x': 1.5, 'y': 0})
        self.assertEqual(str(ctx.exception), 'x: must be <= 1')
        with self.assertRaises(InvalidInput) as ctx:
            ok({'t': 'nope'})
        self.assertEqual(str(ctx.exception), 't: must be one of pointer, wheel, key, text')


class InputCountsTest(unittest.TestCase):
    def test_counts_what_was_injected_never_what(self):
        counts = InputCounts()
        counts.add(ok({'t': 'pointer', 'action': 'move', 'x': 0.1, 'y': 0.2}))
        counts.add(ok({'t': 'pointer', 'action': 'down', 'x': 0.1, 'y': 0.2, 'button': 0}))
        counts.add(ok({'t': 'wheel', 'x': 0, 'y': 0, 'dx': 0, 'dy': 120}))
        counts.add(ok({'t': 'key', 'action': 'down', 'key': 's', 'code': 'KeyS'}))
        counts.add(ok({'t': 'key', 'action': 'down', 'key': 'Dead', 'code': ''}), failed=1)
        counts.add(ok({'t': 'text', 'text': 'secret'}), failed=2)
        self.assertEqual(counts.as_dict(), {'pointer': 2, 'key': 5, 'wheel': 1})
        self.assertNotIn('secret', json.dumps(counts.as_dict()))


class FeedbackTest(unittest.TestCase):
    def test_feedback_is_encoded_as_one_compact_json_message(self):
        self.assertEqual(encode_feedback({'t': 'control', 'granted': True}), '{"t":"control","granted":true}')
        self.assertEqual(json.loads(encode_feedback({'t': 'rejected', 'reason': 'invalid', 'detail': 'x'})),
                         {'t': 'rejected', 'reason': 'invalid', 'detail': 'x'})

    def test_malformed_feedback_is_refused(self):
        for bad in ({'t': 'control'}, {'t': 'control', 'granted': 'yes'}, {'t': 'rejected', 'reason': 'bored'},
                    {'t': 'control', 'granted': True, 'extra': 1}):
            with self.assertRaises(SchemaError, msg=repr(bad)):
                encode_feedback(bad)


class PureInputLogicTest(unittest.TestCase):
    def test_scale_point_maps_the_unit_square_onto_the_screen(self):
        self.assertEqual(scale_point(0, 0, 1920, 1080), (0, 0))
        self.assertEqual(scale_point(1, 1, 1920, 1080), (1919, 1079))
        self.assertEqual(scale_point(0.5, 0.5, 1281, 721), (640, 360))

    def test_wheel_accumulates_small_deltas_into_clicks(self):
        wheel = WheelAccumulator(100)
        self.assertEqual(wheel.add(0, 40), (0, 0))
        self.assertEqual(wheel.add(0, 70), (0, 1))
        self.assertEqual(wheel.add(0, -250), (0, -2))  # direction change drops the remainder
        self.assertEqual(wheel.add(120, 0), (1, 0))

    def test_split_for_remap_bounds_new_keysyms_per_segment(self):
        seq = [1, 2, 100, 101, 2, 102, 100, 103]
        segments = split_for_remap(seq, known={1, 2}, capacity=2)
        self.assertEqual([s for s, _ in segments], [[1, 2, 100, 101, 2], [102, 100, 103]])
        self.assertEqual([n for _, n in segments], [{100, 101}, {102, 103}])
        self.assertEqual(split_for_remap([5, 6], known={5, 6}, capacity=8), [([5, 6], set())])
        self.assertEqual(split_for_remap([], known=set(), capacity=8), [])

    def test_control_gate_allows_only_the_holder_and_rate_limits_reports(self):
        now = [0.0]
        gate = ControlGate(report_interval=1.0, clock=lambda: now[0])
        self.assertFalse(gate.allowed('a'))
        gate.holder = 'a'
        self.assertTrue(gate.allowed('a'))
        self.assertFalse(gate.allowed('b'))
        self.assertTrue(gate.should_report('b', 'not-holder'))
        self.assertFalse(gate.should_report('b', 'not-holder'))
        self.assertTrue(gate.should_report('b', 'invalid'))
        now[0] = 1.5
        self.assertTrue(gate.should_report('b', 'not-holder'))


if __name__ == '__main__':
    unittest.main()
