/*
 * vkc.h — the whole public API of the vkc guest C runtime (RV32IMA, ILP32).
 *
 * Programs include only this header (plus clang's freestanding <stdint.h>,
 * <stddef.h>, <stdarg.h>, which it pulls in). The runtime speaks the vkc ABI
 * (packages/host-kernel ARCHITECTURE §2): Linux-numbered calls follow Linux's
 * rv32 generic ABI, so a program that avoids the vkc-only calls (threads, umtx,
 * sys_checkpoint) also runs under qemu-riscv32.
 *
 * Conventions: POSIX-style wrappers return -1 and set errno on failure; the
 * raw layer (vkc_syscallN, sys_checkpoint, lwp_create, umtx_*) returns -errno.
 * Nothing here is async-signal-safe except the raw calls, write(), the
 * signal wrappers, snprintf()/vsnprintf() and the string functions.
 */
#ifndef VKC_H
#define VKC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errno (Linux numbers) ---------------------------------------------- */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define EMFILE 24
#define ENOTTY 25
#define ENOSPC 28
#define ESPIPE 29
#define EPIPE 32
#define ERANGE 34
#define ENOSYS 38
#define ETIMEDOUT 110

int *__errno_location(void);
#define errno (*__errno_location())
const char *strerror(int err);

/* ---- syscall numbers (ARCHITECTURE §2; a number never changes meaning) --- */
#define SYS_ioctl 29
#define SYS_openat 56
#define SYS_close 57
#define SYS_pipe2 59
#define SYS_llseek 62
#define SYS_read 63
#define SYS_write 64
#define SYS_exit 93
#define SYS_exit_group 94
#define SYS_waitid 95 /* rv32 has no wait4 (260): waitpid is waitid */
#define SYS_sched_yield 124
#define SYS_kill 129
#define SYS_tgkill 131
#define SYS_sigaltstack 132
#define SYS_rt_sigaction 134
#define SYS_rt_sigprocmask 135
#define SYS_rt_sigreturn 139
#define SYS_getpid 172
#define SYS_getppid 173
#define SYS_gettid 178
#define SYS_brk 214
#define SYS_munmap 215
#define SYS_clone 220 /* fork form only: clone(SIGCHLD, 0, 0, 0, 0) */
#define SYS_mmap2 222
#define SYS_mprotect 226
#define SYS_clock_gettime64 403
#define SYS_clock_nanosleep_time64 407
#define SYS_sys_checkpoint 500
#define SYS_lwp_create 501
#define SYS_umtx_sleep 502
#define SYS_umtx_wakeup 503
#define SYS_vmspace_create 510
#define SYS_vmspace_destroy 511
#define SYS_vmspace_mmap 512
#define SYS_vmspace_munmap 513
#define SYS_vmspace_mcontrol 514
#define SYS_vmspace_ctl 515

long vkc_syscall0(long n);
long vkc_syscall1(long n, long a0);
long vkc_syscall2(long n, long a0, long a1);
long vkc_syscall3(long n, long a0, long a1, long a2);
long vkc_syscall4(long n, long a0, long a1, long a2, long a3);
long vkc_syscall5(long n, long a0, long a1, long a2, long a3, long a4);
long vkc_syscall6(long n, long a0, long a1, long a2, long a3, long a4, long a5);

/* ---- types ---------------------------------------------------------------- */
typedef int32_t ssize_t;
typedef int64_t off_t;
typedef int32_t pid_t;
typedef uint64_t sigset_t; /* bit n-1 is signal n */

/* ---- files ---------------------------------------------------------------- */
#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0x40
#define O_EXCL 0x80
#define O_TRUNC 0x200
#define O_APPEND 0x400
#define O_NONBLOCK 0x800
#define O_CLOEXEC 0x80000
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
ssize_t write_all(int fd, const void *buf, size_t n); /* loops over short writes */
int open(const char *path, int flags, ...);           /* openat(AT_FDCWD, ...) */
int openat(int dirfd, const char *path, int flags, int mode);
int close(int fd);
off_t lseek(int fd, off_t offset, int whence); /* _llseek */
int pipe(int fds[2]);
int pipe2(int fds[2], int flags);
int ioctl(int fd, unsigned long req, void *arg);

/* ---- memory --------------------------------------------------------------- */
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_STACK 0x20000
#define MAP_FAILED ((void *)-1)
#define PAGE_SIZE 4096u

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset); /* mmap2 */
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);
int brk(void *addr);      /* 0 or -1 (ENOMEM) */
void *sbrk(intptr_t inc); /* old break, or (void *)-1 */

void *malloc(size_t n);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);

/* ---- strings and memory --------------------------------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strdup(const char *s);
/* Parses an optional sign, then decimal (or 0x hex) digits. Returns 0 and stores the
 * value when the whole string is a number in range, else -1. */
int parse_long(const char *s, long *out);
long atol(const char *s);
int atoi(const char *s);

/* ---- stdio ---------------------------------------------------------------- */
/* stdout is buffered and always line-buffered (flushed at every '\n', at exit and by
 * fflush_stdout), so output is identical on any console; stderr is unbuffered. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* to stderr */
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);
int putchar(int c);
int fflush_stdout(void);

/* ---- process -------------------------------------------------------------- */
__attribute__((noreturn)) void exit(int status);  /* flushes stdout, exit_group */
__attribute__((noreturn)) void _exit(int status); /* exit_group, no flush */
__attribute__((noreturn)) void abort(void);       /* SIGABRT, else exit 134 */
pid_t getpid(void);
pid_t gettid(void);
int sched_yield(void);
pid_t getppid(void);
/* The environment and auxiliary vector the kernel passed (set by crt0). */
extern char **environ;
unsigned long getauxval(unsigned long type);
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_ENTRY 9
#define AT_UID 11
#define AT_GID 13
#define AT_RANDOM 25

/* ---- time (virtual under vkc: 1 retired instruction = 1 ns) -------------- */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define TIMER_ABSTIME 1
struct timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
}; /* the kernel's time64 layout */
int clock_gettime(int clock, struct timespec *ts);
int clock_nanosleep(int clock, int flags, const struct timespec *req, struct timespec *rem);
int nanosleep(const struct timespec *req, struct timespec *rem); /* CLOCK_MONOTONIC */

/* ---- signals -------------------------------------------------------------- */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGWINCH 28
#define SIGCKPT 33     /* default: checkpoint and continue */
#define SIGCKPTEXIT 34 /* default: checkpoint and exit */
#define SIGTHAW 35     /* posted right after a thaw; default: ignore */
#define NSIG 65

#define SA_NOCLDWAIT 2 /* SIGCHLD: children leave no zombies (as SIG_IGN does) */
#define SA_SIGINFO 4
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000u
#define SIG_DFL ((void (*)(int))0)
#define SIG_IGN ((void (*)(int))1)
#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define MINSIGSTKSZ 2048
#define SIGSTKSZ 8192

/* si_code values */
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_TKILL (-6)
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define CLD_EXITED 1 /* SIGCHLD / waitid si_code */
#define CLD_KILLED 2
#define CLD_DUMPED 3

typedef struct {
  int32_t si_signo;
  int32_t si_errno;
  int32_t si_code;
  union {
    struct {
      int32_t si_pid;
      uint32_t si_uid;
    } kill;
    struct {
      void *si_addr;
    } fault;
    struct {
      int32_t si_pid;
      uint32_t si_uid;
      int32_t si_status; /* exit code (CLD_EXITED) or signal (CLD_KILLED) */
    } chld;
    uint8_t pad[116];
  } u;
} siginfo_t; /* 128 bytes */
#define si_pid u.kill.si_pid
#define si_uid u.kill.si_uid
#define si_addr u.fault.si_addr
#define si_status u.chld.si_status

typedef struct {
  void *ss_sp;
  int32_t ss_flags;
  size_t ss_size;
} stack_t;

/* Linux's rv32 ucontext: uc_sigmask at offset 20, uc_mcontext (gregs[0] = pc,
 * gregs[i] = x_i) at offset 160. A handler may edit gregs; rt_sigreturn applies them. */
typedef struct {
  uint32_t gregs[32];
} mcontext_t;
typedef struct ucontext {
  uint32_t uc_flags;
  struct ucontext *uc_link;
  stack_t uc_stack;
  uint32_t uc_sigmask[2];
  uint8_t __unused[120];
  mcontext_t uc_mcontext __attribute__((aligned(16)));
} ucontext_t;
#define REG_PC 0
#define REG_RA 1
#define REG_SP 2
#define REG_TP 4
#define REG_A0 10

struct sigaction {
  union {
    void (*sa_handler)(int);
    void (*sa_sigaction)(int, siginfo_t *, void *);
  };
  uint32_t sa_flags;
  sigset_t sa_mask;
};

int sigaction(int sig, const struct sigaction *act, struct sigaction *old);
void (*signal(int sig, void (*handler)(int)))(int); /* sigaction with SA_RESTART */
int sigprocmask(int how, const sigset_t *set, sigset_t *old); /* of the calling thread */
int sigaltstack(const stack_t *ss, stack_t *old);
int kill(pid_t pid, int sig);
int tgkill(pid_t tgid, pid_t tid, int sig);
int raise(int sig); /* tgkill(getpid(), gettid(), sig) */
static inline sigset_t sigmask_of(int sig) { return (sigset_t)1 << (sig - 1); }
static inline int sigismember(const sigset_t *set, int sig) { return (int)((*set >> (sig - 1)) & 1); }
static inline void sigaddset(sigset_t *set, int sig) { *set |= sigmask_of(sig); }
static inline void sigdelset(sigset_t *set, int sig) { *set &= ~sigmask_of(sig); }
static inline void sigemptyset(sigset_t *set) { *set = 0; }

/* ---- fork and wait (Linux rv32: clone 220, waitid 95) -------------------- */
/* fork: flushes stdout first (so buffered output is not written twice), then clone(SIGCHLD).
 * The child has only the calling thread. -1 + errno on failure. */
pid_t fork(void);
/* waitpid: pid > 0 that child, -1 any child, 0 the caller's group, < -1 group -pid; options
 * WNOHANG (0 when no child has exited yet). Only exits and deaths are reported (over
 * waitid(WEXITED), rv32's wait call). Returns the pid, or -1 + errno (ECHILD, EINTR). */
pid_t waitpid(pid_t pid, int *status, int options);
pid_t wait(int *status); /* waitpid(-1, status, 0) */
#define WNOHANG 1
#define WSTOPPED 2
#define WEXITED 4
#define WNOWAIT 0x01000000
#define P_ALL 0
#define P_PID 1
#define P_PGID 2
/* waitid: the raw call (0 or -1 + errno); si_pid is 0 when WNOHANG found nothing. */
int waitid(int idtype, pid_t id, siginfo_t *info, int options);
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WTERMSIG(s) ((s) & 0x7f)
#define WIFEXITED(s) (WTERMSIG(s) == 0)
#define WIFSIGNALED(s) (WTERMSIG(s) != 0 && WTERMSIG(s) != 0x7f)

/* ---- checkpoint (vkc / DragonFly) ---------------------------------------- */
#define CKPT_FREEZE 1
#define CKPT_THAW 2
/* FREEZE: 0 when the process goes on after the checkpoint, `retval` of the thaw (1 from
 * `vkc restore`) in a thawed process; -errno on failure (-ENOSYS on kernels without it). */
long sys_checkpoint(int type, int fd, pid_t pid, int retval);

/* ---- LWPs, umtx, threads -------------------------------------------------- */
/* Raw vkc calls: -errno on failure. */
long lwp_create(void (*entry)(void *), void *stack_top, void *tls, void *arg, volatile int32_t *tid_addr);
long umtx_sleep(volatile const int32_t *addr, int32_t value, uint32_t timeout_us); /* 0, -EBUSY, -ETIMEDOUT, -EINTR */
long umtx_wakeup(volatile const int32_t *addr, int32_t count);                      /* count 0 = all */

typedef struct vkc_thread *thread_t;
#define THREAD_STACK_SIZE (128u * 1024u)
/* Starts fn(arg) on a new LWP with its own mmap'd stack and TLS block. NULL (errno set)
 * on failure. The new thread inherits the caller's signal mask. */
thread_t thread_create(void *(*fn)(void *), void *arg);
/* Waits for t to end, stores its result, frees its stack and TLS. 0 or -1 (errno). */
int thread_join(thread_t t, void **result);
thread_t thread_self(void);
pid_t thread_tid(thread_t t);
__attribute__((noreturn)) void thread_exit(void *result);

/* Futex-style mutex: 0 unlocked, 1 locked, 2 locked with waiters. */
typedef struct {
  volatile int32_t state;
} mutex_t;
#define MUTEX_INITIALIZER {0}
void mutex_init(mutex_t *m);
void mutex_lock(mutex_t *m);
int mutex_trylock(mutex_t *m); /* 0 when taken, -1 when busy */
void mutex_unlock(mutex_t *m);

typedef struct {
  volatile int32_t seq;
} cond_t;
#define COND_INITIALIZER {0}
void cond_init(cond_t *c);
void cond_wait(cond_t *c, mutex_t *m); /* may wake spuriously: wait in a loop */
void cond_signal(cond_t *c);
void cond_broadcast(cond_t *c);

/* ---- termios -------------------------------------------------------------- */
#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TIOCGPGRP 0x540F
#define TIOCSPGRP 0x5410
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TCSANOW 0
#define TCSADRAIN 1
#define TCSAFLUSH 2
#define NCCS 19
#define VINTR 0
#define VQUIT 1
#define VERASE 2
#define VKILL 3
#define VEOF 4
#define VTIME 5
#define VMIN 6
#define VCKPT 17
/* c_iflag */
#define IGNBRK 0x1
#define BRKINT 0x2
#define PARMRK 0x8
#define ISTRIP 0x20
#define INLCR 0x40
#define IGNCR 0x80
#define ICRNL 0x100
#define IXON 0x400
/* c_oflag */
#define OPOST 0x1
/* c_cflag */
#define CSIZE 0x30
#define CS8 0x30
#define PARENB 0x100
/* c_lflag */
#define ISIG 0x1
#define ICANON 0x2
#define ECHO 0x8
#define ECHONL 0x40
#define IEXTEN 0x8000

struct termios {
  uint32_t c_iflag;
  uint32_t c_oflag;
  uint32_t c_cflag;
  uint32_t c_lflag;
  uint8_t c_line;
  uint8_t c_cc[NCCS];
}; /* Linux's kernel struct termios, 36 bytes */
struct winsize {
  uint16_t ws_row;
  uint16_t ws_col;
  uint16_t ws_xpixel;
  uint16_t ws_ypixel;
};
int tcgetattr(int fd, struct termios *t);
int tcsetattr(int fd, int when, const struct termios *t); /* TCSANOW/TCSADRAIN/TCSAFLUSH */
void cfmakeraw(struct termios *t);
int isatty(int fd);

/* ---- UDP sockets and network interfaces ----------------------------------- */
/* AF_INET + SOCK_DGRAM only (NETWORK.md "Sockets"). Linux numbers and layouts, so
 * a program that uses only these (not netif_*) also runs under qemu-riscv32. */
#define SYS_socket 198
#define SYS_bind 200
#define SYS_getsockname 204
#define SYS_sendto 206
#define SYS_recvfrom 207
#define SYS_netif_get 520 /* vkc only */
#define SYS_netif_set 521 /* vkc only */
#define ENODEV 19
#define ENOTSOCK 88
#define EDESTADDRREQ 89
#define EMSGSIZE 90
#define EPROTONOSUPPORT 93
#define EOPNOTSUPP 95
#define EAFNOSUPPORT 97
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define ENETDOWN 100
#define ENETUNREACH 101
#define AF_INET 2
#define SOCK_DGRAM 2
#define SOCK_NONBLOCK 0x800
#define SOCK_CLOEXEC 0x80000
#define IPPROTO_UDP 17
#define INADDR_ANY 0u
#define MSG_PEEK 0x2
#define MSG_TRUNC 0x20
#define MSG_DONTWAIT 0x40
#define FIONREAD 0x541B
#define FIONBIO 0x5421
typedef uint32_t socklen_t;
struct in_addr {
  uint32_t s_addr; /* network order */
};
struct sockaddr_in {
  uint16_t sin_family;
  uint16_t sin_port; /* network order */
  struct in_addr sin_addr;
  uint8_t sin_zero[8];
}; /* 16 bytes */
struct sockaddr {
  uint16_t sa_family;
  char sa_data[14];
};
static inline uint16_t htons(uint16_t v) { return (uint16_t)((v << 8) | (v >> 8)); }
static inline uint16_t ntohs(uint16_t v) { return htons(v); }
static inline uint32_t htonl(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}
static inline uint32_t ntohl(uint32_t v) { return htonl(v); }
int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *addr, socklen_t len);
int getsockname(int fd, struct sockaddr *addr, socklen_t *len);
ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len);
ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len);
/* "a.b.c.d" → *out (network order): 1, or 0 when it is not a dotted quad. */
int inet_aton(const char *s, struct in_addr *out);
/* Dotted quad of a into buf (16 bytes); returns buf. */
char *inet_ntoa_r(struct in_addr a, char *buf);
#define IFF_UP 1
/* netif_get/netif_set (vkc only): interface `index` of the kernel; -ENODEV past the last.
 * netif_set applies addr, mask and IFF_UP (root only). stats: rxFrames, rxBytes, rxDropped,
 * txFrames, txBytes, txDropped, udpNoPort, udpQueueFull. */
struct vk_netif {
  char name[16];
  uint8_t mac[6];
  uint16_t mtu;
  uint8_t addr[4];
  uint8_t mask[4];
  uint32_t flags;
  uint32_t stats[8];
}; /* 68 bytes */
int netif_get(int index, struct vk_netif *out);
int netif_set(int index, const struct vk_netif *in);

/* ---- small helpers for example programs ---------------------------------- */
/* FNV-1a, 32-bit. */
uint32_t fnv1a(uint32_t hash, const void *data, size_t n);
#define FNV1A_INIT 0x811c9dc5u

#endif /* VKC_H */
