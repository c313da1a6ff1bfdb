import { ConfigurationError } from '../../errors.js';

/**
 * The error a server of the emulator throws when it cannot listen on `host:port` (the port is taken, the
 * host is not an address of this machine): the `host`/`port` options cannot be used. The system's error
 * (`EADDRINUSE`, …) is its `cause`, and its code ends the message.
 */
export function cannotListen(host: string, port: number, cause: Error): ConfigurationError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new ConfigurationError(
    `The Secret Manager emulator cannot listen on ${host}:${port}: ${code ?? cause.message}`,
    'INVALID_OPTIONS',
    { cause },
  );
}
