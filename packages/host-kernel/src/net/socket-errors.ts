import { HostKernelError } from "../errors.ts";

/** A saved socket or interface state (image, description) is not usable: names the bad field. */
export class NetImageError extends HostKernelError {
  constructor(path: string, problem: string) {
    super("NET_IMAGE", `${path}: ${problem}`);
  }
}
