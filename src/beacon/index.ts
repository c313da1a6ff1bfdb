/**
 * `keyflip/beacon`: the usage beacon, its sinks and the report's schema types. Plug the beacon into a resolver:
 * `createResolver({ sources, beacon: usageBeacon({ service, sink: httpSink({ url }) }) })`.
 * @module keyflip/beacon
 */
export { usageBeacon } from './beacon.js';
export {
  BeaconDeliveryError,
  type BeaconDeliveryCode,
  type BeaconDeliveryErrorOptions,
  BeaconOmissionError,
  type OmittedSecret,
} from './errors.js';
export {
  logSink,
  httpSink,
  type LogSinkOptions,
  type HttpSinkOptions,
  type HttpSink,
  type HttpSinkStats,
} from './sinks.js';
export {
  BEACON_LIMITS,
  BEACON_SCHEMA,
  type BeaconInstance,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSecret,
  type BeaconSink,
  type BeaconStats,
} from './types.js';
