/*
 * tls.c — per-thread blocks for `__thread` variables.
 *
 * Programs are compiled with -ftls-model=local-exec: every `__thread` access is
 * tp + a constant that lld computed. lld's rule on RISC-V (variant I, no TCB gap):
 * the variable at offset o in the PT_TLS segment lives at tp + (p_vaddr % p_align) + o,
 * with tp aligned to p_align. So a block is
 *     [struct vkc_thread | padding][p_vaddr % p_align][.tdata copy][.tbss zeros]
 *                                 ^ tp
 * The template is found through the program headers, which lld maps with the
 * first PT_LOAD and exposes as __ehdr_start (no linker script, no auxv needed).
 */
#include "internal.h"

#define PT_TLS 7

extern const unsigned char __ehdr_start[] __attribute__((weak));

static struct {
  const unsigned char *image;
  uint32_t filesz;
  uint32_t memsz;
  uint32_t align;
  uint32_t skew; /* p_vaddr % p_align */
} tmpl = {NULL, 0, 0, 16, 0};

static uint32_t head_size; /* sizeof(struct vkc_thread) rounded up to the alignment */

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

void vkc_tls_init(void) {
  const unsigned char *eh = __ehdr_start;
  if (eh != NULL) {
    const unsigned char *ph = eh + rd32(eh + 28);
    uint16_t phentsize = rd16(eh + 42);
    uint16_t phnum = rd16(eh + 44);
    for (uint16_t i = 0; i < phnum; i++, ph += phentsize) {
      if (rd32(ph) != PT_TLS) continue;
      uint32_t vaddr = rd32(ph + 8);
      uint32_t align = rd32(ph + 28);
      if (align == 0) align = 1;
      tmpl.image = (const unsigned char *)(uintptr_t)vaddr;
      tmpl.filesz = rd32(ph + 16);
      tmpl.memsz = rd32(ph + 20);
      tmpl.skew = vaddr & (align - 1); /* with the segment's own alignment */
      tmpl.align = align < 16 ? 16 : align; /* tp itself: at least 16 */
    }
  }
  head_size = (sizeof(struct vkc_thread) + tmpl.align - 1) & ~(tmpl.align - 1);
}

size_t vkc_tls_block_size(void) { return head_size + tmpl.skew + tmpl.memsz; }

size_t vkc_tls_block_align(void) { return tmpl.align; }

struct vkc_thread *vkc_tls_setup(void *block) {
  unsigned char *tp = (unsigned char *)block + head_size;
  struct vkc_thread *t = (struct vkc_thread *)(tp - sizeof(struct vkc_thread));
  memset(block, 0, vkc_tls_block_size());
  if (tmpl.filesz != 0) memcpy(tp + tmpl.skew, tmpl.image, tmpl.filesz);
  t->self = t;
  t->tid_word = -1;
  return t;
}
