/** Opens a VM's viewer in a new tab with a fresh one-hour control link (shared by the wall and the table). */
import type { OperatorClient } from '../api/operatorClient.js';

export async function openViewerTab(
  client: OperatorClient,
  vmId: string,
  linkFor: (vmId: string, token: string) => string,
): Promise<void> {
  // Open the tab synchronously (popup blockers), then point it at the link once minted.
  const tab = window.open('about:blank', '_blank');
  try {
    const { token } = await client.mintViewerToken(vmId, 'control', 3600);
    if (tab) tab.location.href = linkFor(vmId, token);
    else window.location.href = linkFor(vmId, token);
  } catch (err) {
    tab?.close();
    throw err;
  }
}
