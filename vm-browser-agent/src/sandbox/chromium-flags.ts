/**
 * How vmlive starts Chromium, once: the binary, the flags every instance
 * needs, and the one `--disable-features` switch of each role. Used by the
 * sandbox VM's browser (sandbox-browser.ts), the e2e viewers (e2e/system.ts)
 * and the scripts' browsers (scripts/lib/chromium.ts).
 *
 * Chromium honours only the LAST `--disable-features` switch on its command
 * line, so a list split over two switches silently loses the first. Hence one
 * switch per command line, built here; and a browser started by Playwright's
 * `chromium.launch()`, which puts its own switch before ours, must repeat
 * Playwright's list in ours.
 */

export const CHROMIUM = process.env.VMLIVE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags Chromium needs as root on a machine without outside network. */
export const CHROMIUM_BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * playwright-core 1.65's own list (chromiumSwitches.ts), without its
 * Windows- and Edge-only entries.
 */
const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
];

/** No translate bar, cast discovery or hint downloads on a browser without outside network. */
const COMMON_DISABLED_FEATURES = ['Translate', 'MediaRouter', 'OptimizationHints'];

/**
 * Off in viewers: Chromium then sends real host candidates, which libnice
 * (the helper's webrtcbin) pairs directly, instead of mDNS names it cannot
 * resolve.
 */
const VIEWER_DISABLED_FEATURES = ['WebRtcHideLocalIpsWithMdns'];

export const AUTOPLAY_FLAG = '--autoplay-policy=no-user-gesture-required';

export type ChromiumRole = 'vm-browser' | 'viewer';

export interface DisableFeaturesOptions {
  /** Started by Playwright's `chromium.launch()`, whose own switch comes before ours. */
  launchedByPlaywright?: boolean;
  /** A viewer that hides its host addresses behind mDNS names, as a stock Chromium does (tests of that path). */
  mdnsCandidates?: boolean;
}

/** The one `--disable-features` switch for a Chromium in this role. */
export function disableFeaturesFlag(role: ChromiumRole, opts: DisableFeaturesOptions = {}): string {
  const features = [
    ...(opts.launchedByPlaywright ? PLAYWRIGHT_DISABLED_FEATURES : []),
    ...COMMON_DISABLED_FEATURES,
    ...(role === 'viewer' && !opts.mdnsCandidates ? VIEWER_DISABLED_FEATURES : []),
  ];
  return `--disable-features=${[...new Set(features)].join(',')}`;
}

/**
 * The VM's screen: a headful kiosk window of fixed size at the display's
 * origin, so screen coordinates are page coordinates. Callers add the
 * profile, the DevTools port and the URL.
 */
export function vmBrowserFlags(size: { width: number; height: number }): string[] {
  return [
    ...CHROMIUM_BASE_FLAGS,
    '--kiosk',
    '--window-position=0,0',
    `--window-size=${size.width},${size.height}`,
    '--noerrdialogs',
    '--disable-infobars',
    '--disable-session-crashed-bubble',
    disableFeaturesFlag('vm-browser'),
    AUTOPLAY_FLAG,
  ];
}

/** A viewer (headless; Playwright or the caller adds `--headless`). */
export function viewerFlags(opts: DisableFeaturesOptions = {}): string[] {
  return [...CHROMIUM_BASE_FLAGS, disableFeaturesFlag('viewer', opts), AUTOPLAY_FLAG];
}
