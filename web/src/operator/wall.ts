/**
 * The wall's decisions, kept out of React so they are tested on their own:
 * a VM's state, who controls it, whether it needs attention, and the order
 * and filter of the tiles.
 */
import type { VmSummary } from '@vmlive/protocol';
import { controlHolderText } from './controlSummary.js';

export type TileState = 'offline' | 'online' | 'streaming';
export const SORT_KEYS = ['attention', 'name', 'state'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const FILTERS = ['all', 'attention', 'streaming', 'online', 'offline'] as const;
export type Filter = (typeof FILTERS)[number];

/** A <select>'s value as one of `options` (`fallback` when it is not one). */
export function oneOf<T extends string>(options: readonly T[], value: string, fallback: T): T {
  return options.find((o) => o === value) ?? fallback;
}

/** Why a VM is at the top of the wall; empty when it runs unattended as it should. */
export type AttentionReason = 'offline' | 'paused' | 'person' | 'helper';

export function tileState(vm: VmSummary): TileState {
  if (!vm.online) return 'offline';
  return (vm.health?.peers ?? 0) > 0 ? 'streaming' : 'online';
}

export function attentionReasons(vm: VmSummary): AttentionReason[] {
  const out: AttentionReason[] = [];
  if (!vm.online) out.push('offline');
  if (vm.control.mode === 'paused') out.push('paused');
  if (vm.control.mode === 'user') out.push('person');
  // The helper is down or not answering: the supervisor is restarting it (or failing to).
  if (vm.online && vm.health && vm.health.helper !== 'up') out.push('helper');
  return out;
}

export const ATTENTION_TEXT: Record<AttentionReason, string> = {
  offline: 'offline',
  paused: 'paused',
  person: 'a person in control',
  helper: 'helper restarting',
};

/** "Automation", "Operator", "Viewer ab12cd34", "Paused (held by …)". */
export const controlText = controlHolderText;

/** Health at a glance: ok / warn (helper trouble, recent error) / bad (offline, helper down). */
export function healthBadge(vm: VmSummary, now: number): { level: 'ok' | 'warn' | 'bad' | 'none'; text: string } {
  if (!vm.online) return { level: 'bad', text: 'offline' };
  const h = vm.health;
  if (!h) return { level: 'none', text: 'no health yet' };
  if (h.helper === 'down') return { level: 'bad', text: 'helper down' };
  if (h.helper === 'unresponsive') return { level: 'warn', text: 'helper not answering' };
  if (h.lastError && now - h.lastError.at < 60_000) return { level: 'warn', text: `error: ${h.lastError.code}` };
  if (h.peers > 0)
    return { level: 'ok', text: `${Math.round(h.fps ?? 0)} fps · ${Math.round(h.bitrateKbps ?? 0)} kbit/s` };
  return { level: 'ok', text: 'idle' };
}

const STATE_RANK: Record<TileState, number> = { offline: 0, online: 1, streaming: 2 };
const byName = (a: VmSummary, b: VmSummary) =>
  (a.name || a.vmId).localeCompare(b.name || b.vmId) || (a.vmId < b.vmId ? -1 : 1);

export function arrangeTiles(vms: readonly VmSummary[], sort: SortKey, filter: Filter, text: string): VmSummary[] {
  const needle = text.trim().toLowerCase();
  const kept = vms.filter((vm) => {
    if (needle && !`${vm.name} ${vm.vmId}`.toLowerCase().includes(needle)) return false;
    switch (filter) {
      case 'all':
        return true;
      case 'attention':
        return attentionReasons(vm).length > 0;
      default:
        return tileState(vm) === filter;
    }
  });
  const cmp =
    sort === 'name'
      ? byName
      : sort === 'state'
        ? (a: VmSummary, b: VmSummary) => STATE_RANK[tileState(a)] - STATE_RANK[tileState(b)] || byName(a, b)
        : // Needs attention first, then by name: the stuck one is at the top, the rest stay put.
          (a: VmSummary, b: VmSummary) =>
            Number(attentionReasons(b).length > 0) - Number(attentionReasons(a).length > 0) || byName(a, b);
  return [...kept].sort(cmp);
}

/**
 * Arrow-key movement in a grid of `count` tiles laid out `columns` wide: the index to focus
 * next, or null for keys that do not move. Home/End go to the first/last tile.
 */
export function gridMove(key: string, index: number, count: number, columns: number): number | null {
  const cols = Math.max(1, columns);
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  switch (key) {
    case 'ArrowRight':
      return clamp(index + 1);
    case 'ArrowLeft':
      return clamp(index - 1);
    case 'ArrowDown':
      return index + cols < count ? index + cols : index;
    case 'ArrowUp':
      return index - cols >= 0 ? index - cols : index;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
