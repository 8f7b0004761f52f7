// The framework-free <vmlive-viewer> element, bundled from @vmlive/viewer/element (a page with no
// bundler can load dist/vmlive-viewer.js, the standalone build, instead).
import '@vmlive/viewer/element';
import { logLine, readParams } from './params.js';

const params = readParams();
const viewer = document.createElement('vmlive-viewer');
viewer.setAttribute('controller-url', params.controllerUrl);
viewer.setAttribute('vm-id', params.vmId);
viewer.setAttribute('mode', params.mode);
viewer.setAttribute('token', params.token);
const log = document.getElementById('events');
const show = (line: string) => log?.append(`${logLine(line)}\n`);
viewer.addEventListener('vmlive-display', (e) => show(`display ${e.detail.kind} (${e.detail.reason.code})`));
viewer.addEventListener('vmlive-control', (e) => show(`control ${e.detail.text}`));
viewer.addEventListener('vmlive-error', (e) => show(`error ${e.detail.code}: ${e.detail.message}`));
document.getElementById('slot')?.append(viewer);
