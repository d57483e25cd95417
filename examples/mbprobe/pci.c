/* pci.c: lists the PCI functions the machine has, so tests can tell which device model a
 * boot built (virtio-scsi, virtio-net, virtio-blk, e1000, AHCI...). */
#include "probe.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_VENDOR_NONE 0xffff
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_BRIDGE 0x01

uint32_t pci_read32(uint32_t bdf, uint8_t offset)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | (bdf << 8) | (offset & 0xfc));
    return inl(PCI_CONFIG_DATA);
}

void pci_write32(uint32_t bdf, uint8_t offset, uint32_t value)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | (bdf << 8) | (offset & 0xfc));
    outl(PCI_CONFIG_DATA, value);
}

static void put_bdf(uint32_t bdf)
{
    static const char digits[] = "0123456789abcdef";
    uint32_t bus = bdf >> 8, dev = (bdf >> 3) & 0x1f, fn = bdf & 7;

    putch(digits[bus >> 4]);
    putch(digits[bus & 0xf]);
    putch(':');
    putch(digits[dev >> 4]);
    putch(digits[dev & 0xf]);
    putch('.');
    putch(digits[fn]);
}

/* Visits every function of (bus) and of the buses behind its bridges. The depth bound keeps
 * a misprogrammed bridge loop from recursing forever. */
static int32_t scan_bus(uint32_t bus, int depth, int print, uint16_t vendor, uint16_t device)
{
    if (depth > 8)
        return -1;
    for (uint32_t dev = 0; dev < 32; dev++) {
        uint32_t functions = 1;

        for (uint32_t fn = 0; fn < functions; fn++) {
            uint32_t bdf = (bus << 8) | (dev << 3) | fn;
            uint32_t id = pci_read32(bdf, 0x00);

            if ((id & 0xffff) == PCI_VENDOR_NONE)
                continue;
            uint32_t header = (pci_read32(bdf, 0x0c) >> 16) & 0xff;
            if (fn == 0 && (header & PCI_HEADER_MULTIFUNCTION))
                functions = 8;
            if (print) {
                line_start();
                puts_raw("pci ");
                put_bdf(bdf);
                puts_raw(" vendor=");
                put_hex(id & 0xffff, 4);
                puts_raw(" device=");
                put_hex(id >> 16, 4);
                puts_raw(" class=");
                put_hex(pci_read32(bdf, 0x08) >> 8, 6);
                putch('\n');
            } else if ((id & 0xffff) == vendor && (id >> 16) == device) {
                return (int32_t)bdf;
            }
            if ((header & 0x7f) == PCI_HEADER_BRIDGE) {
                uint32_t secondary = (pci_read32(bdf, 0x18) >> 8) & 0xff;

                if (secondary > bus) {
                    int32_t found = scan_bus(secondary, depth + 1, print, vendor, device);
                    if (found >= 0)
                        return found;
                }
            }
        }
    }
    return -1;
}

void pci_list(void)
{
    scan_bus(0, 0, 1, 0, 0);
}

int32_t pci_find(uint16_t vendor, uint16_t device)
{
    return scan_bus(0, 0, 0, vendor, device);
}
