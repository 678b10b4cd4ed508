/*
 * udpping HOST PORT N [timeout_ms=2000] — sends N datagrams "ping 1" … "ping N" to HOST:PORT
 * (a dotted quad), one at a time, and waits for each to come back (a non-blocking recvfrom and
 * 1 ms nanosleeps, up to timeout_ms). Prints "reply i: <payload>" for each reply, "timeout i"
 * for each that did not come back, and a summary; replies to earlier pings that arrive late are
 * skipped silently. No times are printed, so the output is the same on every kernel. Exits 0 if
 * every reply came back, 1 otherwise, 2 on bad arguments. Linux calls only (runs under qemu-riscv32).
 */
#include "vkc.h"

static int wait_reply(int fd, const char *expected, long timeout_ms, char *buf, size_t size) {
  size_t want = strlen(expected);
  for (long waited = 0; waited <= timeout_ms; waited++) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, size - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
    if (n >= 0) {
      buf[n] = '\0';
      if ((size_t)n == want && memcmp(buf, expected, want) == 0) return 1;
      waited--; /* a late reply to an earlier ping: look again at once */
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) {
      eprintf("udpping: recvfrom: %s (errno %d)\n", strerror(errno), errno);
      return -1;
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  return 0;
}

int main(int argc, char **argv) {
  struct in_addr host;
  long port = 0, count = 0, timeout_ms = 2000;
  if (argc < 4 || argc > 5 || inet_aton(argv[1], &host) != 1 || parse_long(argv[2], &port) != 0 || port < 1 ||
      port > 65535 || parse_long(argv[3], &count) != 0 || count < 1 ||
      (argc > 4 && (parse_long(argv[4], &timeout_ms) != 0 || timeout_ms < 1))) {
    eprintf("usage: udpping HOST PORT N [timeout_ms]   (HOST a dotted quad, N >= 1)\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    eprintf("udpping: socket: %s (errno %d)\n", strerror(errno), errno);
    return 1;
  }
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  to.sin_addr = host;
  char name[16];
  printf("udpping: %ld datagrams to %s:%ld\n", count, inet_ntoa_r(host, name), port);
  long replies = 0;
  static char buf[2048];
  for (long i = 1; i <= count; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof msg, "ping %ld", i);
    if (sendto(fd, msg, (size_t)len, 0, (const struct sockaddr *)&to, sizeof to) != len) {
      eprintf("udpping: sendto: %s (errno %d)\n", strerror(errno), errno);
      return 1;
    }
    int r = wait_reply(fd, msg, timeout_ms, buf, sizeof buf);
    if (r < 0) return 1;
    if (r > 0) {
      replies++;
      printf("reply %ld: %s\n", i, buf);
    } else {
      printf("timeout %ld\n", i);
    }
  }
  printf("udpping: %ld/%ld replies\n", replies, count);
  return replies == count ? 0 : 1;
}
