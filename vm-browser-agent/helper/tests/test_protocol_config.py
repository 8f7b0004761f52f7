import io
import json
import unittest

from vmlive_helper.config import ConfigError, load_config
from vmlive_helper.playout_delay import encode_delay
from vmlive_helper.protocol import Emitter, ProtocolError, parse_command


class ParseCommandTest(unittest.TestCase):
    def test_valid_commands_get_defaults(self):
        self.assertEqual(parse_command('{"type":"add-peer","peerId":"p"}'),
                         {'type': 'add-peer', 'peerId': 'p', 'iceServers': []})
        snap = parse_command('{"type":"snapshot","requestId":3}')
        self.assertEqual((snap['quality'], snap['peerId']), (70, None))
        self.assertEqual(parse_command('{"type":"set-control-holder","peerId":null}')['peerId'], None)
        self.assertEqual(parse_command('{"type":"get-stats","peerId":null,"requestId":1.0}')['requestId'], 1)
        self.assertEqual(parse_command('{"type":"shutdown"}'), {'type': 'shutdown', 'peerId': None})
        servers = parse_command(json.dumps({'type': 'add-peer', 'peerId': 'p', 'iceServers': [
            {'urls': 'stun:s:3478'}, {'urls': ['turn:t:3478'], 'username': 'u', 'credential': 'c'}]}))['iceServers']
        self.assertEqual(servers[0]['urls'], ['stun:s:3478'])
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
            '{"type":"snapshot","requestId":1,"quality":0}', '{"type":"shutdown","peerId":"p"}',
            '{"type":"add-peer","peerId":"p","iceServers":[{"urls":5}]}',
        ]
        for line in bad:
            with self.assertRaises(ProtocolError, msg=line):
                parse_command(line)

    def test_protocol_errors_keep_the_peer_id_when_there_is_one(self):
        with self.assertRaises(ProtocolError) as ctx:
            parse_command('{"type":"remote-candidate","peerId":"p7","candidate":1,"sdpMLineIndex":0}')
        self.assertEqual(ctx.exception.peer_id, 'p7')

    def test_emitter_writes_one_compact_line_per_event(self):
        out = io.StringIO()
        Emitter(out).error('x', 'multi\nline', 'p')
        self.assertEqual(out.getvalue().count('\n'), 1)
        self.assertEqual(json.loads(out.getvalue())['message'], 'multi\nline')


class ConfigTest(unittest.TestCase):
    def test_defaults(self):
        cfg = load_config({'DISPLAY': ':5'})
        self.assertEqual((cfg.codec, cfg.width, cfg.height, cfg.fps), ('vp8', 1280, 720, 30))
        self.assertTrue(cfg.playout_delay)

    def test_every_bad_value_is_named(self):
        with self.assertRaises(ConfigError) as ctx:
            load_config({'VMLIVE_CODEC': 'av1', 'VMLIVE_FPS': '0', 'VMLIVE_WIDTH': 'wide'})
        message = str(ctx.exception)
        for name in ('DISPLAY', 'VMLIVE_CODEC', 'VMLIVE_FPS', 'VMLIVE_WIDTH'):
            self.assertIn(name, message)

    def test_config_is_frozen(self):
        cfg = load_config({'DISPLAY': ':5'})
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
            {'urls': ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
             'username': 'u:1', 'credential': 'p@ss/word'},
            {'urls': ['turn:no-credentials:3478']},
        ])
        self.assertEqual(stun, 'stun://stun.example.org:3478')
        self.assertEqual(turns, ['turn://u%3A1:p%40ss%2Fword@turn.example.org:3478?transport=udp',
                                 'turns://u%3A1:p%40ss%2Fword@turn.example.org:5349'])


if __name__ == '__main__':
    unittest.main()
