/* probe.h: what the probe's parts share: port I/O and the serial console. */
#ifndef MBPROBE_PROBE_H
#define MBPROBE_PROBE_H

#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* The device sees guest memory directly: the compiler must not keep ring state in
 * registers or reorder it around the notification (x86 orders stores itself). */
#define compiler_barrier() __asm__ volatile("" : : : "memory")

void putch(char c);
void puts_raw(const char *s);
void put_dec(uint32_t v);
/* "0x" then (digits) lower-case hex digits. */
void put_hex(uint32_t v, int digits);
void put_hex32(uint32_t v);
void line_start(void); /* "MBPROBE: " */

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* PCI (pci.c): configuration mechanism #1, bus/device/function packed as bus<<8|dev<<3|fn. */
uint32_t pci_read32(uint32_t bdf, uint8_t offset);
void pci_write32(uint32_t bdf, uint8_t offset, uint32_t value);
/* Prints one line per function found: "pci BB:DD.F vendor=0x.... device=0x.... class=0x......". */
void pci_list(void);
/* The first function with this vendor and device id, or -1. */
int32_t pci_find(uint16_t vendor, uint16_t device);

/* Networking (net.c): answers ARP for 10.0.2.15 and echoes one UDP datagram through the
 * first virtio-net NIC; 0 when a datagram was echoed. */
int net_udp_echo(void);

#endif
