/*
 * socket.c — UDP socket wrappers (Linux numbers: run under qemu-riscv32 too), the vkc-only
 * netif_get/netif_set, and dotted-quad helpers.
 */
#include "internal.h"

int socket(int domain, int type, int protocol) {
  return (int)vkc_ret(vkc_ecall(SYS_socket, domain, type, protocol, 0, 0, 0));
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  return (int)vkc_ret(vkc_ecall(SYS_bind, fd, (long)addr, (long)len, 0, 0, 0));
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
  return (int)vkc_ret(vkc_ecall(SYS_getsockname, fd, (long)addr, (long)len, 0, 0, 0));
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len) {
  return vkc_ret(vkc_ecall(SYS_sendto, fd, (long)buf, (long)n, flags, (long)addr, (long)len));
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len) {
  return vkc_ret(vkc_ecall(SYS_recvfrom, fd, (long)buf, (long)n, flags, (long)addr, (long)len));
}

int netif_get(int index, struct vk_netif *out) {
  return (int)vkc_ret(vkc_ecall(SYS_netif_get, index, (long)out, 0, 0, 0, 0));
}

int netif_set(int index, const struct vk_netif *in) {
  return (int)vkc_ret(vkc_ecall(SYS_netif_set, index, (long)in, 0, 0, 0, 0));
}

int inet_aton(const char *s, struct in_addr *out) {
  uint32_t value = 0;
  for (int part = 0; part < 4; part++) {
    if (*s < '0' || *s > '9') return 0;
    uint32_t octet = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
      octet = octet * 10 + (uint32_t)(*s++ - '0');
      if (++digits > 3 || octet > 255) return 0;
    }
    value = (value << 8) | octet;
    if (part < 3 && *s++ != '.') return 0;
  }
  if (*s != '\0') return 0;
  out->s_addr = htonl(value);
  return 1;
}

char *inet_ntoa_r(struct in_addr a, char *buf) {
  uint32_t v = ntohl(a.s_addr);
  snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(v >> 24), (unsigned)((v >> 16) & 0xff),
           (unsigned)((v >> 8) & 0xff), (unsigned)(v & 0xff));
  return buf;
}
