/*
 * termios.c — tcgetattr/tcsetattr over ioctl TCGETS/TCSETS* with Linux's kernel
 * struct termios (36 bytes), and cfmakeraw.
 */
#include "internal.h"

int tcgetattr(int fd, struct termios *t) { return ioctl(fd, TCGETS, t); }

int tcsetattr(int fd, int when, const struct termios *t) {
  unsigned long req;
  switch (when) {
  case TCSANOW: req = TCSETS; break;
  case TCSADRAIN: req = TCSETSW; break;
  case TCSAFLUSH: req = TCSETSF; break;
  default: errno = EINVAL; return -1;
  }
  return ioctl(fd, req, (void *)t);
}

void cfmakeraw(struct termios *t) {
  t->c_iflag &= ~(uint32_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t->c_oflag &= ~(uint32_t)OPOST;
  t->c_lflag &= ~(uint32_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t->c_cflag &= ~(uint32_t)(CSIZE | PARENB);
  t->c_cflag |= CS8;
  t->c_cc[VMIN] = 1;
  t->c_cc[VTIME] = 0;
}

int isatty(int fd) {
  struct termios t;
  return tcgetattr(fd, &t) == 0;
}
