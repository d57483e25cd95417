/* boot.S: the probe's multiboot (v1) or multiboot2 header and its 32-bit entry point. */

#define STACK_SIZE 16384

#ifdef MBPROBE_MULTIBOOT2
/* Multiboot2: an ELF kernel needs no address tag, only the end tag. */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
        .section .multiboot, "a"
        .balign 8
mb2_header:
        .long MB2_MAGIC
        .long MB2_ARCH_I386
        .long mb2_header_end - mb2_header
        .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
        .short 0            /* end tag: type 0, flags 0, size 8 */
        .short 0
        .long 8
mb2_header_end:
#else
/* Multiboot v1: page-aligned modules (bit 0) and memory information (bit 1); no a.out
 * kludge, since loaders read the ELF program headers. */
#define MB1_MAGIC 0x1badb002
#define MB1_FLAGS 0x00000003
        .section .multiboot, "a"
        .balign 4
        .long MB1_MAGIC
        .long MB1_FLAGS
        .long -(MB1_MAGIC + MB1_FLAGS)
#endif

        .text
        .globl _start
        .type _start, @function
_start:
        cli
        cld
        movl $stack_top, %esp
        pushl $0            /* clear the flags a loader may leave set (AC, DF, IF) */
        popfl
        pushl %ebx          /* info structure */
        pushl %eax          /* magic */
        call probe_main
1:      cli
        hlt
        jmp 1b

        .bss
        .balign 16
stack_bottom:
        .skip STACK_SIZE
stack_top:

        .section .note.GNU-stack, "", @progbits
