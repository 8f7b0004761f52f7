/**
 * The selected VM's panel: health sparklines over the controller's ring (the last
 * VMLIVE_HEALTH_RING heartbeats), its viewer sessions with "End session" for any
 * of them, and "Take over" / pause / resume for the operator.
 */
import { ApiError, type HealthSample, type ViewerSessionsResponse, type VmSummary } from '@vmlive/protocol';
import { useCallback, useEffect, useState } from 'react';
import type { OperatorClient } from '../api/operatorClient.js';
import { controlActions, controlHolderText, relativeTime, shortSessionId } from './controlSummary.js';
import { Sparkline } from './Sparkline.js';

const POLL_MS = 2000;

const message = (err: unknown) =>
  err instanceof ApiError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const bytes = (b: number | null) =>
  b === null ? '–' : b < 1024 * 1024 ? `${(b / 1024).toFixed(0)} KiB` : `${(b / 1024 / 1024).toFixed(1)} MiB`;

export interface VmPanelProps {
  vm: VmSummary;
  client: OperatorClient;
  onClose(): void;
  onError(message: string): void;
}

export function VmPanel({ vm, client, onClose, onError }: VmPanelProps) {
  const [samples, setSamples] = useState<HealthSample[]>([]);
  const [sessions, setSessions] = useState<ViewerSessionsResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const vmId = vm.vmId;
  const name = vm.name || vm.vmId;

  const refresh = useCallback(
    async (signal?: AbortSignal) => {
      const [h, s] = await Promise.all([client.health(vmId, signal), client.viewerSessions(vmId, signal)]);
      setSamples(h.samples);
      setSessions(s);
    },
    [client, vmId],
  );

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loop = async () => {
      try {
        await refresh(abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        onError(`Could not read ${name}: ${message(err)}`);
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void loop(), POLL_MS);
    };
    void loop();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [refresh, name, onError]);

  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
      await refresh();
    } catch (err) {
      onError(`${what} failed for ${name}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const last = samples.at(-1);
  const spanMin = samples.length > 1 ? ((samples.at(-1)?.at ?? 0) - (samples[0]?.at ?? 0)) / 60_000 : 0;
  const control = sessions?.control ?? vm.control;
  const can = controlActions(control);

  return (
    <section className="vm-panel" aria-labelledby="vm-panel-heading">
      <header className="vm-panel__header">
        <h2 id="vm-panel-heading">{name}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <h3>Health {samples.length > 1 && <small>(last {spanMin.toFixed(1)} min)</small>}</h3>
      {samples.length === 0 ? (
        <p>No health reports yet (the VM agent sends one with each heartbeat).</p>
      ) : (
        <>
          <div className="sparklines">
            <Sparkline label="Encoder fps" values={samples.map((s) => s.fps)} format={(v) => v.toFixed(1)} />
            <Sparkline
              label="Bitrate"
              values={samples.map((s) => s.bitrateKbps)}
              format={(v) => `${v.toFixed(0)} kbit/s`}
            />
            <Sparkline
              label="Helper CPU"
              values={samples.map((s) => s.cpuPercent)}
              format={(v) => `${v.toFixed(1)} %`}
            />
            <Sparkline label="Helper RSS" values={samples.map((s) => s.rssBytes)} format={mib} />
            <Sparkline label="Peers" values={samples.map((s) => s.peers)} format={(v) => String(v)} />
          </div>
          {last && (
            <p className="vm-panel__facts">
              Helper {last.helper}, {last.restarts} restart{last.restarts === 1 ? '' : 's'};{' '}
              {last.lastError
                ? `last error ${last.lastError.code} ${relativeTime(last.lastError.at, Date.now())}: ${last.lastError.message}`
                : 'no error'}
              .
            </p>
          )}
        </>
      )}
      <h3>Control</h3>
      <p>
        <span className="control-holder">{controlHolderText(control)}</span>{' '}
        {can.takeOver && (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Taking over', () => client.control(vmId, 'take'))}
          >
            Take over
          </button>
        )}{' '}
        {control.mode === 'paused' ? (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Resume', () => client.control(vmId, 'resume'))}
          >
            Resume
          </button>
        ) : (
          <button type="button" disabled={busy} onClick={() => void run('Pause', () => client.control(vmId, 'pause'))}>
            Pause
          </button>
        )}
      </p>
      <h3>Sessions</h3>
      {sessions === null ? (
        <p>Loading…</p>
      ) : sessions.sessions.length === 0 ? (
        <p>Nobody is watching.</p>
      ) : (
        <table className="sessions-table">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Role</th>
              <th scope="col">Since</th>
              <th scope="col">Connection</th>
              <th scope="col">Sent</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {sessions.sessions.map((s) => (
              <tr key={s.sessionId} data-session-id={s.sessionId}>
                <th scope="row">
                  <code>{shortSessionId(s.sessionId)}</code>
                  {s.holder && <span className="badge badge--holder">holder</span>}
                </th>
                <td>{s.role}</td>
                <td>{relativeTime(s.since, Date.now())}</td>
                <td>{s.connectionState ?? s.signaling}</td>
                <td>{bytes(s.bytesSent)}</td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    disabled={busy}
                    aria-label={`End session ${shortSessionId(s.sessionId)}`}
                    onClick={() => void run('Ending a session', () => client.endSession(s.sessionId))}
                  >
                    End session
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
