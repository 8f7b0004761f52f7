export type { EncoderStats, HelperCommand, HelperEvent, PeerStats } from './helper.js';
export * as helperProtocol from './helper.js';
export { HELPER_EXIT_BAD_CONFIG } from './helper.js';
export * from './input.js';
export * from './rest.js';
export * from './rest-responses.js';
