/**
 * Which CDP commands an automation may send while a person has control.
 *
 * The rule: a command that could change the page or the browser (input,
 * navigation, script evaluation, emulation, new tabs, …) is held (or rejected)
 * while the control mode is `user` or `paused`. Everything in ALLOWLIST below
 * passes. The table is deliberately explicit: an unknown or new CDP method is a
 * change until someone reads what it does and lists it here (README.md renders
 * this table, and a test checks both agree).
 */
import type { ControlMode } from '@vmlive/protocol';

/**
 * - `read`: reads state or switches this client's own event reporting; passes
 *   while held, but queues behind commands already held on the connection so a
 *   connection's commands reach Chromium in the order it sent them.
 * - `resume`: lets the browser go on with something it paused *for this
 *   client* (a new target waiting for the debugger, an intercepted request).
 *   Passes at once, even past held commands: holding it would freeze the tab,
 *   iframe or request the person is using.
 */
export type AllowedClass = 'read' | 'resume';
export type MethodClass = AllowedClass | 'vmlive' | 'change';

export interface AllowRule {
  /** `Domain.method`; `{A.x,B.y}` or `{A,B}.method` for several; `*.get*` is the one wildcard (no `Domain.*`). */
  readonly pattern: string;
  readonly class: AllowedClass;
  readonly why: string;
  /** When present, the rule applies only to commands whose params pass this check. */
  readonly when?: (params: Readonly<Record<string, unknown>>) => boolean;
  readonly whenDoc?: string;
}

/** Domains whose `enable`/`disable` only switch event reporting for this client on and off. */
const REPORTING_DOMAINS = [
  'Accessibility',
  'Animation',
  'Audits',
  'CSS',
  'Console',
  'DOM',
  'DOMStorage',
  'Database',
  'HeapProfiler',
  'IndexedDB',
  'Inspector',
  'LayerTree',
  'Log',
  'Media',
  'Network',
  'Overlay',
  'Page',
  'Performance',
  'PerformanceTimeline',
  'Preload',
  'Profiler',
  'Runtime',
  'Security',
  'ServiceWorker',
];

export const ALLOWLIST: readonly AllowRule[] = Object.freeze([
  {
    pattern: '*.get*',
    class: 'read',
    why: 'getters read state (Browser.getVersion, Target.getTargets, DOM.getDocument, Page.getFrameTree, …)',
  },
  {
    pattern: `{${REPORTING_DOMAINS.join(',')}}.enable`,
    class: 'read',
    why: 'switches event reporting on for this client; not Fetch/WebAuthn/FedCm/DeviceAccess/Debugger.enable, which change how the page behaves',
  },
  {
    pattern: `{${REPORTING_DOMAINS.join(',')}}.disable`,
    class: 'read',
    why: 'switches event reporting off for this client',
  },
  {
    pattern:
      '{Target.attachToTarget,Target.attachToBrowserTarget,Target.detachFromTarget,Target.setDiscoverTargets,Target.setAutoAttach,Target.autoAttachRelated}',
    class: 'read',
    why: 'sessions and target discovery for this client; no page changes',
  },
  { pattern: 'Page.setLifecycleEventsEnabled', class: 'read', why: 'event reporting' },
  {
    pattern: 'Page.captureScreenshot',
    class: 'read',
    why: 'reads pixels',
    when: (p) => p.captureBeyondViewport !== true,
    whenDoc: 'unless captureBeyondViewport: true (that resizes the view the person sees)',
  },
  {
    pattern: '{Page.captureSnapshot,Page.startScreencast,Page.stopScreencast,Page.screencastFrameAck}',
    class: 'read',
    why: 'reads the page or its frames',
  },
  {
    pattern:
      '{DOM.describeNode,DOM.querySelector,DOM.querySelectorAll,DOM.resolveNode,DOM.requestNode,DOM.requestChildNodes,DOM.pushNodesByBackendIdsToFrontend,DOM.pushNodeByPathToFrontend,DOM.performSearch,DOM.discardSearchResults,DOM.collectClassNamesFromSubtree}',
    class: 'read',
    why: 'reads the DOM into this client’s node ids',
  },
  {
    pattern: '{Runtime.releaseObject,Runtime.releaseObjectGroup}',
    class: 'read',
    why: 'frees this client’s remote object handles',
  },
  { pattern: 'Accessibility.queryAXTree', class: 'read', why: 'reads the accessibility tree' },
  { pattern: '{IO.read,IO.close,IO.resolveBlob}', class: 'read', why: 'reads a stream or blob' },
  {
    pattern: 'Runtime.runIfWaitingForDebugger',
    class: 'resume',
    why: 'a tab or iframe the person opens is paused for this client (setAutoAttach waitForDebuggerOnStart) until this arrives',
  },
  {
    pattern:
      '{Fetch.continueRequest,Fetch.continueResponse,Fetch.continueWithAuth,Fetch.failRequest,Fetch.fulfillRequest}',
    class: 'resume',
    why: 'answers a request Chromium paused for this client (Fetch.requestPaused); holding it would stall the person’s page loads',
  },
  {
    pattern: 'Debugger.resume',
    class: 'resume',
    why: 'a page paused in this client’s debugger would stay frozen for the person',
  },
] satisfies AllowRule[]);

/** Expands `{A.x,B.y}` and `{A,B}.x` into method names; `*.get*` stays a pattern. */
export function expandPattern(pattern: string): string[] {
  const m = /^\{([^}]*)\}(\..+)?$/.exec(pattern);
  if (!m) return [pattern];
  const alts = (m[1] ?? '').split(',');
  return alts.map((a) => `${a}${m[2] ?? ''}`);
}

const GETTER = /^[A-Za-z]+\.get[A-Z]/;
const exact = new Map<string, AllowRule>();
let getterRule: AllowRule | undefined;
for (const rule of ALLOWLIST) {
  if (rule.pattern === '*.get*') getterRule = rule;
  else for (const method of expandPattern(rule.pattern)) exact.set(method, rule);
}

/** The class of a CDP command: `vmlive` (answered by the gateway), an allowed class, or `change`. */
export function classify(method: string, params: Readonly<Record<string, unknown>> = {}): MethodClass {
  if (method.startsWith('Vmlive.')) return 'vmlive';
  const rule = exact.get(method) ?? (getterRule && GETTER.test(method) ? getterRule : undefined);
  if (!rule) return 'change';
  if (rule.when && !rule.when(params)) return 'change';
  return rule.class;
}

/** What to do with one command now. */
export type Decision = 'local' | 'forward' | 'hold' | 'reject';

export function isHeldMode(mode: ControlMode): boolean {
  return mode !== 'agent';
}

/**
 * The decision for a command of class `cls` in `mode`, when the connection
 * already holds `queued` commands. In `agent` mode the queue has been released
 * before this is asked, so `queued` is 0 there.
 */
export function decide(cls: MethodClass, mode: ControlMode, queued: number, whileHeld: 'hold' | 'reject'): Decision {
  if (cls === 'vmlive') return 'local';
  if (!isHeldMode(mode) || cls === 'resume') return 'forward';
  // Order per connection: a read never overtakes a command held before it.
  if (cls === 'read') return queued > 0 ? 'hold' : 'forward';
  return whileHeld === 'reject' ? 'reject' : 'hold';
}
