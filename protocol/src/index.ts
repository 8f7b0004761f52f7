export * from './rest.js';
export * from './rest-responses.js';
export * from './input.js';
export * as helperProtocol from './helper.js';
export type { HelperCommand, HelperEvent, PeerStats, EncoderStats } from './helper.js';
export { HELPER_EXIT_BAD_CONFIG } from './helper.js';
