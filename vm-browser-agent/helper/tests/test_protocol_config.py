import dataclasses
import io
import json
import os
import re
import unittest

from vmlive_helper import contract
from vmlive_helper.config import Config, ConfigError, parse_settings, settings_argument, settings_help, snake_case
from vmlive_helper.playout_delay import encode_delay
from vmlive_helper.protocol import Emitter, ProtocolError, parse_command


class ParseCommandTest(unittest.TestCase):
    def test_valid_commands_get_defaults(self):
        self.assertEqual(parse_command('{"type":"add-peer","peerId":"p"}'),
                         {'type': 'add-peer', 'peerId': 'p', 'iceServers': [], 'iceTransportPolicy': 'all'})
        snap = parse_command('{"type":"snapshot","requestId":3}')
        self.assertEqual((snap['quality'], snap['peerId']), (70, None))
        self.assertEqual(parse_command('{"type":"set-control-holder","peerId":null}')['peerId'], None)
        request_id = parse_command('{"type":"get-stats","peerId":null,"requestId":1.0}')['requestId']
        self.assertEqual((request_id, type(request_id)), (1, int))
        self.assertEqual(parse_command('{"type":"shutdown"}'), {'type': 'shutdown', 'peerId': None})
        servers = parse_command(json.dumps({'type': 'add-peer', 'peerId': 'p', 'iceServers': [
            {'urls': 'stun:s:3478'}, {'urls': ['turn:t:3478'], 'username': 'u', 'credential': 'c'}]}))['iceServers']
        self.assertEqual(servers[0]['urls'], 'stun:s:3478')
        self.assertEqual(servers[1]['username'], 'u')

    def test_invalid_commands_raise_protocol_errors(self):
        bad = [
            'nope', '[]', '{"type":"bogus"}', '{"type":"add-peer"}', '{"type":"add-peer","peerId":""}',
            '{"type":"add-peer","peerId":"%s"}' % ('x' * 65),
            '{"type":"remote-description","peerId":"p","sdpType":"answer","sdp":"v=0"}',
            '{"type":"remote-description","peerId":"p","sdpType":"offer","sdp":""}',
            '{"type":"remote-candidate","peerId":"p","candidate":"c","sdpMLineIndex":-1}',
            '{"type":"remote-candidate","peerId":"p","candidate":"c","sdpMLineIndex":0.5}',
            '{"type":"set-control-holder"}', '{"type":"get-stats","peerId":null,"requestId":"1"}',
            '{"type":"get-stats","peerId":null,"requestId":true}',
            '{"type":"get-stats","peerId":null,"requestId":NaN}',
            '{"type":"snapshot","requestId":1,"quality":0}', '{"type":"shutdown","peerId":"p"}',
            '{"type":"add-peer","peerId":"p","iceServers":[{"urls":5}]}',
            '{"type":"add-peer","peerId":"p","iceServers":[{"urls":[]}]}',
        ]
        for line in bad:
            with self.assertRaises(ProtocolError, msg=line):
                parse_command(line)

    def test_protocol_errors_name_the_command_and_the_field(self):
        with self.assertRaises(ProtocolError) as ctx:
            parse_command('{"type":"remote-candidate","peerId":"p7","candidate":1,"sdpMLineIndex":0}')
        self.assertEqual(ctx.exception.peer_id, 'p7')
        self.assertEqual(str(ctx.exception), 'remote-candidate: candidate: must be string, got integer')
        with self.assertRaises(ProtocolError) as ctx:
            parse_command('{"type":"bogus"}')
        self.assertIn('type: must be one of add-peer', str(ctx.exception))

    def test_emitter_writes_one_compact_line_per_event(self):
        out = io.StringIO()
        Emitter(out).error('command-failed', 'multi\nline', 'p')
        self.assertEqual(out.getvalue().count('\n'), 1)
        self.assertEqual(json.loads(out.getvalue())['message'], 'multi\nline')

    def test_emitter_drops_events_that_break_the_contract(self):
        out = io.StringIO()
        emitter = Emitter(out)
        with self.assertLogs('vmlive.protocol', 'ERROR'):
            emitter.error('no-such-code', 'x')
            emitter.emit({'type': 'peer-state', 'peerId': 'p', 'ice': 'new'})
            emitter.emit({'type': 'log', 'peerId': None, 'level': 'info', 'msg': 'x', 'extra': 1})
        self.assertEqual(out.getvalue(), '')
        emitter.emit({'type': 'log', 'peerId': None, 'level': 'info', 'msg': 'ok'})
        self.assertEqual(json.loads(out.getvalue()), {'type': 'log', 'peerId': None, 'level': 'info', 'msg': 'ok'})


class ErrorCodesTest(unittest.TestCase):
    def test_every_error_code_the_helper_emits_is_a_helper_error_code(self):
        """The agent decides on the code (webrtc-server.ts HELPER_ERROR_EFFECT): a code outside
        HelperErrorCode would be dropped by the encoder, so find every literal in the sources."""
        package = os.path.join(os.path.dirname(__file__), '..', 'vmlive_helper')
        found = set()
        for name in os.listdir(package):
            if name.endswith('.py'):
                with open(os.path.join(package, name), encoding='utf-8') as f:
                    text = f.read()
                found.update(re.findall(r"\.error\(\s*'([a-z-]+)'", text))
                if name == 'main.py':
                    table = re.search(r'_FAILURE_CODE = \{(.*?)\}', text, re.S).group(1)
                    found.update(re.findall(r":\s*'([a-z-]+)'", table))
        self.assertTrue({'negotiation-failed', 'candidate-rejected', 'bad-config'} <= found, found)
        self.assertEqual(found - contract.ERROR_CODES, set())


class ConfigTest(unittest.TestCase):
    def test_defaults_come_from_the_contract(self):
        cfg = parse_settings('{"display":":5"}')
        self.assertEqual((cfg.codec, cfg.width, cfg.height, cfg.fps), ('vp8', 1280, 720, 30))
        self.assertTrue(cfg.playout_delay)
        self.assertFalse(cfg.ice_tcp)

    def test_config_has_one_field_per_setting_of_the_table(self):
        keys = [snake_case(row['key']) for row in contract.SETTINGS]
        self.assertEqual([f.name for f in dataclasses.fields(Config)], keys)

    def test_a_bad_value_is_named_with_its_env_variable(self):
        cases = [
            ('{"codec":"av1","display":":1"}', 'codec (VMLIVE_CODEC): must be one of vp8, h264'),
            ('{"display":":1","fps":61}', 'fps (VMLIVE_FPS): must be <= 60'),
            ('{"display":":1","width":12.5}', 'width (VMLIVE_WIDTH): must be integer, got number'),
            ('{"display":"nope"}', 'display (DISPLAY): must match'),
            ('{}', 'display (DISPLAY): is required'),
            ('{"display":":1","bogus":1}', 'bogus: is not allowed'),
            ('[]', 'must be a JSON object'),
            ('{', 'is not JSON'),
        ]
        for text, message in cases:
            with self.assertRaises(ConfigError, msg=text) as ctx:
                parse_settings(text)
            self.assertIn(message, str(ctx.exception))

    def test_settings_come_from_argv_only(self):
        self.assertEqual(settings_argument(['--settings={"display":":1"}']), '{"display":":1"}')
        self.assertEqual(settings_argument(['--settings', '{}']), '{}')
        with self.assertRaises(ConfigError):
            settings_argument([])

    def test_help_lists_every_setting_with_its_env_name(self):
        text = settings_help()
        for row in contract.SETTINGS:
            self.assertIn(row['env'], text)
        self.assertIn('VMLIVE_KEYFRAME_THROTTLE_MS', text)

    def test_config_is_frozen(self):
        cfg = parse_settings('{"display":":5"}')
        with self.assertRaises(Exception):
            cfg.fps = 60


class PlayoutDelayEncodingTest(unittest.TestCase):
    def test_min_and_max_are_12_bit_10ms_units(self):
        self.assertEqual(encode_delay(0, 0), b'\x00\x00\x00')
        self.assertEqual(encode_delay(100, 200), bytes((0x00, 0xa0, 0x14)))
        self.assertEqual(encode_delay(40950, 99999), b'\xff\xff\xff')


class IceServersTest(unittest.TestCase):
    def test_maps_rtc_ice_servers_to_webrtcbin_uris(self):
        from vmlive_helper.ice_servers import webrtcbin_ice_urls
        stun, turns = webrtcbin_ice_urls([
            {'urls': ['stun:stun.example.org:3478', 'stun:second:3478']},
            {'urls': 'stun:ignored-second-stun:3478'},
            {'urls': ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
             'username': 'u:1', 'credential': 'p@ss/word'},
            {'urls': ['turn:no-credentials:3478']},
        ])
        self.assertEqual(stun, 'stun://stun.example.org:3478')
        self.assertEqual(turns, ['turn://u%3A1:p%40ss%2Fword@turn.example.org:3478?transport=udp',
                                 'turns://u%3A1:p%40ss%2Fword@turn.example.org:5349'])


if __name__ == '__main__':
    unittest.main()
