// The automation side of the example: a Playwright task on the VM's browser that reports each step to
// the run's timeline with @vmlive/automation (installed from its tarball), so the embedded
// <TakeoverPanel> shows them, and waits while a person has control.
//   node automation.mjs --controller URL --vm ID --token AUTOMATION_TOKEN --cdp CDP_GATEWAY_URL [--steps 5]
// Prints one JSON line per step reported ({"step":i,"reportedAt":ms}) and "done" at the end.
import { parseArgs } from 'node:util';
import { connect, ReportingPage } from '@vmlive/automation';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    controller: { type: 'string' },
    vm: { type: 'string' },
    token: { type: 'string' },
    cdp: { type: 'string' },
    steps: { type: 'string', default: '5' },
    selector: { type: 'string', default: '#btn' },
  },
});
for (const name of ['controller', 'vm', 'token', 'cdp']) {
  if (!values[name]) {
    process.stderr.write(`automation.mjs: --${name} is required\n`);
    process.exit(2);
  }
}
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) {
  process.stderr.write('automation.mjs: --steps must be a positive integer\n');
  process.exit(2);
}

const run = await connect({ controllerUrl: values.controller, vmId: values.vm, token: values.token });
const browser = await chromium.connectOverCDP(values.cdp);
try {
  const page = browser.contexts()[0]?.pages()[0];
  if (!page) throw new Error('the VM browser has no page');
  const reporting = new ReportingPage(page, run);
  const report = run.reportStep.bind(run);
  run.reportStep = (step) => {
    if (step.status === 'started')
      process.stdout.write(`${JSON.stringify({ step: step.index, reportedAt: Date.now() })}\n`);
    return report(step);
  };
  for (let i = 0; i < steps; i++) await reporting.click(values.selector);
  process.stdout.write('done\n');
} finally {
  run.close();
  // connectOverCDP's close() disconnects; the VM's browser keeps running.
  await browser.close();
}
