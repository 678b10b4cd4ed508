/*
 * ckptself [work] — does some work, checkpoints itself with
 * sys_checkpoint(FREEZE, -1, -1, 0), and says which side of the checkpoint it is
 * on: 0 = the checkpoint was written and this process goes on; a positive value
 * (1 from `vkc restore`) = this is the thawed copy resuming. Then it finishes the
 * work (`work` hash rounds after the checkpoint, default 1000000) and prints a
 * result that is the same on both sides. Needs vkc's sys_checkpoint. Exit 0, or
 * 1 if sys_checkpoint failed.
 */
#include "vkc.h"

static uint32_t mix(uint32_t h, long rounds) {
  for (long i = 0; i < rounds; i++) {
    h ^= (uint32_t)i;
    h *= 0x01000193u;
    h ^= h >> 15;
  }
  return h;
}

int main(int argc, char **argv) {
  long work = 1000000;
  if (argc > 2 || (argc == 2 && (parse_long(argv[1], &work) != 0 || work < 0))) {
    eprintf("usage: ckptself [work rounds]\n");
    return 2;
  }
  uint32_t h = mix(FNV1A_INIT, work / 2);
  printf("ckptself: before the checkpoint, state 0x%08x\n", h);
  fflush_stdout(); /* nothing buffered may be saved in the image */

  long r = sys_checkpoint(CKPT_FREEZE, -1, -1, 0);
  if (r == 0) {
    printf("ckptself: checkpointed (sys_checkpoint returned 0), continuing\n");
  } else if (r > 0) {
    printf("ckptself: resumed from a checkpoint (sys_checkpoint returned %ld)\n", r);
  } else {
    printf("ckptself: sys_checkpoint failed: %s\n", strerror((int)-r));
  }

  h = mix(h, work - work / 2);
  printf("ckptself: result 0x%08x\n", h);
  return r < 0 ? 1 : 0;
}
