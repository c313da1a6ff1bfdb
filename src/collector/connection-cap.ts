/**
 * A cap on the collector's open connections that a flood of idle ones cannot turn against it.
 *
 * Node's own `server.maxConnections` refuses the newest connection once the cap is reached: whoever opens the
 * cap's worth of idle, header-less connections first then locks every beacon and `verify` out until the server
 * times them out. This cap instead closes, to make room, the OLDEST connection that serves no request (idle,
 * still sending its headers, kept alive between requests, or only being refused) and refuses the newcomer only
 * when every open connection serves a request. A request is "served" from the moment the server marks it (after
 * its token was checked) until its response is done, so a client without the token can hold no slot.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The cap on one server (see the module comment). */
export interface ConnectionCap {
  /** Marks the connection of `res` as serving a request until `res` closes: it is not closed to make room. */
  serving(res: ServerResponse): void;
  /** Connections open now. */
  readonly open: number;
  /** Connections closed (or refused) to keep within the cap since the server started. */
  readonly shed: number;
}

/** Keeps `server` at `max` open connections at most (see the module comment). */
export function capConnections(server: Server, max: number): ConnectionCap {
  /** Every open connection with the number of requests it serves now, the oldest first (insertion order). */
  const sockets = new Map<Socket, { serving: number }>();
  let shed = 0;

  const drop = (socket: Socket): void => {
    sockets.delete(socket);
    shed++;
    socket.destroy();
  };

  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { serving: 0 });
    socket.once('close', () => sockets.delete(socket));
    if (sockets.size <= max) return;
    for (const [other, state] of sockets) {
      if (other !== socket && state.serving === 0) {
        drop(other);
        return;
      }
    }
    drop(socket);
  });

  return {
    serving(res: ServerResponse): void {
      const state = res.socket === null ? undefined : sockets.get(res.socket as Socket);
      if (state === undefined) return;
      state.serving++;
      res.once('close', () => {
        state.serving--;
      });
    },
    get open(): number {
      return sockets.size;
    },
    get shed(): number {
      return shed;
    },
  };
}
