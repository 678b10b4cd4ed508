import type { DescriptorImage } from "./model-descriptor.ts";
import type { LwpImage } from "./model-lwp.ts";
import type { CborMap, SigSet } from "./model-values.ts";
import type { VmspaceImage } from "./model-vm.ts";

export interface SigActionImage {
  /** 1..64. Only signals whose action is not the default are listed. */
  readonly signal: number;
  /** Handler address, or 0 (SIG_DFL) / 1 (SIG_IGN). */
  readonly handler: number;
  readonly flags: number;
  readonly mask: SigSet;
  readonly restorer: number;
}

export interface ITimerImage {
  readonly which: "real" | "virtual" | "prof";
  /** Virtual nanoseconds to the next expiry. */
  readonly valueNs: number;
  readonly intervalNs: number;
}

export interface ProcessImage {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  readonly cwd: string;
  readonly cred: { readonly uid: number; readonly gid: number };
  /** Process flag bits (kernel-defined). */
  readonly flags: number;
  /** Set when the process had begun exiting. */
  readonly exitStatus?: number;
  readonly sigacts: readonly SigActionImage[];
  readonly itimers: readonly ITimerImage[];
  readonly lwps: readonly LwpImage[];
  readonly vmspace: VmspaceImage;
  readonly descriptors: readonly DescriptorImage[];
  readonly extensions?: CborMap;
}
