/**
 * `keyflip/beacon`: the sinks of the usage beacon and the report's types. The beacon itself runs in the
 * core: `createResolver({ sources, beacon: { service, sink } })`.
 */
export {
  logSink,
  httpSink,
  type LogSinkOptions,
  type HttpSinkOptions,
  type HttpSink,
  type HttpSinkStats,
} from './sinks.js';
export {
  BEACON_SCHEMA,
  type BeaconInstance,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSecret,
  type BeaconSink,
  type BeaconStats,
} from './types.js';
