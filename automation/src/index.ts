export { Automation, type ConnectOptions, connect } from './automation.js';
export { type LocatorLike, type PageLike, ReportingPage, type StepOptions } from './page.js';
