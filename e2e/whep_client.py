"""A WHEP player that is not our viewer: GStreamer webrtcbin as the offerer (e2e/whep.e2e.test.ts).

Run with /usr/bin/python3 (Debian's GStreamer bindings). It offers recvonly video with two codecs
(VP8 and H.264), no data channel, a=setup:actpass (webrtcbin's default), POSTs the offer
(draft-ietf-wish-whep-02 section 4.2), decodes what arrives and counts decoded frames at a fakesink
after the decoder. `--mode full` waits for its own ICE gathering and sends every candidate in the
offer (a player that does not trickle); `--mode trickle` POSTs at once and sends its candidates in
one PATCH after the 201 (section 4.4.2: "buffer any gathered candidates until the 201 Created"),
with If-Match set to the ETag. At the end it DELETEs the session (section 4.3) and prints one JSON
line: frames, caps of the decoded frames, time to first frame, the HTTP statuses.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('GstWebRTC', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

CODECS = ('application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000;'
          'application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,'
          'packetization-mode=(string)1,profile-level-id=(string)42e01f')


def http(method, url, token, body=None, headers=None):
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method)
    req.add_header('Authorization', 'Bearer ' + token)
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=20) as res:
            return res.status, dict(res.headers), res.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


class Player:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.pipeline = Gst.Pipeline.new('whep-player')
        self.webrtc = Gst.ElementFactory.make('webrtcbin', None)
        self.webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.pipeline.add(self.webrtc)
        self.candidates = []
        self.gathered = False
        self.session_url = None
        self.etag = None
        self.result = {'frames': 0, 'width': None, 'height': None, 'statuses': {}}
        self.t0 = time.monotonic()
        self.webrtc.connect('on-ice-candidate', self._on_candidate)
        self.webrtc.connect('notify::ice-gathering-state', self._on_gathering)
        self.webrtc.connect('pad-added', self._on_pad)

    def run(self):
        self.pipeline.set_state(Gst.State.PLAYING)
        self.webrtc.emit('add-transceiver', GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                         Gst.Caps.from_string(CODECS))
        self.webrtc.emit('create-offer', None, Gst.Promise.new_with_change_func(self._on_offer, None))
        GLib.timeout_add(int(self.args.timeout * 1000), self._give_up)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        return self.result

    # ---- signaling ----
    def _on_offer(self, promise, _data):
        promise.wait()
        # Keep the reply in a variable: chaining get_reply().get_value() lets PyGObject free the
        # reply structure first, and the offer reads as None.
        reply = promise.get_reply()
        offer = reply.get_value('offer')
        self.webrtc.emit('set-local-description', offer, Gst.Promise.new())
        self.offer_text = offer.sdp.as_text()
        if self.args.mode == 'trickle':
            GLib.idle_add(self._post, self.offer_text)

    def _on_candidate(self, _element, mline, candidate):
        self.candidates.append((mline, candidate))

    def _on_gathering(self, element, _pspec):
        if element.get_property('ice-gathering-state') != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            return
        self.gathered = True
        if self.args.mode == 'full':
            # The local description now carries every candidate (RFC 8829 section 5.2.1).
            text = element.get_property('local-description').sdp.as_text()
            GLib.idle_add(self._post, text)
        else:
            GLib.idle_add(self._patch_when_ready)

    def _post(self, sdp):
        self.t_post = time.monotonic()
        status, headers, body = http('POST', self.args.url, self.args.token, sdp, {'Content-Type': 'application/sdp'})
        self.result['statuses']['post'] = status
        self.result['answerMs'] = round((time.monotonic() - self.t_post) * 1000)
        if status != 201:
            self.result['error'] = body
            self.loop.quit()
            return False
        self.session_url = urllib.parse.urljoin(self.args.url, headers.get('Location'))
        self.etag = headers.get('ETag')
        self.result['link'] = headers.get('Link')
        self.result['answerCandidates'] = body.count('a=candidate:')
        self.result['answerEnd'] = 'a=end-of-candidates' in body
        ok, sdp_msg = GstSdp.SDPMessage.new_from_text(body)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp_msg)
        self.webrtc.emit('set-remote-description', answer, Gst.Promise.new())
        if self.args.mode == 'trickle':
            self._patch_when_ready()
        return False

    def _patch_when_ready(self):
        """One aggregated PATCH once both the 201 and our own gathering are done."""
        if self.session_url is None or not self.gathered or 'patch' in self.result['statuses']:
            return False
        lines = [ln for ln in self.offer_text.splitlines() if ln.startswith(('a=ice-ufrag:', 'a=ice-pwd:'))][:2]
        mid = next((ln for ln in self.offer_text.splitlines() if ln.startswith('a=mid:')), 'a=mid:0')
        frag = lines + ['m=video 9 UDP/TLS/RTP/SAVPF 96 102', mid]
        frag += ['a=' + cand for _mline, cand in self.candidates] + ['a=end-of-candidates']
        status, _headers, body = http('PATCH', self.session_url, self.args.token, '\r\n'.join(frag) + '\r\n',
                                      {'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': self.etag})
        self.result['statuses']['patch'] = status
        self.result['patchedCandidates'] = len(self.candidates)
        if status != 204:
            self.result['error'] = body
        return False

    # ---- media ----
    def _on_pad(self, _element, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make('decodebin', None)
        decode.connect('pad-added', self._on_decoded)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad('sink'))

    def _on_decoded(self, _decodebin, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        if not caps.to_string().startswith('video/x-raw'):
            return
        sink = Gst.ElementFactory.make('fakesink', None)
        sink.set_property('signal-handoffs', True)
        sink.set_property('sync', False)
        sink.connect('handoff', self._on_frame)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad('sink'))

    def _on_frame(self, _sink, _buffer, pad):
        # Streaming thread: counters only, the main loop does the rest.
        result = self.result
        if result['frames'] == 0:
            s = pad.get_current_caps().get_structure(0)
            result['width'], result['height'] = s.get_value('width'), s.get_value('height')
            result['ttffMs'] = round((time.monotonic() - self.t0) * 1000)
        result['frames'] += 1
        if result['frames'] == self.args.frames:
            GLib.idle_add(self._finish)

    def _finish(self):
        status, _h, _b = http('DELETE', self.session_url, self.args.token)
        self.result['statuses']['delete'] = status
        self.result['sessionUrl'] = self.session_url
        self.loop.quit()
        return False

    def _give_up(self):
        self.result['error'] = 'timed out after %d frames' % self.result['frames']
        if self.session_url:
            self._finish()
        else:
            self.loop.quit()
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--url', required=True)
    parser.add_argument('--token', required=True)
    parser.add_argument('--mode', choices=('full', 'trickle'), default='full')
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--timeout', type=float, default=40)
    args = parser.parse_args()
    Gst.init(None)
    print(json.dumps(Player(args).run()))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
