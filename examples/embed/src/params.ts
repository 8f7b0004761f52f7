/** Where the VM is comes in the URL: ?controller=…&vm=…&mode=auto#token=… (the token stays in the fragment, out of server logs). */
export interface EmbedParams {
  controllerUrl: string;
  vmId: string;
  token: string;
  mode: 'auto' | 'live' | 'screenshot';
}

export function readParams(loc: Location = location): EmbedParams {
  const query = new URLSearchParams(loc.search);
  const mode = query.get('mode');
  return {
    controllerUrl: query.get('controller') ?? loc.origin,
    vmId: query.get('vm') ?? '',
    token: new URLSearchParams(loc.hash.slice(1)).get('token') ?? '',
    mode: mode === 'live' || mode === 'screenshot' ? mode : 'auto',
  };
}

/** A line for the page's event log, stamped with the wall-clock time. */
export const logLine = (text: string) => `${new Date().toISOString().slice(11, 23)} ${text}`;
