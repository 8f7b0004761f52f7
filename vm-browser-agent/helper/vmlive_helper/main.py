"""Entry point: settings, preflight, then one GLib main loop serving the agent's commands.

Start-up order: settings (--settings=<json> from the agent) -> typelibs/elements -> priority ->
DTLS certificate -> pipeline (built, PLAYING, capture warmed up then idle) -> X input -> `ready`.
Shutdown runs in reverse.
Threads: stdin reader and webrtcbin callbacks hand work to the main loop with GLib.idle_add;
all state below is touched on the main thread only. The one exception is each peer's liveness
stamp, one float written per received packet by its streaming thread (liveness.Silence).
"""
import dataclasses
import os
import signal
import sys
import threading
import time
from typing import Dict, Optional

from . import VERSION
from .config import EXIT_BAD_CONFIG, ConfigError, parse_settings, settings_argument, settings_help
from .log import get_logger, setup_logging
from .preflight import check_elements, check_typelibs, damage_unavailable

log = get_logger('main')

# The error code of a command that raised, by command type (protocol/src/helper.ts HelperErrorCode;
# the agent decides on it). A peer whose add-peer or offer fails is unusable: the agent ends its
# session at once instead of waiting 15 s for an answer that never comes. One bad remote candidate
# is not (ICE uses the others).
_FAILURE_CODE = {'add-peer': 'negotiation-failed', 'remote-description': 'negotiation-failed',
                 'restart-ice': 'negotiation-failed',
                 'remote-candidate': 'candidate-rejected'}


def _raise_priority(nice: int) -> None:
    """Chromium started as root runs at nice -8 and would win every CPU contest against the
    encoder; ask for more (works as root / with CAP_SYS_NICE, otherwise silently stays)."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if nice < current:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
            log.info('scheduling priority set to nice %d', nice)
    except OSError as err:
        log.info('could not raise priority to nice %d (%s); staying at %d', nice, err.strerror,
                 os.getpriority(os.PRIO_PROCESS, 0))


class App:
    def __init__(self, cfg, emitter):
        from gi.repository import GLib, Gst

        from .input_injection import ControlGate, XInjector
        from .liveness import TICK_S, SilenceWatch
        from .pipeline import SharedEncoder
        from .stats import ProcessUsage
        self.GLib = GLib
        self.Gst = Gst
        self.cfg = cfg
        self.emitter = emitter
        self.loop = GLib.MainLoop()
        self.peers: Dict[str, object] = {}
        self.closing: Dict[str, object] = {}
        self.gate = ControlGate()
        self.recorder = None  # recording.Recorder while a recording runs
        self._closing_recorders = []  # stopped, finishing their last segment
        self.usage = ProcessUsage()
        self.shutting_down = False
        self.exit_code = 0
        # Creating one DTLS element generates the process-wide default certificate now (0.3-1.2 s)
        # instead of inside the first viewer's set-remote-description.
        started = time.monotonic()
        self._dtls_warm = Gst.ElementFactory.make('dtlsdec', None)
        log.info('DTLS certificate ready in %.0f ms', (time.monotonic() - started) * 1000)
        from .webrtc_setup import warm_up_webrtc
        warm = warm_up_webrtc(cfg.codec)
        log.info('webrtcbin warm-up took %.0f ms%s', warm.ms,
                 '' if warm.answered else ' (no answer: the first viewer pays for it)')
        # Imported now, not by the first add-peer: 18 ms on a quiet machine, 32-82 ms on the first
        # viewer's path beside two busy Chromiums (scripts/first-frame.ts, 2026-12-04).
        from . import peer  # noqa: F401
        self.shared = SharedEncoder(cfg)
        self.shared.pipeline.get_bus().add_signal_watch()
        self.shared.pipeline.get_bus().connect('message', self._on_bus_message)
        self.shared.start_pipeline()
        started = time.monotonic()
        frames = self.shared.warm_up()
        log.info('warm-up encoded %d frames in %.0f ms', frames, (time.monotonic() - started) * 1000)
        self.injector = XInjector(cfg.display)
        log.info('X screen %dx%d, encoding %dx%d@%d %s, %s capture', self.injector.width, self.injector.height,
                 cfg.width, cfg.height, cfg.fps, cfg.codec, cfg.capture)
        self.silence_watch = SilenceWatch(cfg.peer_silence_ms / 1000.0)
        GLib.timeout_add(int(TICK_S * 1000), self._check_silence)

    # ---- commands ----
    def handle_line(self, line: str) -> bool:
        from .protocol import ProtocolError, parse_command
        try:
            cmd = parse_command(line)
        except ProtocolError as err:
            self.emitter.error('invalid-command', str(err), err.peer_id)
            return False
        try:
            getattr(self, '_cmd_' + cmd['type'].replace('-', '_'))(cmd)
        except Exception as err:  # noqa: BLE001 - one bad command must not kill every viewer
            log.exception('command %s failed', cmd['type'])
            self.emitter.error(_FAILURE_CODE.get(cmd['type'], 'command-failed'), '%s: %s' % (cmd['type'], err),
                               cmd.get('peerId'))
        return False

    def _cmd_add_peer(self, cmd) -> None:
        from .peer import Peer
        peer_id = cmd['peerId']
        if peer_id in self.peers:
            raise ValueError('peer %s already exists' % peer_id)
        self.shared.start_capture()  # start encoding now: the branch is linked when the offer arrives
        self.peers[peer_id] = Peer(peer_id, cmd['iceServers'], self.cfg, self.shared, self.emitter,
                                   self._on_input, self._on_channel_open, self._on_peer_failed,
                                   cmd.get('iceTransportPolicy', 'all'))
        log.info('[%s] added (%d peers)', peer_id, len(self.peers))

    def _peer(self, peer_id: str):
        peer = self.peers.get(peer_id)
        if peer is None:
            raise KeyError('unknown peer %s' % peer_id)
        return peer

    def _cmd_remote_description(self, cmd) -> None:
        self._peer(cmd['peerId']).set_remote_offer(cmd['sdp'])

    def _cmd_restart_ice(self, cmd) -> None:
        self._peer(cmd['peerId']).restart_ice(cmd['sdp'])

    def _cmd_remote_candidate(self, cmd) -> None:
        self._peer(cmd['peerId']).add_remote_candidate(cmd['sdpMLineIndex'], cmd['candidate'])

    def _cmd_remove_peer(self, cmd) -> None:
        self._remove_peer(cmd['peerId'], cmd.get('reason') or 'removed')

    def _remove_peer(self, peer_id: str, reason: str) -> None:
        peer = self.peers.pop(peer_id, None)
        if peer is None:
            raise KeyError('unknown peer %s' % peer_id)
        if self.gate.holder == peer_id:
            self.gate.holder = None
            self.injector.release_all()
        self.gate.forget(peer_id)
        self.closing[peer_id] = peer
        log.info('[%s] removing (%s), %d peers left', peer_id, reason, len(self.peers))
        peer.close(lambda: self._peer_closed(peer_id))

    def _peer_closed(self, peer_id: str) -> None:
        self.closing.pop(peer_id, None)
        self._maybe_stop_capture()
        self._maybe_quit()

    def _maybe_stop_capture(self) -> None:
        # A recording needs the capture as much as a viewer does.
        if not self.peers and self.recorder is None and not self._closing_recorders:
            self.shared.stop_capture()

    def _maybe_quit(self) -> None:
        if self.shutting_down and not self.closing and not self._closing_recorders:
            self.loop.quit()

    # ---- recording (recording.py) ----
    def _cmd_recording_start(self, cmd) -> None:
        from .recording import Recorder
        if self.recorder is not None:
            if self.recorder.recording_id == cmd['recordingId']:
                return  # the agent repeats its state after reconnecting: already recording
            self._stop_recorder()
        try:
            recorder = Recorder(self.shared, cmd['recordingId'], cmd['directory'], cmd['segmentSeconds'],
                                self.emitter.emit, self._recorder_closed)
            recorder.start()
        except Exception as err:  # noqa: BLE001 - a broken recording must not take the stream down
            log.exception('recording %s failed to start', cmd['recordingId'])
            self.emitter.error('recording-failed', 'recording %s: %s' % (cmd['recordingId'], err))
            return
        self.recorder = recorder

    def _cmd_recording_stop(self, cmd) -> None:
        if self.recorder is not None and self.recorder.recording_id == cmd['recordingId']:
            self._stop_recorder()

    def _stop_recorder(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            self._closing_recorders.append(recorder)
            recorder.stop()

    def _recorder_closed(self, recorder) -> None:
        if recorder in self._closing_recorders:
            self._closing_recorders.remove(recorder)
        if recorder is self.recorder:
            self.recorder = None
        self.emitter.emit({'type': 'recording-stopped', 'peerId': None, 'recordingId': recorder.recording_id,
                           'segments': recorder.segments})
        self._maybe_stop_capture()
        self._maybe_quit()

    def _recorder_of(self, element):
        for recorder in [self.recorder, *self._closing_recorders]:
            if recorder is not None and recorder.owns(element):
                return recorder
        return None

    # ---- dead viewers (liveness.py) ----
    def _check_silence(self) -> bool:
        """Main loop, every TICK_S: report each connected peer that sent nothing for the limit."""
        if self.shutting_down:
            return False
        now = time.monotonic()
        for peer_id, silent_s in self.silence_watch.check(
                ((peer_id, peer.silence) for peer_id, peer in self.peers.items()), now):
            self._report_lost(peer_id, 'silent', silent_s)
        return True

    def _report_lost(self, peer_id: str, reason: str, silent_s: float) -> None:
        """`reason` is a PeerLostReason (protocol/src/helper.ts). Once per peer; the agent removes it."""
        peer = self.peers.get(peer_id)
        if peer is None:
            return
        peer.silence.reported = True
        log.info('[%s] viewer gone (%s): nothing received for %.1f s (%d packets before)', peer_id, reason,
                 silent_s, peer.silence.packets)
        self.emitter.emit({'type': 'peer-lost', 'peerId': peer_id, 'reason': reason,
                           'silentMs': int(silent_s * 1000)})

    def _on_peer_failed(self, peer_id: str) -> None:
        pass  # reported as `error`; the agent decides whether to remove the peer

    def _cmd_set_control_holder(self, cmd) -> None:
        new = cmd['peerId']
        old = self.gate.holder
        if new == old:
            return
        self.injector.release_all()
        self.gate.holder = new
        log.info('control holder: %s -> %s', old, new)
        for peer_id, granted in ((old, False), (new, True)):
            peer = self.peers.get(peer_id) if peer_id else None
            if peer is not None:
                peer.send_feedback({'t': 'control', 'granted': granted})

    def _cmd_get_stats(self, cmd) -> None:
        from .stats import stats_to_dicts, summarize_peer
        wanted = [cmd['peerId']] if cmd['peerId'] else list(self.peers)
        peers = [self.peers[p] for p in wanted if p in self.peers]
        result: Dict[str, dict] = {}
        lock = threading.Lock()
        remaining = [len(peers)]
        done = [False]

        def finish() -> bool:
            if done[0]:
                return False
            done[0] = True
            with lock:
                # Here, on the main loop, where _on_input counts (a stats callback runs on a streaming thread).
                for pid, summary in result.items():
                    if pid in self.peers:
                        summary['input'] = self.peers[pid].input_counts.as_dict()
            self.emitter.emit({'type': 'stats', 'peerId': cmd['peerId'], 'requestId': cmd['requestId'],
                               'encoder': self.shared.encoder_stats(), 'peers': result,
                               'process': self.usage.sample()})
            return False

        def on_stats(promise, peer):
            promise.wait()
            reply = promise.get_reply()
            stats = stats_to_dicts(reply) if reply is not None else {}
            summary, peer.stats_prev = summarize_peer(stats, peer.connection_state(), peer.stats_prev,
                                                      time.monotonic())
            summary['layer'] = peer.layer()
            summary['queueDelayMs'] = peer.queue_delay_ms()
            with lock:
                result[peer.id] = summary
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self.GLib.idle_add(finish)

        if not peers:
            finish()
            return
        for peer in peers:
            peer.webrtc.emit('get-stats', None, self.Gst.Promise.new_with_change_func(on_stats, peer))
        self.GLib.timeout_add(2000, finish)  # a stuck webrtcbin must not leave the request unanswered

    def _cmd_snapshot(self, cmd) -> None:
        from .snapshot import snapshot_async
        snapshot_async(self.cfg.display, cmd['quality'], cmd['requestId'], self.emitter.emit)

    def _cmd_shutdown(self, _cmd) -> None:
        self.shutdown('shutdown command')

    # ---- input ----
    def _on_channel_open(self, peer_id: str) -> bool:
        peer = self.peers.get(peer_id)
        if peer is not None:
            peer.send_feedback({'t': 'control', 'granted': self.gate.allowed(peer_id)})
        return False

    def _reject(self, peer_id: str, reason: str, detail: Optional[str]) -> None:
        if not self.gate.should_report(peer_id, reason):
            return
        event = {'type': 'input-rejected', 'peerId': peer_id, 'reason': reason}
        feedback = {'t': 'rejected', 'reason': reason}
        if detail:
            event['detail'] = feedback['detail'] = detail
        self.emitter.emit(event)
        peer = self.peers.get(peer_id)
        if peer is not None:
            peer.send_feedback(feedback)

    def _on_input(self, peer_id: str, text: str) -> bool:
        from .input_messages import InvalidInput, parse_input
        if peer_id not in self.peers:
            return False
        try:
            msg = parse_input(text)
        except InvalidInput as err:
            self._reject(peer_id, 'invalid', str(err))
            return False
        if not self.gate.allowed(peer_id):
            self._reject(peer_id, 'not-holder', None)
            return False
        inj = self.injector
        try:
            kind = msg['t']
            failed = 0
            if kind == 'pointer':
                inj.pointer(msg['action'], msg['x'], msg['y'], msg.get('button'))
            elif kind == 'wheel':
                inj.wheel_event(msg['x'], msg['y'], msg['dx'], msg['dy'])
            elif kind == 'key':
                if not inj.key(msg['action'], msg['key'], msg['code']):
                    failed = 1
                    self._reject(peer_id, 'invalid', 'unmapped key %r' % msg['key'])
            elif kind == 'text':
                failed = inj.text(msg['text'])
                if failed:
                    self._reject(peer_id, 'invalid', '%d characters could not be typed' % failed)
            self.peers[peer_id].input_counts.add(msg, failed)
        except Exception as err:  # noqa: BLE001 - X errors must not kill the helper
            log.exception('input injection failed')
            self.emitter.error('input-failed', str(err), peer_id)
        return False

    # ---- bus / lifecycle ----
    def _on_bus_message(self, _bus, message) -> None:
        Gst = self.Gst
        if message.type == Gst.MessageType.ELEMENT:
            recorder = self._recorder_of(message.src)
            if recorder is not None:
                recorder.on_element_message(message.get_structure())
            return
        if message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            src = message.src.get_name() if message.src else '?'
            recorder = self._recorder_of_child(message.src)
            if recorder is not None:
                # e.g. the spool disk is full: the recording ends, the viewers' stream goes on.
                log.error('recording %s failed: %s (%s)', recorder.recording_id, err.message, debug)
                self.emitter.error('recording-failed', 'recording %s: %s' % (recorder.recording_id, err.message))
                if recorder is self.recorder:
                    self.recorder = None
                    self._closing_recorders.append(recorder)
                recorder.abort()
                return
            peer_id = self._peer_of(message.src)
            if peer_id is not None and peer_id not in self.peers:
                # e.g. sctpenc "Could not write" while a removed viewer's association shuts down
                log.debug('[%s] error while closing: %s', peer_id, err.message)
                return
            if peer_id is not None and self._is_sctp(message.src):
                # The viewer's data channel association ended: a viewer that closes its
                # RTCPeerConnection aborts it (RFC 4960 section 9.1; measured: sctpenc reports it
                # 80 ms after Chromium's pc.close()). Not a helper fault: the viewer is gone.
                peer = self.peers[peer_id]
                if not peer.silence.reported:
                    log.info('[%s] %s: %s (%s)', peer_id, src, err.message, debug)
                    self._report_lost(peer_id, 'sctp-closed', peer.silence.silent_s(time.monotonic()))
                return
            log.error('pipeline error from %s: %s (%s)', src, err.message, debug)
            self.emitter.error('pipeline-error', '%s: %s' % (src, err.message), peer_id)
            if peer_id is None and self._in_capture(message.src) and not self.shutting_down:
                # The shared capture/encoder is broken (X server gone, caps failure): every viewer
                # is affected. Exit non-zero so the supervisor restarts a clean helper.
                self.exit_code = 1
                self.shutdown('capture failed')
        elif message.type == Gst.MessageType.WARNING:
            err, _debug = message.parse_warning()
            log.warning('pipeline warning: %s', err.message)

    def _recorder_of_child(self, element):
        while element is not None:
            recorder = self._recorder_of(element)
            if recorder is not None:
                return recorder
            element = element.get_parent()
        return None

    def _in_capture(self, element) -> bool:
        while element is not None:
            if element is self.shared.capture:
                return True
            element = element.get_parent()
        return False

    @staticmethod
    def _is_sctp(element) -> bool:
        factory = element.get_factory() if element is not None else None
        return factory is not None and factory.get_name() in ('sctpenc', 'sctpdec')

    @staticmethod
    def _peer_of(element) -> Optional[str]:
        """The peer whose webrtcbin (named webrtc-<peerId>) contains `element`, if any."""
        while element is not None:
            name = element.get_name() or ''
            if name.startswith('webrtc-') and element.get_factory() is not None \
                    and element.get_factory().get_name() == 'webrtcbin':
                return name[len('webrtc-'):]
            element = element.get_parent()
        return None

    def shutdown(self, why: str) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        log.info('shutting down (%s): closing %d peers', why, len(self.peers))
        for peer_id in list(self.peers):
            self._remove_peer(peer_id, 'shutdown')
        # A stopped helper (SIGTERM, stdin closed) finishes and reports the segment being written.
        self._stop_recorder()
        if not self.closing and not self._closing_recorders:
            self.loop.quit()
        else:
            self.GLib.timeout_add(6000 if self._closing_recorders else 3000, self._force_quit)

    def _force_quit(self) -> bool:
        log.warning('peers did not close in time; quitting anyway')
        self.loop.quit()
        return False

    def run(self) -> None:
        self.loop.run()
        self.shared.shutdown()
        self.injector.close()
        log.info('stopped')


def _stdin_reader(app: 'App') -> None:
    for line in sys.stdin:
        line = line.strip()
        if line:
            app.GLib.idle_add(app.handle_line, line)
    app.GLib.idle_add(lambda: app.shutdown('stdin closed') or False)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if '--help' in argv or '-h' in argv:
        print('gstreamer-webrtc-helper --settings=<json>: JSON lines on stdin/stdout (protocol/src/helper.ts).\n'
              'The VM agent parses the settings from its environment (the env names below) and passes\n'
              'them as one JSON object keyed by `key`; missing keys take the default.\n'
              'Settings (protocol/src/helper.ts HELPER_SETTINGS):\n' + settings_help())
        return 0
    from .protocol import Emitter
    # stdout is the protocol channel: keep everything else (including stray prints) off it.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), 'w', buffering=1, encoding='utf-8')
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    emitter = Emitter(protocol_out)
    try:
        cfg = parse_settings(settings_argument(argv))
    except ConfigError as err:
        sys.stderr.write('vmlive helper: bad configuration: %s\n' % err)
        emitter.error('bad-config', str(err))
        return EXIT_BAD_CONFIG
    setup_logging(cfg.log_level)
    problems = check_typelibs()
    if not problems:
        import gi
        gi.require_version('Gst', '1.0')
        from gi.repository import Gst
        Gst.init(None)
        problems = check_elements(cfg.codec, cfg.capture)
    if problems:
        for problem in problems:
            log.error('%s', problem)
        emitter.error('missing-dependency', '; '.join(problems))
        return EXIT_BAD_CONFIG
    if cfg.capture == 'damage':
        reason = damage_unavailable(cfg.display)
        if reason is not None:
            # The timer capture needs none of it: slower to react and busier when still, but it streams.
            log.warning('damage capture unavailable (%s); using the timer capture, a grab every 1/%d s',
                        reason, cfg.fps)
            cfg = dataclasses.replace(cfg, capture='timer')
    _raise_priority(cfg.nice)
    try:
        app = App(cfg, emitter)
    except Exception as err:  # noqa: BLE001 - e.g. X display not reachable yet: retryable, exit 1
        log.exception('start-up failed')
        emitter.error('startup-failed', str(err))
        return 1
    from gi.repository import GLib
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, lambda: app.shutdown('SIGTERM') or False)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, lambda: app.shutdown('SIGINT') or False)
    threading.Thread(target=_stdin_reader, args=(app,), name='stdin', daemon=True).start()
    emitter.emit({'type': 'ready', 'peerId': None, 'version': VERSION, 'codec': cfg.codec, 'width': cfg.width,
                  'height': cfg.height, 'fps': cfg.fps, 'capture': cfg.capture, 'pid': os.getpid()})
    log.info('ready')
    app.run()
    return app.exit_code
