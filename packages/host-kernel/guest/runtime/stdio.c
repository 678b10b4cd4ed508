/*
 * stdio.c — printf family and a line-buffered stdout.
 *
 * Formatting: %d %i %u %x %X %o %p %s %c %% with flags '-', '0', '+', ' ', '#',
 * a width and a precision (numbers or '*'), and the length modifiers hh h l ll z j t.
 * stdout is buffered and flushed at every newline, when full, by fflush_stdout()
 * and at exit(), whatever the descriptor is (tty, pipe, file), so the bytes and
 * their order are the same under qemu and vkc. stderr is unbuffered.
 */
#include "internal.h"

struct out {
  void (*put)(struct out *o, const char *s, size_t n);
  char *buf;      /* snprintf: destination */
  size_t cap;     /* snprintf: size including the terminating NUL */
  size_t len;     /* characters produced so far (what printf returns) */
  int fd;         /* fd sinks */
  int saw_newline;
};

static void put_mem(struct out *o, const char *s, size_t n) {
  if (o->cap > 0 && o->len < o->cap - 1) {
    size_t room = o->cap - 1 - o->len;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void put_fd(struct out *o, const char *s, size_t n) {
  write_all(o->fd, s, n);
  o->len += n;
}

/* ---- stdout buffer ---- */

static char stdout_buf[1024];
static size_t stdout_len;
static mutex_t stdout_lock = MUTEX_INITIALIZER;

static void stdout_flush_locked(void) {
  if (stdout_len > 0) write_all(STDOUT_FILENO, stdout_buf, stdout_len);
  stdout_len = 0;
}

static void put_stdout(struct out *o, const char *s, size_t n) {
  o->len += n;
  while (n > 0) {
    if (stdout_len == sizeof stdout_buf) stdout_flush_locked();
    size_t room = sizeof stdout_buf - stdout_len;
    size_t k = n < room ? n : room;
    memcpy(stdout_buf + stdout_len, s, k);
    if (memchr(s, '\n', k) != NULL) o->saw_newline = 1;
    stdout_len += k;
    s += k;
    n -= k;
  }
}

int fflush_stdout(void) {
  mutex_lock(&stdout_lock);
  stdout_flush_locked();
  mutex_unlock(&stdout_lock);
  return 0;
}

void vkc_stdio_flush_at_exit(void) {
  /* No lock: at exit another thread may hold it forever. */
  stdout_flush_locked();
}

/* ---- the formatter ---- */

#define F_LEFT 1
#define F_ZERO 2
#define F_PLUS 4
#define F_SPACE 8
#define F_ALT 16
#define F_PTR 32 /* always print the 0x prefix */

static void pad(struct out *o, char c, int n) {
  char chunk[16];
  memset(chunk, c, sizeof chunk);
  while (n > 0) {
    int k = n < (int)sizeof chunk ? n : (int)sizeof chunk;
    o->put(o, chunk, (size_t)k);
    n -= k;
  }
}

/* Converts v to digits at the end of buf; returns the start. */
static char *utoa(char *end, uint64_t v, unsigned base, int upper) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char *p = end;
  if ((v >> 32) == 0) {
    uint32_t w = (uint32_t)v;
    do {
      *--p = digits[w % base];
      w /= base;
    } while (w != 0);
  } else {
    do {
      *--p = digits[v % base];
      v /= base;
    } while (v != 0);
  }
  return p;
}

static void emit_number(struct out *o, uint64_t v, int negative, unsigned base, int upper, int flags, int width,
                        int prec) {
  char digits_buf[24];
  char *end = digits_buf + sizeof digits_buf;
  char *digits = (prec == 0 && v == 0) ? end : utoa(end, v, base, upper);
  int ndigits = (int)(end - digits);
  char prefix[3];
  int nprefix = 0;
  if (negative) prefix[nprefix++] = '-';
  else if (flags & F_PLUS) prefix[nprefix++] = '+';
  else if (flags & F_SPACE) prefix[nprefix++] = ' ';
  if (((flags & F_ALT) && base == 16 && v != 0) || (flags & F_PTR)) {
    prefix[nprefix++] = '0';
    prefix[nprefix++] = upper ? 'X' : 'x';
  }
  if ((flags & F_ALT) && base == 8 && (prec <= ndigits)) prec = ndigits + 1;
  int zeros = prec > ndigits ? prec - ndigits : 0;
  int total = nprefix + zeros + ndigits;
  if (prec < 0 && (flags & F_ZERO) && !(flags & F_LEFT) && width > total) {
    zeros += width - total;
    total = width;
  }
  if (!(flags & F_LEFT) && width > total) pad(o, ' ', width - total);
  o->put(o, prefix, (size_t)nprefix);
  pad(o, '0', zeros);
  o->put(o, digits, (size_t)ndigits);
  if ((flags & F_LEFT) && width > total) pad(o, ' ', width - total);
}

static void emit_text(struct out *o, const char *s, size_t n, int flags, int width) {
  if (!(flags & F_LEFT) && width > (int)n) pad(o, ' ', width - (int)n);
  o->put(o, s, n);
  if ((flags & F_LEFT) && width > (int)n) pad(o, ' ', width - (int)n);
}

static void format(struct out *o, const char *fmt, va_list ap) {
  while (*fmt) {
    const char *lit = fmt;
    while (*fmt && *fmt != '%') fmt++;
    if (fmt > lit) o->put(o, lit, (size_t)(fmt - lit));
    if (*fmt == 0) break;
    fmt++; /* '%' */

    int flags = 0;
    for (;; fmt++) {
      if (*fmt == '-') flags |= F_LEFT;
      else if (*fmt == '0') flags |= F_ZERO;
      else if (*fmt == '+') flags |= F_PLUS;
      else if (*fmt == ' ') flags |= F_SPACE;
      else if (*fmt == '#') flags |= F_ALT;
      else break;
    }
    int width = 0;
    if (*fmt == '*') {
      width = va_arg(ap, int);
      if (width < 0) {
        flags |= F_LEFT;
        width = -width;
      }
      fmt++;
    } else {
      while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    }
    int prec = -1;
    if (*fmt == '.') {
      fmt++;
      prec = 0;
      if (*fmt == '*') {
        prec = va_arg(ap, int);
        if (prec < 0) prec = -1;
        fmt++;
      } else {
        while (*fmt >= '0' && *fmt <= '9') prec = prec * 10 + (*fmt++ - '0');
      }
    }
    int size = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long */
    if (*fmt == 'h') {
      size = -1;
      if (*++fmt == 'h') size = -2, fmt++;
    } else if (*fmt == 'l') {
      size = 1;
      if (*++fmt == 'l') size = 2, fmt++;
    } else if (*fmt == 'z' || *fmt == 't') {
      size = 1;
      fmt++;
    } else if (*fmt == 'j') {
      size = 2;
      fmt++;
    }

    char conv = *fmt;
    if (conv == 0) break;
    fmt++;
    switch (conv) {
    case 'd':
    case 'i': {
      int64_t v;
      if (size == 2) v = va_arg(ap, long long);
      else if (size == 1) v = va_arg(ap, long);
      else v = va_arg(ap, int);
      if (size == -1) v = (short)v;
      if (size == -2) v = (signed char)v;
      uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
      emit_number(o, mag, v < 0, 10, 0, flags & ~F_ALT, width, prec);
      break;
    }
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      uint64_t v;
      if (size == 2) v = va_arg(ap, unsigned long long);
      else if (size == 1) v = va_arg(ap, unsigned long);
      else v = va_arg(ap, unsigned int);
      if (size == -1) v = (unsigned short)v;
      if (size == -2) v = (unsigned char)v;
      unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
      emit_number(o, v, 0, base, conv == 'X', flags & ~(F_PLUS | F_SPACE), width, prec);
      break;
    }
    case 'p': {
      uintptr_t v = (uintptr_t)va_arg(ap, void *);
      emit_number(o, v, 0, 16, 0, (flags & F_LEFT) | F_PTR, width, 8);
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (s == NULL) s = "(null)";
      size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      emit_text(o, s, n, flags, width);
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      emit_text(o, &c, 1, flags, width);
      break;
    }
    case '%': o->put(o, "%", 1); break;
    default: {
      /* Unknown conversion: print it as written. */
      char bad[2] = {'%', conv};
      o->put(o, bad, 2);
      break;
    }
    }
  }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = {put_mem, buf, size, 0, -1, 0};
  format(&o, fmt, ap);
  if (size > 0) buf[o.len < size ? o.len : size - 1] = 0;
  return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int vprintf(const char *fmt, va_list ap) {
  struct out o = {put_stdout, NULL, 0, 0, STDOUT_FILENO, 0};
  mutex_lock(&stdout_lock);
  format(&o, fmt, ap);
  if (o.saw_newline) stdout_flush_locked();
  mutex_unlock(&stdout_lock);
  return (int)o.len;
}

int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  return n;
}

static int vdprintf(int fd, const char *fmt, va_list ap) {
  /* Format into a bounded local buffer, so a line goes out in one write. */
  char line[256];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  if (n >= 0 && (size_t)n < sizeof line) {
    write_all(fd, line, (size_t)n);
  } else {
    struct out o = {put_fd, NULL, 0, 0, fd, 0};
    format(&o, fmt, copy);
  }
  va_end(copy);
  return n;
}

int dprintf(int fd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = fd == STDOUT_FILENO ? vprintf(fmt, ap) : vdprintf(fd, fmt, ap);
  va_end(ap);
  return n;
}

int eprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vdprintf(STDERR_FILENO, fmt, ap);
  va_end(ap);
  return n;
}

int puts(const char *s) { return printf("%s\n", s); }

int putchar(int c) { return printf("%c", c) == 1 ? (unsigned char)c : -1; }
