/**
 * One side's trickled candidates in the memory store, in seq order, with an
 * index by candidate line so that the duplicate check of a retried POST (its
 * reply was lost: the same candidate must not be stored twice) costs one Map
 * lookup instead of a walk over up to LIMITS.candidatesPerSide entries on
 * every POST. The index holds the list's own strings: no copy per candidate.
 */
import type { StoredCandidate } from '@vmlive/protocol';

export interface CandidateFields {
  candidate: string;
  sdpMLineIndex: number;
  sdpMid: string | null;
}

const same = (x: CandidateFields, c: CandidateFields) =>
  x.candidate === c.candidate && x.sdpMLineIndex === c.sdpMLineIndex && x.sdpMid === c.sdpMid;

export class CandidateList {
  private readonly items: StoredCandidate[] = [];
  /** The first candidate stored with each line. */
  private readonly byLine = new Map<string, StoredCandidate>();

  get length(): number {
    return this.items.length;
  }

  /** The stored candidate with exactly these fields, if any. */
  find(c: CandidateFields): StoredCandidate | undefined {
    const first = this.byLine.get(c.candidate);
    if (first === undefined || same(first, c)) return first;
    // The same line under another m-line (no BUNDLE, RFC 8843): rare, so a walk.
    return this.items.find((x) => same(x, c));
  }

  push(stored: StoredCandidate): void {
    this.items.push(stored);
    if (!this.byLine.has(stored.candidate)) this.byLine.set(stored.candidate, stored);
  }

  /** The candidates with seq > `since`, in seq order. */
  after(since: number): StoredCandidate[] {
    const list = this.items;
    // seq is increasing along the list: walk back to the first one after `since`.
    let i = list.length;
    while (i > 0 && (list[i - 1] as StoredCandidate).seq > since) i--;
    return list.slice(i);
  }
}
