/**
 * A scriptable RTCPeerConnection for unit tests in Node (no WebRTC there).
 * Records what the code under test does; tests drive ICE/connection state
 * and decoded-frame counts by hand. Test-only.
 */

export class FakeDataChannel {
  readyState: RTCDataChannelState = 'connecting';
  bufferedAmount = 0;
  readonly sent: string[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  constructor(
    readonly label: string,
    readonly init: RTCDataChannelInit | undefined,
  ) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 'closed';
  }
  open(): void {
    this.readyState = 'open';
    this.onopen?.();
  }
  /** A message from the helper's side (serialized as it would be on the wire). */
  receive(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  /** The messages the code under test sent, parsed. */
  get sentMessages(): unknown[] {
    return this.sent.map((data) => JSON.parse(data));
  }
}

export class FakePeerConnection {
  static instances: FakePeerConnection[] = [];
  static reset(): void {
    FakePeerConnection.instances = [];
  }
  static get last(): FakePeerConnection {
    const pc = FakePeerConnection.instances.at(-1);
    if (!pc) throw new Error('no RTCPeerConnection created');
    return pc;
  }

  connectionState: RTCPeerConnectionState = 'new';
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  readonly transceivers: Array<{ kind: string; init?: RTCRtpTransceiverInit }> = [];
  readonly channels: FakeDataChannel[] = [];
  readonly addedCandidates: RTCIceCandidateInit[] = [];
  closed = false;
  framesDecoded = 0;
  /** When set, every getStats() call sees one more decoded frame (a steady stream, whatever the timer load). */
  autoDecode = false;
  onicecandidate: ((event: { candidate: RTCIceCandidateInit | null }) => void) | null = null;
  ontrack: ((event: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;

  constructor(readonly config?: RTCConfiguration) {
    FakePeerConnection.instances.push(this);
  }

  addTransceiver(kind: string, init?: RTCRtpTransceiverInit) {
    this.transceivers.push({ kind, init });
    return {};
  }
  createDataChannel(label: string, init?: RTCDataChannelInit): FakeDataChannel {
    const channel = new FakeDataChannel(label, init);
    this.channels.push(channel);
    return channel;
  }
  /** The options of every createOffer call, in order. */
  readonly offerOptions: Array<RTCOfferOptions | undefined> = [];
  async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    this.offerOptions.push(options);
    // As browsers do: an ICE restart offer carries new ICE credentials (RFC 8839 §4.4.1.1.1).
    const restarts = this.offerOptions.filter((o) => o?.iceRestart).length;
    return { type: 'offer', sdp: restarts ? `v=0 fake offer (ice restart ${restarts})` : 'v=0 fake offer' };
  }
  async setLocalDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.localDescription = description;
  }
  async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.remoteDescription = description;
  }
  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    // As in browsers: candidates before the remote description are an error.
    if (!this.remoteDescription) throw new DOMException('no remote description', 'InvalidStateError');
    this.addedCandidates.push(candidate);
  }
  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    if (this.autoDecode) this.framesDecoded++;
    return new Map([
      [
        'in',
        {
          id: 'in',
          type: 'inbound-rtp',
          kind: 'video',
          timestamp: Date.now(),
          framesDecoded: this.framesDecoded,
          bytesReceived: this.framesDecoded * 1000,
        },
      ],
    ]);
  }
  close(): void {
    this.closed = true;
    this.connectionState = 'closed';
  }

  // ---- test drivers ----
  gather(candidate: string | null): void {
    this.onicecandidate?.({ candidate: candidate === null ? null : { candidate, sdpMLineIndex: 0, sdpMid: '0' } });
  }
  setConnectionState(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

/** The constructor type the code under test expects. */
export const FakeRTCPeerConnection = FakePeerConnection as unknown as new (
  configuration?: RTCConfiguration,
) => RTCPeerConnection;
