/**
 * The operator console at `/`: sign in with the operator token (kept in
 * sessionStorage, so it dies with the tab), see every VM on the wall (a tile
 * each, the ones needing attention first), open viewers, a VM's health and
 * sessions in its panel, and in the table below mint shareable links,
 * pause/resume the agent, end control, add and delete VMs.
 */
import { ApiClient, ApiError, type CreateVmResponse, type VmSummary } from '@vmlive/protocol';
import { type FormEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { OperatorClient, viewerLink } from '../api/operatorClient.js';
import { openViewerTab } from './openViewer.js';
import { VmPanel } from './VmPanel.js';
import { VmRow } from './VmRow.js';
import { VmWall } from './VmWall.js';

const TOKEN_KEY = 'vmlive.operatorToken';
// One listVms a second: a pause or a take shows on the wall within ~1 s (the call is one store read per VM).
const POLL_MS = 1000;

function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

export function OperatorConsole({ baseUrl }: { baseUrl: string }) {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [draft, setDraft] = useState('');
  const [vms, setVms] = useState<VmSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newVm, setNewVm] = useState<CreateVmResponse | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const client = useMemo(
    () => (token ? new OperatorClient(new ApiClient({ baseUrl, token })) : null),
    [baseUrl, token],
  );

  useEffect(() => {
    document.title = 'vmlive — operator console';
  }, []);

  const signOut = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setVms(null);
  }, []);

  useEffect(() => {
    if (!client) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const { vms: list } = await client.listVms(abort.signal);
        setVms(list);
        setError(null);
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ApiError && err.is('unauthorized')) {
          setError('The operator token was rejected.');
          signOut();
          return;
        }
        setError(`Could not list VMs: ${errorText(err)}`);
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [client, signOut]);

  const signIn = (event: FormEvent) => {
    event.preventDefault();
    const value = draft.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    setToken(value);
    setDraft('');
    setError(null);
  };

  const addVm = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!client) return;
    const form = event.currentTarget;
    const name = new FormData(form).get('name');
    try {
      setNewVm(await client.createVm(typeof name === 'string' && name.trim() ? name.trim() : undefined));
      form.reset();
    } catch (err) {
      setError(`Could not add a VM: ${errorText(err)}`);
    }
  };

  if (!token || !client) {
    return (
      <main className="console">
        <h1>vmlive operator console</h1>
        <form className="signin" onSubmit={signIn}>
          <label htmlFor="operator-token">Operator token</label>
          <input
            id="operator-token"
            type="password"
            autoComplete="off"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            required
          />
          <button type="submit">Sign in</button>
          <p className="hint">Kept in this tab's session storage only.</p>
        </form>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </main>
    );
  }

  const origin = window.location.origin;
  const apiParam = baseUrl === origin ? '' : `&api=${encodeURIComponent(baseUrl)}`;
  const linkFor = (vmId: string, viewerToken: string) =>
    viewerLink(origin, vmId, viewerToken).replace('#', `${apiParam}#`);
  const selectedVm = vms?.find((vm) => vm.vmId === selected) ?? null;
  const openViewer = (vm: VmSummary) =>
    void openViewerTab(client, vm.vmId, linkFor).catch((err: unknown) =>
      setError(`Opening a viewer failed for ${vm.name || vm.vmId}: ${errorText(err)}`),
    );

  return (
    <main className="console">
      <header className="console__header">
        <h1>vmlive operator console</h1>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {vms !== null && vms.length > 0 && (
        <div className={selectedVm ? 'wall-layout wall-layout--panel' : 'wall-layout'}>
          <VmWall
            vms={vms}
            client={client}
            selected={selected}
            onOpen={openViewer}
            onSelect={(vm) => setSelected((cur) => (cur === vm.vmId ? null : vm.vmId))}
          />
          {selectedVm && (
            <VmPanel
              key={selectedVm.vmId}
              vm={selectedVm}
              client={client}
              onClose={() => setSelected(null)}
              onError={setError}
            />
          )}
        </div>
      )}
      <section aria-labelledby="vms-heading">
        <h2 id="vms-heading">VMs</h2>
        {vms === null ? (
          <p>Loading…</p>
        ) : vms.length === 0 ? (
          <p>No VMs registered yet.</p>
        ) : (
          <table className="vm-table">
            <thead>
              <tr>
                <th scope="col">VM</th>
                <th scope="col">State</th>
                <th scope="col">Viewers</th>
                <th scope="col">Control</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {vms.map((vm) => (
                <VmRow key={vm.vmId} vm={vm} client={client} linkFor={linkFor} onError={setError} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="add-heading">
        <h2 id="add-heading">Add a VM</h2>
        <form className="inline-form" onSubmit={(e) => void addVm(e)}>
          <label htmlFor="vm-name">Name</label>
          <input id="vm-name" name="name" maxLength={128} />
          <button type="submit">Add VM</button>
        </form>
        {newVm && (
          <p role="status">
            Added VM <code>{newVm.vmId}</code>. Its VM token (shown only now; start the VM agent with it):{' '}
            <code className="secret">{newVm.vmToken}</code>
          </p>
        )}
      </section>
    </main>
  );
}
