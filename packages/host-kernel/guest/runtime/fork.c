/*
 * fork.c — fork, waitpid/wait/waitid and getppid over Linux rv32's calls: clone (220) in its
 * fork form and waitid (95); rv32 has no wait4, so waitpid is built on waitid(WEXITED).
 */
#include "internal.h"

pid_t getppid(void) { return (pid_t)vkc_ecall(SYS_getppid, 0, 0, 0, 0, 0, 0); }

pid_t fork(void) {
  fflush_stdout(); /* else a partial line in the buffer would be printed by both */
  long r = vkc_ecall(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (r == 0) {
    /* The child's only thread has a new tid: keep the descriptor truthful. */
    struct vkc_thread *self = vkc_current();
    self->tid = (int32_t)vkc_ecall(SYS_gettid, 0, 0, 0, 0, 0, 0);
    self->tid_word = self->tid;
  }
  return (pid_t)vkc_ret(r);
}

int waitid(int idtype, pid_t id, siginfo_t *info, int options) {
  return (int)vkc_ret(vkc_ecall(SYS_waitid, idtype, id, (long)info, options, 0, 0));
}

pid_t waitpid(pid_t pid, int *status, int options) {
  int idtype = P_PID;
  pid_t id = pid;
  if (pid == -1) {
    idtype = P_ALL;
    id = 0;
  } else if (pid <= 0) {
    idtype = P_PGID;
    id = -pid; /* 0: the caller's group */
  }
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(idtype, id, &info, (options & WNOHANG) | WEXITED) != 0) return -1;
  if (info.si_pid == 0) return 0; /* WNOHANG: nothing has exited yet */
  if (status != 0) {
    if (info.si_code == CLD_EXITED) *status = (info.si_status & 0xff) << 8;
    else *status = (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
  }
  return info.si_pid;
}

pid_t wait(int *status) { return waitpid(-1, status, 0); }
