import { ApiError, type ViewerRole, type VmSummary } from '@vmlive/protocol';
import { useState } from 'react';
import type { OperatorClient } from '../api/operatorClient.js';
import { controlActions, controlHolderText, relativeTime } from './controlSummary.js';
import { openViewerTab } from './openViewer.js';

const TTL_CHOICES: Array<[number, string]> = [
  [900, '15 minutes'],
  [3600, '1 hour'],
  [8 * 3600, '8 hours'],
  [24 * 3600, '24 hours'],
];

export interface VmRowProps {
  vm: VmSummary;
  client: OperatorClient;
  linkFor(vmId: string, token: string): string;
  onError(message: string): void;
}

const message = (err: unknown) =>
  err instanceof ApiError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);

export function VmRow({ vm, client, linkFor, onError }: VmRowProps) {
  const [role, setRole] = useState<ViewerRole>('view');
  const [ttl, setTtl] = useState(3600);
  const [link, setLink] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const label = vm.name || vm.vmId;

  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
    } catch (err) {
      onError(`${what} failed for ${label}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const openViewer = () => void run('Opening a viewer', () => openViewerTab(client, vm.vmId, linkFor));

  const mint = () =>
    run('Minting a link', async () => {
      const { token } = await client.mintViewerToken(vm.vmId, role, ttl);
      setLink(linkFor(vm.vmId, token));
      setCopied(false);
    });

  const copy = async () => {
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
    } catch {
      onError('Copy failed: select the link and copy it by hand.');
    }
  };

  const can = controlActions(vm.control);

  return (
    <tr>
      <th scope="row">
        <span className="vm-name">{vm.name || '(unnamed)'}</span>
        <code className="vm-id">{vm.vmId}</code>
      </th>
      <td data-label="State">
        <span className={`badge ${vm.online ? 'badge--ok' : 'badge--off'}`}>{vm.online ? 'Online' : 'Offline'}</span>
      </td>
      <td data-label="Viewers">{vm.viewers}</td>
      <td data-label="Control">
        <span className="control-holder">{controlHolderText(vm.control)}</span>{' '}
        <time className="control-since" dateTime={new Date(vm.control.since).toISOString()}>
          since {relativeTime(vm.control.since, Date.now())}
        </time>
      </td>
      <td className="actions">
        <button type="button" onClick={openViewer} disabled={busy}>
          Open viewer
        </button>
        {vm.control.mode === 'paused' ? (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Resume', () => client.control(vm.vmId, 'resume'))}
          >
            Resume agent
          </button>
        ) : (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Pause', () => client.control(vm.vmId, 'pause'))}
          >
            Pause agent
          </button>
        )}
        {can.takeOver && (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Taking over', () => client.control(vm.vmId, 'take'))}
          >
            Take over
          </button>
        )}
        {can.endControl && (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run('Ending control', () => client.control(vm.vmId, 'release'))}
          >
            End control
          </button>
        )}
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            if (window.confirm(`Delete VM ${label}? Its sessions end.`))
              void run('Delete', () => client.deleteVm(vm.vmId));
          }}
        >
          Delete VM
        </button>
        <fieldset className="share">
          <legend>Share link</legend>
          <label>
            Role{' '}
            <select value={role} onChange={(e) => setRole(e.target.value === 'control' ? 'control' : 'view')}>
              <option value="view">view</option>
              <option value="control">control</option>
            </select>
          </label>
          <label>
            Valid for{' '}
            <select value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
              {TTL_CHOICES.map(([seconds, text]) => (
                <option key={seconds} value={seconds}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={busy} onClick={() => void mint()}>
            Create link
          </button>
          {link && (
            <span className="share__result">
              <input aria-label={`Viewer link for ${label}`} readOnly value={link} onFocus={(e) => e.target.select()} />
              <button type="button" onClick={() => void copy()}>
                {copied ? 'Copied' : 'Copy'}
              </button>
            </span>
          )}
        </fieldset>
      </td>
    </tr>
  );
}
