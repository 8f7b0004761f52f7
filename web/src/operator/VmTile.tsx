/**
 * One VM on the wall: its recent picture, name, state, who controls it and a
 * health badge. Hover or focus enlarges it and refreshes the picture at the
 * controller's snapshot interval (a low-rate live view; see VmWall for why it is
 * not a WebRTC viewer); click or Enter opens the viewer.
 */
import type { VmSummary } from '@vmlive/protocol';
import { type KeyboardEvent, useRef, useState } from 'react';
import type { OperatorClient } from '../api/operatorClient.js';
import { useVisibleSnapshot } from './useVisibleSnapshot.js';
import { ATTENTION_TEXT, attentionReasons, controlText, healthBadge, tileState } from './wall.js';

export interface TileTiming {
  /** Picture refresh of a tile in view. */
  idleMs: number;
  /** Refresh of the hovered or focused (enlarged) tile. */
  enlargedMs: number;
}

export interface VmTileProps {
  vm: VmSummary;
  client: OperatorClient;
  index: number;
  focusable: boolean;
  selected: boolean;
  timing: TileTiming;
  onOpen(vm: VmSummary): void;
  onSelect(vm: VmSummary): void;
  onKeyDown(event: KeyboardEvent<HTMLButtonElement>, index: number): void;
}

export function VmTile({ vm, client, index, focusable, selected, timing, onOpen, onSelect, onKeyDown }: VmTileProps) {
  const ref = useRef<HTMLLIElement>(null);
  const [hovered, setHovered] = useState(false);
  const [focused, setFocused] = useState(false);
  const enlarged = hovered || focused;
  const state = tileState(vm);
  const snap = useVisibleSnapshot(client, vm.vmId, ref, enlarged ? timing.enlargedMs : timing.idleMs, vm.online);
  const reasons = attentionReasons(vm);
  const badge = healthBadge(vm, Date.now());
  const name = vm.name || vm.vmId;
  const control = controlText(vm.control);
  const classes = [
    'tile',
    `tile--${state}`,
    reasons.length > 0 ? 'tile--attention' : '',
    enlarged ? 'tile--enlarged' : '',
    selected ? 'tile--selected' : '',
  ].join(' ');

  return (
    <li
      ref={ref}
      className={classes}
      data-vm-id={vm.vmId}
      onMouseEnter={() => setHovered(true)}
      onMouseLeave={() => setHovered(false)}
    >
      <button
        type="button"
        className="tile__screen"
        data-tile-index={index}
        tabIndex={focusable ? 0 : -1}
        aria-label={`Open the viewer of ${name}: ${state}, ${control}, ${badge.text}`}
        onClick={() => onOpen(vm)}
        onFocus={() => setFocused(true)}
        onBlur={() => setFocused(false)}
        onKeyDown={(e) => onKeyDown(e, index)}
      >
        {snap.url ? (
          <img src={snap.url} alt={`Screen of ${name}`} className={snap.failed ? 'tile__img--stale' : undefined} />
        ) : (
          <span className="tile__placeholder">{vm.online ? 'Waiting for a picture…' : 'Offline'}</span>
        )}
      </button>
      <div className="tile__meta">
        <span className="tile__name">{name}</span>
        <span className={`badge badge--${state}`}>{state}</span>
        <span className="tile__control">{control}</span>
        <span className={`health health--${badge.level}`} title="health">
          {badge.text}
        </span>
        {reasons.length > 0 && (
          <span className="tile__attention">needs attention: {reasons.map((r) => ATTENTION_TEXT[r]).join(', ')}</span>
        )}
        <button
          type="button"
          className="tile__details"
          tabIndex={focusable ? 0 : -1}
          aria-pressed={selected}
          onClick={() => onSelect(vm)}
        >
          Details
        </button>
      </div>
    </li>
  );
}
