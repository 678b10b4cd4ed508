import type { CliIO } from "../main.ts";

export async function demo({ io }: { io: CliIO }): Promise<number> {
  io.out("vkc demo: nothing to show yet.\n");
  return 0;
}
