/**
 * The wall: every VM as a tile, the ones that need attention (paused, a person in
 * control, helper restarting, offline) first by default, with filter, sort and
 * search, and arrow-key navigation (a roving tabindex: Tab enters the grid once,
 * arrows move, Enter opens the viewer).
 *
 * The enlarged (hovered or focused) tile refreshes its snapshot at the
 * controller's cache interval instead of opening a WebRTC viewer: a viewer per
 * hover would start the VM helper's capture and encoder (idle while nobody
 * watches) and a signaling session for a glance; a 2 s JPEG costs one screen grab.
 */
import type { VmSummary } from '@vmlive/protocol';
import { type KeyboardEvent, useCallback, useMemo, useRef, useState } from 'react';
import type { OperatorClient } from '../api/operatorClient.js';
import { type TileTiming, VmTile } from './VmTile.js';
import {
  arrangeTiles,
  attentionReasons,
  FILTERS,
  type Filter,
  gridMove,
  oneOf,
  SORT_KEYS,
  type SortKey,
} from './wall.js';

export const DEFAULT_TIMING: TileTiming = { idleMs: 5000, enlargedMs: 2000 };

export interface VmWallProps {
  vms: readonly VmSummary[];
  client: OperatorClient;
  selected: string | null;
  timing?: TileTiming;
  onOpen(vm: VmSummary): void;
  onSelect(vm: VmSummary): void;
}

export function VmWall({ vms, client, selected, timing = DEFAULT_TIMING, onOpen, onSelect }: VmWallProps) {
  const [sort, setSort] = useState<SortKey>('attention');
  const [filter, setFilter] = useState<Filter>('all');
  const [text, setText] = useState('');
  const [focusIndex, setFocusIndex] = useState(0);
  const grid = useRef<HTMLUListElement>(null);
  const tiles = useMemo(() => arrangeTiles(vms, sort, filter, text), [vms, sort, filter, text]);
  const attention = vms.filter((vm) => attentionReasons(vm).length > 0).length;

  const onKeyDown = useCallback(
    (event: KeyboardEvent<HTMLButtonElement>, index: number) => {
      const el = grid.current;
      if (!el) return;
      // Columns as laid out now (the grid is responsive): count the tracks of grid-template-columns.
      const columns = getComputedStyle(el).gridTemplateColumns.split(' ').filter(Boolean).length;
      const next = gridMove(event.key, index, tiles.length, columns);
      if (next === null) return;
      event.preventDefault();
      setFocusIndex(next);
      el.querySelector<HTMLButtonElement>(`[data-tile-index="${next}"]`)?.focus();
    },
    [tiles.length],
  );

  return (
    <section aria-labelledby="wall-heading" className="wall">
      <header className="wall__header">
        <h2 id="wall-heading">Wall</h2>
        <span role="status" className="wall__summary">
          {vms.length} VMs, {attention} need{attention === 1 ? 's' : ''} attention
        </span>
        <label>
          Show{' '}
          <select value={filter} onChange={(e) => setFilter(oneOf(FILTERS, e.target.value, 'all'))}>
            <option value="all">all</option>
            <option value="attention">needs attention</option>
            <option value="streaming">streaming</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        </label>
        <label>
          Sort by{' '}
          <select value={sort} onChange={(e) => setSort(oneOf(SORT_KEYS, e.target.value, 'attention'))}>
            <option value="attention">needs attention</option>
            <option value="name">name</option>
            <option value="state">state</option>
          </select>
        </label>
        <label>
          Search <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      </header>
      {tiles.length === 0 ? (
        <p>No VM matches.</p>
      ) : (
        <ul className="wall__grid" ref={grid} aria-label="VM tiles">
          {tiles.map((vm, i) => (
            <VmTile
              key={vm.vmId}
              vm={vm}
              client={client}
              index={i}
              focusable={i === Math.min(focusIndex, tiles.length - 1)}
              selected={vm.vmId === selected}
              timing={timing}
              onOpen={onOpen}
              onSelect={onSelect}
              onKeyDown={onKeyDown}
            />
          ))}
        </ul>
      )}
    </section>
  );
}
