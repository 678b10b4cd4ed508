import { Agent, type AgentOptions } from "node:http";
import { createConnection, type Socket } from "node:net";

/**
 * An HTTP agent whose connections go to a Unix socket, whatever host and port the request names
 * (the endpoint URL, and so the signed Host header, stay as they are). For a server on the same
 * machine that listens there too (`startEmbeddedS3`): loopback without TCP costs the kernel about
 * half as much per byte, which an embedded server, sharing the CPU with its client, feels.
 */
export class UnixSocketAgent extends Agent {
  constructor(
    readonly socketPath: string,
    options: AgentOptions = {},
  ) {
    super({ keepAlive: true, ...options });
  }

  /** The socket is returned, not passed to a callback (the agent takes either). */
  override createConnection(): Socket {
    return createConnection(this.socketPath);
  }
}
