"""RTCIceServer entries (W3C webrtc-pc section 4.2.1) -> the URIs webrtcbin takes:
`stun-server` = stun://host:port, `add-turn-server` = turn(s)://user:pass@host:port[?transport=]."""
from typing import List, Optional, Tuple
from urllib.parse import quote


def webrtcbin_ice_urls(ice_servers: list) -> Tuple[Optional[str], List[str]]:
    stun = None
    turns = []
    for server in ice_servers:
        urls = server['urls']
        for url in [urls] if isinstance(urls, str) else urls:  # a string or a list, as RTCIceServer allows
            scheme, _, rest = url.partition(':')
            if scheme == 'stun' and stun is None:
                stun = 'stun://' + rest
            elif scheme in ('turn', 'turns') and server.get('username') is not None:
                user = quote(server['username'], safe='')
                cred = quote(server.get('credential') or '', safe='')
                turns.append('%s://%s:%s@%s' % (scheme, user, cred, rest))
    return stun, turns
