import unittest

from vmlive_helper.sdp_munging import (PLAYOUT_DELAY_URI, TRANSPORT_CC_URI, OfferError, add_extmap, add_rtcp_fb,
                                       has_extmap, ice_credentials, new_ice_credentials, parse_video_offer,
                                       ssrc_groups, with_ice_credentials)

# Trimmed from a Chromium 156 offer: recvonly video + data channel, bundled.
OFFER = '\r\n'.join([
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 98 99 109 45',
    'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=recvonly', 'a=rtcp-mux',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 transport-cc', 'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
    'a=rtpmap:103 H264/90000',
    'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:108 H264/90000',
    'a=rtcp-fb:108 transport-cc',
    'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:98 rtx/90000', 'a=fmtp:98 apt=108',
    'a=rtpmap:99 rtx/90000', 'a=fmtp:99 apt=103',
    'a=rtpmap:109 H264/90000',
    'a=fmtp:109 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
    'a=rtpmap:45 AV1/90000',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sctp-port:5000',
]) + '\r\n'


class ParseVideoOfferTest(unittest.TestCase):
    def test_vp8_takes_the_offered_payload_type_and_extmap_id(self):
        offer = parse_video_offer(OFFER, 'vp8')
        self.assertEqual((offer.mline_index, offer.mid, offer.payload_type, offer.playout_delay_id), (0, '0', 96, 6))

    def test_h264_picks_constrained_baseline_with_packetization_mode_1(self):
        offer = parse_video_offer(OFFER, 'h264')
        self.assertEqual(offer.payload_type, 108)
        self.assertEqual(offer.fmtp['profile-level-id'], '42e01f')

    def test_h264_falls_back_to_baseline_mode_1_when_no_constrained_baseline(self):
        sdp = OFFER.replace('a=rtpmap:108 H264/90000\r\n', '').replace(
            'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n', '')
        self.assertEqual(parse_video_offer(sdp, 'h264').payload_type, 103)

    def test_h264_never_picks_packetization_mode_0(self):
        sdp = OFFER.replace('packetization-mode=1', 'packetization-mode=0')
        with self.assertRaises(OfferError):
            parse_video_offer(sdp, 'h264')

    def test_video_after_the_data_channel_has_its_own_index(self):
        sections = OFFER.split('m=')
        reordered = sections[0] + 'm=' + sections[2] + 'm=' + sections[1]
        self.assertEqual(parse_video_offer(reordered, 'vp8').mline_index, 1)

    def test_no_playout_delay_extension_means_none(self):
        sdp = OFFER.replace('a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n', '')
        self.assertIsNone(parse_video_offer(sdp, 'vp8').playout_delay_id)

    def test_two_byte_only_extension_ids_are_not_used(self):
        sdp = OFFER.replace('a=extmap:6 http', 'a=extmap:15 http')
        self.assertIsNone(parse_video_offer(sdp, 'vp8').playout_delay_id)

    def test_extmap_with_direction_is_read(self):
        sdp = OFFER.replace('a=extmap:6 http', 'a=extmap:6/sendrecv http')
        self.assertEqual(parse_video_offer(sdp, 'vp8').playout_delay_id, 6)

    def test_transport_cc_is_read_where_the_chosen_payload_type_asks_for_its_feedback(self):
        self.assertEqual(parse_video_offer(OFFER, 'vp8').transport_cc_id, 3)
        self.assertEqual(parse_video_offer(OFFER, 'h264').transport_cc_id, 3)  # 108, Constrained Baseline

    def test_transport_cc_without_its_rtcp_fb_for_the_payload_type_means_none(self):
        # The viewer reports arrivals only for payload types that name transport-cc.
        sdp = OFFER.replace('a=rtcp-fb:96 transport-cc\r\n', '')
        self.assertIsNone(parse_video_offer(sdp, 'vp8').transport_cc_id)
        self.assertEqual(parse_video_offer(sdp, 'h264').transport_cc_id, 3)

    def test_rtx_is_the_offered_rtx_whose_apt_is_the_chosen_payload_type(self):
        self.assertEqual(parse_video_offer(OFFER, 'vp8').rtx_payload_type, 97)
        self.assertEqual(parse_video_offer(OFFER, 'h264').rtx_payload_type, 98)

    def test_rtx_of_the_fallback_h264_payload_type_follows_it(self):
        sdp = OFFER.replace('a=rtpmap:108 H264/90000\r\n', '').replace(
            'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n', '')
        offer = parse_video_offer(sdp, 'h264')
        self.assertEqual((offer.payload_type, offer.rtx_payload_type), (103, 99))

    def test_no_rtx_for_the_codec_means_none(self):
        other_apt = OFFER.replace('a=fmtp:97 apt=96', 'a=fmtp:97 apt=45')
        self.assertIsNone(parse_video_offer(other_apt, 'vp8').rtx_payload_type)
        self.assertIsNone(parse_video_offer(OFFER.replace('97 rtx/90000', '97 red/90000'), 'vp8').rtx_payload_type)

    def test_offer_without_video_or_codec_is_an_error(self):
        with self.assertRaises(OfferError):
            parse_video_offer(OFFER.replace('VP8/90000', 'VP9/90000'), 'vp8')
        with self.assertRaises(OfferError):
            parse_video_offer(OFFER.replace('a=recvonly', 'a=sendonly'), 'vp8')


class AddExtmapTest(unittest.TestCase):
    ANSWER = '\r\n'.join(['v=0', 'o=- 1 0 IN IP4 0.0.0.0', 's=-', 't=0 0', 'm=video 9 UDP/TLS/RTP/SAVPF 96',
                          'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtpmap:96 VP8/90000',
                          'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:1']) + '\r\n'

    def test_adds_the_extension_to_the_video_section_only(self):
        out = add_extmap(self.ANSWER, 0, 6, PLAYOUT_DELAY_URI)
        self.assertTrue(has_extmap(out, 0, PLAYOUT_DELAY_URI))
        self.assertFalse(has_extmap(out, 1, PLAYOUT_DELAY_URI))
        self.assertIn('a=mid:0\r\na=extmap:6 %s\r\n' % PLAYOUT_DELAY_URI, out)
        self.assertTrue(out.endswith('\r\n'))

    def test_is_idempotent(self):
        once = add_extmap(self.ANSWER, 0, 6, PLAYOUT_DELAY_URI)
        self.assertEqual(add_extmap(once, 0, 6, PLAYOUT_DELAY_URI), once)

    def test_missing_mline_is_an_error(self):
        with self.assertRaises(ValueError):
            add_extmap(self.ANSWER, 5, 6, PLAYOUT_DELAY_URI)


class AddRtcpFbTest(unittest.TestCase):
    ANSWER = AddExtmapTest.ANSWER.replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack')

    def test_adds_the_feedback_after_the_payload_types_other_feedback(self):
        out = add_rtcp_fb(self.ANSWER, 0, 96, 'transport-cc')
        self.assertIn('a=rtcp-fb:96 nack\r\na=rtcp-fb:96 transport-cc\r\nm=application', out)
        self.assertEqual(add_rtcp_fb(out, 0, 96, 'transport-cc'), out)

    def test_goes_after_the_rtpmap_when_the_payload_type_has_no_feedback_yet(self):
        out = add_rtcp_fb(AddExtmapTest.ANSWER, 0, 96, 'transport-cc')
        self.assertIn('a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 transport-cc\r\n', out)
        self.assertTrue(has_extmap(add_extmap(out, 0, 3, TRANSPORT_CC_URI), 0, TRANSPORT_CC_URI))

    def test_missing_mline_is_an_error(self):
        with self.assertRaises(ValueError):
            add_rtcp_fb(self.ANSWER, 5, 96, 'transport-cc')


class SsrcGroupsTest(unittest.TestCase):
    # What webrtcbin 1.22 answers with do-nack and the media SSRC in the codec preferences.
    ANSWER = '\r\n'.join(['v=0', 'o=- 1 0 IN IP4 0.0.0.0', 's=-', 't=0 0', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
                          'a=mid:0', 'a=sendonly', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack',
                          'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96', 'a=ssrc-group:FID 2671260872 3406999571',
                          'a=ssrc:2671260872 cname:x', 'a=ssrc:3406999571 cname:x',
                          'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:1']) + '\r\n'

    def test_reads_the_media_and_rtx_ssrc_of_each_fid_group(self):
        self.assertEqual(ssrc_groups(self.ANSWER, 0), [[2671260872, 3406999571]])
        self.assertEqual(ssrc_groups(self.ANSWER, 1), [])
        self.assertEqual(ssrc_groups(self.ANSWER, 4), [])

    def test_the_group_webrtcbin_writes_without_a_media_ssrc_starts_with_0(self):
        # The answer that broke the viewer's video before the fix (peer.py _build_branch).
        broken = self.ANSWER.replace('FID 2671260872 ', 'FID 0 ')
        self.assertEqual(ssrc_groups(broken, 0)[0][0], 0)


if __name__ == '__main__':
    unittest.main()


class IceCredentialsTest(unittest.TestCase):
    ANSWER = '\r\n'.join(['v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=ice-ufrag:oldU',
                          'a=ice-pwd:oldpasswordoldpassword12', 'a=mid:0',
                          'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=ice-ufrag:oldU',
                          'a=ice-pwd:oldpasswordoldpassword12', 'a=mid:1']) + '\r\n'

    def test_reads_the_first_pair(self):
        self.assertEqual(ice_credentials(self.ANSWER), ('oldU', 'oldpasswordoldpassword12'))
        self.assertIsNone(ice_credentials('v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n'))

    def test_replaces_every_section_and_keeps_the_line_ends(self):
        out = with_ice_credentials(self.ANSWER, 'newU', 'n' * 32)
        self.assertNotIn('old', out)
        self.assertEqual(out.count('a=ice-ufrag:newU\r\n'), 2)
        self.assertEqual(out.count('a=ice-pwd:%s\r\n' % ('n' * 32)), 2)
        self.assertEqual(out.replace('newU', 'oldU').replace('n' * 32, 'oldpasswordoldpassword12'), self.ANSWER)

    def test_new_credentials_are_fresh_ice_chars_of_rfc_length(self):
        first, second = new_ice_credentials(), new_ice_credentials()
        self.assertNotEqual(first, second)
        for value in first + second:
            self.assertEqual(len(value), 32)
            self.assertRegex(value, r'^[A-Za-z0-9+/]+$')
