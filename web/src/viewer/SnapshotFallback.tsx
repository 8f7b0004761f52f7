import { ApiClient } from '@vmlive/protocol';
import { useEffect, useState } from 'react';
import { SnapshotPoller, type SnapshotUpdate } from './snapshotPoller.js';

export interface SnapshotFallbackProps {
  baseUrl: string;
  vmId: string;
  token: string;
  message: string;
  retrying: boolean;
  onRetry(): void;
}

/** Still frames of the VM (refreshed every second) while live video is unavailable. */
export function SnapshotFallback({ baseUrl, vmId, token, message, retrying, onRetry }: SnapshotFallbackProps) {
  const [snapshot, setSnapshot] = useState<SnapshotUpdate>({ url: null, at: null, error: null });

  useEffect(() => {
    const poller = new SnapshotPoller({ api: new ApiClient({ baseUrl, token }), vmId }, (update) =>
      setSnapshot({ ...update }),
    );
    poller.start();
    return () => poller.stop();
  }, [baseUrl, vmId, token]);

  return (
    <div className="vm-fallback" data-testid="snapshot-fallback">
      {snapshot.url && (
        <img
          className="vm-fallback__image"
          src={snapshot.url}
          alt={`Latest still frame of VM ${vmId}${snapshot.at ? ` at ${new Date(snapshot.at).toLocaleTimeString()}` : ''}`}
        />
      )}
      <div className="vm-fallback__bar" role="status">
        <span>
          {message}. {snapshot.url ? 'Showing a still frame, refreshed every second.' : 'Waiting for a still frame…'}
          {snapshot.error ? ` ${snapshot.error}.` : ''}
        </span>
        <button type="button" onClick={onRetry} disabled={retrying}>
          {retrying ? 'Retrying live…' : 'Retry live'}
        </button>
      </div>
    </div>
  );
}
