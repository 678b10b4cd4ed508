/*
 * divdi3.c — the libgcc helpers clang calls for 64-bit division on rv32
 * (RV32M only divides 32-bit words). Division by zero follows RISC-V's own
 * rule for DIVU/REMU: quotient all ones, remainder the dividend.
 */
#include "internal.h"

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem) {
  if (d == 0) {
    if (rem) *rem = n;
    return ~(uint64_t)0;
  }
  if ((n >> 32) == 0 && (d >> 32) == 0) {
    uint32_t q32 = (uint32_t)n / (uint32_t)d;
    if (rem) *rem = (uint32_t)n - q32 * (uint32_t)d;
    return q32;
  }
  uint64_t q = 0;
  uint64_t r = 0;
  for (int i = 63; i >= 0; i--) {
    r = (r << 1) | ((n >> i) & 1);
    if (r >= d) {
      r -= d;
      q |= (uint64_t)1 << i;
    }
  }
  if (rem) *rem = r;
  return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d) { return __udivmoddi4(n, d, NULL); }

uint64_t __umoddi3(uint64_t n, uint64_t d) {
  uint64_t r;
  __udivmoddi4(n, d, &r);
  return r;
}

int64_t __divdi3(int64_t n, int64_t d) {
  int neg = (n < 0) != (d < 0);
  uint64_t un = n < 0 ? -(uint64_t)n : (uint64_t)n;
  uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
  uint64_t q = __udivmoddi4(un, ud, NULL);
  return neg ? -(int64_t)q : (int64_t)q;
}

int64_t __moddi3(int64_t n, int64_t d) {
  uint64_t un = n < 0 ? -(uint64_t)n : (uint64_t)n;
  uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
  uint64_t r;
  __udivmoddi4(un, ud, &r);
  return n < 0 ? -(int64_t)r : (int64_t)r;
}
