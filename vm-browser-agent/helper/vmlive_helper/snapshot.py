"""JPEG of the current screen from a one-shot pipeline, independent of the streaming pipeline,
so it works whether or not viewers are connected. Runs on a worker thread."""
import base64
import threading
from typing import Callable, Optional, Tuple

from gi.repository import Gst


def capture_jpeg(display: str, quality: int, timeout_s: float = 5.0) -> Tuple[Optional[bytes], Optional[str]]:
    pipeline = Gst.parse_launch(
        'ximagesrc display-name=%s use-damage=false show-pointer=false num-buffers=1 ! videoconvert '
        '! jpegenc quality=%d ! appsink name=sink sync=false' % (display, quality))
    sink = pipeline.get_by_name('sink')
    try:
        pipeline.set_state(Gst.State.PLAYING)
        sample = sink.emit('try-pull-sample', int(timeout_s * Gst.SECOND))
        if sample is None:
            msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
            return None, msg.parse_error()[0].message if msg else 'timed out'
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return None, 'cannot map JPEG buffer'
        try:
            return bytes(info.data), None
        finally:
            buf.unmap(info)
    finally:
        pipeline.set_state(Gst.State.NULL)


def snapshot_async(display: str, quality: int, request_id: int, emit: Callable[[dict], None]) -> None:
    def run():
        try:
            jpeg, error = capture_jpeg(display, quality)
        except Exception as err:  # noqa: BLE001 - reported to the agent
            jpeg, error = None, str(err)
        event = {'type': 'snapshot-result', 'peerId': None, 'requestId': request_id,
                 'jpeg': base64.b64encode(jpeg).decode('ascii') if jpeg is not None else None}
        if error:
            event['error'] = error
        emit(event)
    threading.Thread(target=run, name='snapshot', daemon=True).start()
