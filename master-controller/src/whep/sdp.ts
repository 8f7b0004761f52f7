/**
 * The SDP text the WHEP routes read and write (draft-ietf-wish-whep-02): the
 * player's offer is checked before any session exists, the VM's answer gets
 * its candidates written in (players that do not trickle), and PATCH bodies
 * are read as trickle-ice-sdpfrag (RFC 8840). Lines per RFC 8866 §5; the VM's
 * helper does the real offer/answer (JSEP), so this reads only what the
 * routes decide on.
 */
import { ApiError } from '../errors.js';

const invalid = (message: string) => new ApiError('invalid_sdp', message);

/** An m-section of a description: its `m=` fields and its attribute lines. */
interface MediaSection {
  mline: string;
  kind: string;
  port: string;
  formats: string[];
  lines: string[];
}

function sections(sdp: string): { session: string[]; media: MediaSection[] } {
  const session: string[] = [];
  const media: MediaSection[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line === '') continue;
    // RFC 8866 §5: every line is <type>=<value>, the type one letter.
    if (!/^[a-z]=/.test(line)) throw invalid(`not an SDP line: ${JSON.stringify(line.slice(0, 40))}`);
    if (line.startsWith('m=')) {
      const [kind = '', port = '', , ...formats] = line.slice(2).split(' ');
      media.push({ mline: line, kind, port, formats, lines: [] });
    } else if (media.length > 0) (media[media.length - 1] as MediaSection).lines.push(line);
    else session.push(line);
  }
  return { session, media };
}

const attr = (lines: readonly string[], name: string): string | undefined =>
  lines.find((l) => l.startsWith(`a=${name}:`))?.slice(name.length + 3);

/** What the WHEP routes keep of a player's offer. */
export interface OfferSummary {
  /** ice-ufrag of the offer (session level or the first m-section's): what a PATCH must keep. */
  ufrag: string;
  /** a=mid of each m-section, by index (null where none): maps a PATCH's mid to an sdpMLineIndex. */
  mids: Array<string | null>;
}

/**
 * Checks a WHEP offer. Malformed (400 invalid_sdp, draft §4.2 "If the HTTP POST … the SDP is
 * malformed, the WHEP endpoint MUST reject … with an appropriate 4XX"): no v=0, no m-section, no
 * ICE credentials or DTLS fingerprint. Well-formed but unservable (422 offer_unsupported): no
 * video section that can receive VP8 or H.264 — "the WHEP player SHOULD use recvonly … MAY use
 * sendrecv, inactive and sendonly MUST NOT be used" (draft §4.2), so those sections do not count.
 * Several codecs, audio sections and no data channel are fine: the VM's answer picks its codec
 * and rejects what it does not send.
 */
export function checkOffer(sdp: string): OfferSummary {
  if (!sdp.startsWith('v=0')) throw invalid('an SDP offer starts with v=0');
  const { session, media } = sections(sdp);
  if (media.length === 0) throw invalid('the offer has no m= section');
  const ufrag = attr(session, 'ice-ufrag') ?? attr(media[0]?.lines ?? [], 'ice-ufrag');
  const pwd = attr(session, 'ice-pwd') ?? attr(media[0]?.lines ?? [], 'ice-pwd');
  if (!ufrag || !pwd) throw invalid('the offer has no a=ice-ufrag / a=ice-pwd');
  const fingerprint = attr(session, 'fingerprint') ?? attr(media[0]?.lines ?? [], 'fingerprint');
  if (!fingerprint) throw invalid('the offer has no a=fingerprint (DTLS-SRTP is mandatory)');
  const receivesVideo = media.some((m) => {
    if (m.kind !== 'video' || m.port === '0') return false;
    if (m.lines.includes('a=sendonly') || m.lines.includes('a=inactive')) return false;
    return m.formats.some((pt) => {
      // a=rtpmap:<pt> <encoding>/<clock rate> (RFC 8866 §6.6)
      const codec = m.lines
        .find((l) => l.startsWith(`a=rtpmap:${pt} `))
        ?.split(' ')[1]
        ?.toUpperCase();
      return codec?.startsWith('VP8/') || codec?.startsWith('H264/');
    });
  });
  if (!receivesVideo) {
    throw new ApiError('offer_unsupported', 'the offer has no video section that receives VP8 or H.264');
  }
  return { ufrag, mids: media.map((m) => attr(m.lines, 'mid') ?? null) };
}

/** ice-ufrag of an answer (the ETag names the ICE session by it): session level, else the first section that has one. */
export function answerUfrag(sdp: string): string {
  const { session, media } = sections(sdp);
  return attr(session, 'ice-ufrag') ?? media.map((m) => attr(m.lines, 'ice-ufrag')).find((u) => u) ?? '';
}

/**
 * The VM's answer with its gathered candidates written into their m-sections, and
 * a=end-of-candidates (RFC 8840 §8.2) when gathering completed. Draft §4.4.2: "the WHEP session
 * cannot signal additional ICE candidates to the WHEP player after the SDP answer has been sent.
 * The WHEP endpoint SHALL gather all the ICE candidates for the media server before responding
 * … and the SDP answer SHALL contain the full list of ICE candidates of the media server."
 */
export function answerWithCandidates(
  answer: string,
  candidates: ReadonlyArray<{ candidate: string; sdpMLineIndex: number }>,
  complete: boolean,
): string {
  const { session, media } = sections(answer);
  for (const c of candidates) {
    const m = media[c.sdpMLineIndex];
    if (!m || c.candidate === '') continue;
    m.lines.push(c.candidate.startsWith('a=') ? c.candidate : `a=${c.candidate}`);
  }
  if (complete) {
    // With BUNDLE one transport serves every section; the marker goes where the candidates are.
    const indexes = new Set(candidates.filter((c) => c.candidate !== '').map((c) => c.sdpMLineIndex));
    for (const i of indexes.size > 0 ? indexes : new Set([0])) media[i]?.lines.push('a=end-of-candidates');
  }
  const out = [...session];
  for (const m of media) out.push(m.mline, ...m.lines);
  return `${out.join('\r\n')}\r\n`;
}

/** What a PATCH body (application/trickle-ice-sdpfrag) carries. */
export interface SdpFrag {
  ufrag: string | undefined;
  pwd: string | undefined;
  /** `candidate:…` attribute values, each with the a=mid of its section (null: none given). */
  candidates: Array<{ candidate: string; mid: string | null }>;
  endOfCandidates: boolean;
}

/**
 * RFC 8840 §9 (the fragment's grammar): session-level a=ice-options/ice-ufrag/ice-pwd/group
 * lines, then m= lines each with a=mid, ice-ufrag, ice-pwd, a=candidate and
 * a=end-of-candidates. Anything that is not an SDP line, or a candidate line without its
 * fields (RFC 8839 §5.1: foundation, component, transport, priority, address, port, typ), is
 * malformed (400 invalid_sdp).
 */
export function parseSdpFrag(text: string): SdpFrag {
  const out: SdpFrag = { ufrag: undefined, pwd: undefined, candidates: [], endOfCandidates: false };
  let mid: string | null = null;
  let lines = 0;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    lines++;
    if (!/^[a-z]=/.test(line)) throw invalid(`not an SDP fragment line: ${JSON.stringify(line.slice(0, 40))}`);
    if (line.startsWith('m=')) mid = null;
    else if (line.startsWith('a=mid:')) mid = line.slice(6);
    else if (line.startsWith('a=ice-ufrag:')) out.ufrag = line.slice(12);
    else if (line.startsWith('a=ice-pwd:')) out.pwd = line.slice(10);
    else if (line === 'a=end-of-candidates') out.endOfCandidates = true;
    else if (line.startsWith('a=candidate:')) {
      const fields = line.slice(12).split(' ');
      if (
        fields.length < 8 ||
        fields[6] !== 'typ' ||
        !/^\d+$/.test(fields[3] ?? '') ||
        !/^\d+$/.test(fields[5] ?? '')
      ) {
        throw invalid(`malformed candidate line: ${JSON.stringify(line.slice(0, 80))}`);
      }
      out.candidates.push({ candidate: line.slice(2), mid });
    }
  }
  if (lines === 0) throw invalid('the fragment is empty');
  return out;
}
