/*
 * crt0.S — process entry. The kernel (or qemu-riscv32) starts us at _start with
 * sp pointing at the Linux-style initial stack: argc, argv[], NULL, envp[], NULL,
 * auxv pairs. All other registers are 0. We pass that pointer to C and never return.
 */
  .section .text._start, "ax", @progbits
  .globl _start
  .type _start, @function
_start:
  mv a0, sp
  andi sp, sp, -16
  mv ra, zero
  call vkc_start_main
1:
  j 1b
  .size _start, . - _start
