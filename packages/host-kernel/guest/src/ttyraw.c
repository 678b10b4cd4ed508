/*
 * ttyraw — puts the console (fd 0) in raw mode with tcsetattr (no echo, not
 * canonical, no signals from keys, no output processing), reads keys one at a
 * time and echoes each back as hex until 'q' (or end of input), restores the
 * saved mode, checks it reads back, and prints a summary. Exit 0 when ended by
 * 'q' with the mode restored, 1 when fd 0 is not a terminal or a call failed,
 * 3 on end of input before 'q'.
 */
#include "vkc.h"

int main(void) {
  struct termios saved;
  if (tcgetattr(STDIN_FILENO, &saved) != 0) {
    eprintf("ttyraw: fd 0 is not a terminal (%s)\n", strerror(errno));
    return 1;
  }
  struct termios raw = saved;
  cfmakeraw(&raw);
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
    eprintf("ttyraw: tcsetattr failed (%s)\n", strerror(errno));
    return 1;
  }
  struct termios now;
  tcgetattr(STDIN_FILENO, &now);
  int raw_ok = (now.c_lflag & (ECHO | ICANON | ISIG)) == 0 && (now.c_oflag & OPOST) == 0 && now.c_cc[VMIN] == 1;
  /* Output processing is off: end lines with \r\n ourselves. */
  printf("ttyraw: raw mode %s (echo off, canonical off); type keys, 'q' quits\r\n", raw_ok ? "on" : "NOT SET");

  uint32_t checksum = FNV1A_INIT;
  int keys = 0;
  int quit = 0;
  for (;;) {
    unsigned char c;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    keys++;
    checksum = fnv1a(checksum, &c, 1);
    if (c >= 0x20 && c < 0x7f) printf("key %d: 0x%02x '%c'\r\n", keys, c, c);
    else printf("key %d: 0x%02x\r\n", keys, c);
    if (c == 'q') {
      quit = 1;
      break;
    }
  }

  int restored = tcsetattr(STDIN_FILENO, TCSADRAIN, &saved) == 0;
  struct termios back;
  restored = restored && tcgetattr(STDIN_FILENO, &back) == 0 && back.c_lflag == saved.c_lflag &&
             back.c_iflag == saved.c_iflag && back.c_oflag == saved.c_oflag && back.c_cflag == saved.c_cflag &&
             memcmp(back.c_cc, saved.c_cc, NCCS) == 0;
  printf("ttyraw: %d key(s), checksum 0x%08x, ended by %s, mode %s\n", keys, checksum, quit ? "'q'" : "end of input",
         restored ? "restored" : "NOT restored");
  if (!restored || !raw_ok) return 1;
  return quit ? 0 : 3;
}
