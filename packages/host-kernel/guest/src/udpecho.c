/*
 * udpecho [port=7] [count=0] — binds a UDP socket to `port` on every address and echoes each
 * datagram back to its sender, printing one line per datagram: its number, its length, the
 * sender's address (not its port: ephemeral ports differ from one kernel to another) and its
 * first 32 bytes ('.' for bytes that are not printable). Exits 0 after `count` datagrams
 * (0 = serve forever); 1 if a call fails; 2 on bad arguments. Linux calls only, so it runs
 * under qemu-riscv32 too and prints the same lines there.
 */
#include "vkc.h"

#define PREVIEW 32

int main(int argc, char **argv) {
  long port = 7, count = 0;
  if (argc > 3 || (argc > 1 && (parse_long(argv[1], &port) != 0 || port < 1 || port > 65535)) ||
      (argc > 2 && (parse_long(argv[2], &count) != 0 || count < 0))) {
    eprintf("usage: udpecho [port 1..65535] [count >= 0]\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    eprintf("udpecho: socket: %s (errno %d)\n", strerror(errno), errno);
    return 1;
  }
  struct sockaddr_in me;
  memset(&me, 0, sizeof me);
  me.sin_family = AF_INET;
  me.sin_port = htons((uint16_t)port);
  me.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (const struct sockaddr *)&me, sizeof me) != 0) {
    eprintf("udpecho: bind port %ld: %s (errno %d)\n", port, strerror(errno), errno);
    return 1;
  }
  printf("udpecho: listening on port %ld\n", port);
  static char buf[65536];
  for (long i = 1; count == 0 || i <= count; i++) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (n < 0) {
      if (errno == EINTR) {
        i--;
        continue;
      }
      eprintf("udpecho: recvfrom: %s (errno %d)\n", strerror(errno), errno);
      return 1;
    }
    if (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)&from, len) != n) {
      eprintf("udpecho: sendto: %s (errno %d)\n", strerror(errno), errno);
      return 1;
    }
    char preview[PREVIEW + 1];
    size_t shown = (size_t)n < PREVIEW ? (size_t)n : PREVIEW;
    for (size_t k = 0; k < shown; k++) {
      unsigned char c = (unsigned char)buf[k];
      preview[k] = c >= 0x20 && c < 0x7f ? (char)c : '.';
    }
    preview[shown] = '\0';
    char addr[16];
    printf("echo %ld: %ld bytes from %s: \"%s\"%s\n", i, (long)n, inet_ntoa_r(from.sin_addr, addr), preview,
           (size_t)n > PREVIEW ? "..." : "");
  }
  printf("udpecho: done\n");
  return 0;
}
