/* net.c: just enough of a legacy virtio-net driver, ARP and UDP for the probe to answer one
 * datagram that QEMU's user-mode network forwards from the host (hostfwd=udp::PORT-:PORT).
 * It polls; there are no interrupts in the probe. Addresses are QEMU's user-mode defaults:
 * the guest is 10.0.2.15, and the host's datagrams arrive from 10.0.2.2. */
#include "probe.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_LEGACY_DEVICE 0x1000

/* Legacy virtio PCI registers, in I/O BAR 0. */
#define VIO_HOST_FEATURES 0x00
#define VIO_GUEST_FEATURES 0x04
#define VIO_QUEUE_PFN 0x08
#define VIO_QUEUE_SIZE 0x0c
#define VIO_QUEUE_SELECT 0x0e
#define VIO_QUEUE_NOTIFY 0x10
#define VIO_STATUS 0x12
#define VIO_NET_MAC 0x14 /* device configuration, when MSI-X is off */

#define VIO_STATUS_ACK 1
#define VIO_STATUS_DRIVER 2
#define VIO_STATUS_DRIVER_OK 4
#define VIRTIO_NET_F_MAC (1u << 5)

#define VIRTQ_DESC_F_WRITE 2
#define QUEUE_MAX 256
#define PAGE 4096
#define RX_BUFFERS 16
#define BUF_SIZE 2048
/* Without VIRTIO_NET_F_MRG_RXBUF a legacy device puts a 10-byte header before each frame. */
#define NET_HDR 10

#define RX_QUEUE 0
#define TX_QUEUE 1

#define ETH_ARP 0x0806
#define ETH_IPV4 0x0800
#define IP_UDP 17

static const uint8_t guest_ip[4] = {10, 0, 2, 15};

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};

/* The legacy layout the device computes from the queue size: descriptors, the available
 * ring right after them, the used ring on the next page boundary. Three pages hold the
 * largest queue the probe accepts. */
#define QUEUE_MEM (3 * PAGE)

struct queue {
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    uint16_t size;
    uint16_t last_used;
};

static uint8_t rx_mem[QUEUE_MEM] __attribute__((aligned(PAGE)));
static uint8_t tx_mem[QUEUE_MEM] __attribute__((aligned(PAGE)));
static uint8_t rx_buf[RX_BUFFERS][BUF_SIZE] __attribute__((aligned(16)));
static uint8_t tx_buf[BUF_SIZE] __attribute__((aligned(16)));
static struct queue rxq, txq;
static uint16_t io;
static uint8_t mac[6];

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static int queue_setup(struct queue *q, uint8_t *mem, uint16_t index)
{
    outw(io + VIO_QUEUE_SELECT, index);
    uint16_t size = inw(io + VIO_QUEUE_SIZE);
    if (size == 0 || size > QUEUE_MAX) {
        line_start();
        puts_raw("net: unusable queue size ");
        put_dec(size);
        putch('\n');
        return -1;
    }
    memset(mem, 0, QUEUE_MEM);
    uint32_t avail_end = 16u * size + 6u + 2u * size;
    *q = (struct queue){
        .desc = (volatile struct virtq_desc *)mem,
        .avail = (volatile struct virtq_avail *)(mem + 16u * size),
        .used = (volatile struct virtq_used *)(mem + ((avail_end + PAGE - 1) & ~(PAGE - 1u))),
        .size = size,
    };
    outl(io + VIO_QUEUE_PFN, (uint32_t)(uintptr_t)mem / PAGE);
    return 0;
}

static void rx_post(uint16_t id)
{
    rxq.desc[id].addr = (uint32_t)(uintptr_t)rx_buf[id];
    rxq.desc[id].len = BUF_SIZE;
    rxq.desc[id].flags = VIRTQ_DESC_F_WRITE;
    rxq.avail->ring[rxq.avail->idx % rxq.size] = id;
    compiler_barrier();
    rxq.avail->idx++;
    compiler_barrier();
    outw(io + VIO_QUEUE_NOTIFY, RX_QUEUE);
}

/* Sends tx_buf's frame (after the header) and waits, bounded, for the device to take it. */
static void tx_send(uint32_t frame_len)
{
    memset(tx_buf, 0, NET_HDR);
    txq.desc[0].addr = (uint32_t)(uintptr_t)tx_buf;
    txq.desc[0].len = NET_HDR + frame_len;
    txq.desc[0].flags = 0;
    txq.avail->ring[txq.avail->idx % txq.size] = 0;
    compiler_barrier();
    txq.avail->idx++;
    compiler_barrier();
    outw(io + VIO_QUEUE_NOTIFY, TX_QUEUE);
    for (uint32_t spins = 0; spins < 100000000u && txq.used->idx == txq.last_used; spins++)
        compiler_barrier();
    txq.last_used = txq.used->idx;
}

static int device_init(void)
{
    int32_t bdf = pci_find(VIRTIO_VENDOR, VIRTIO_NET_LEGACY_DEVICE);

    if (bdf < 0) {
        line_start();
        puts_raw("net: no legacy virtio-net device\n");
        return -1;
    }
    uint32_t bar0 = pci_read32((uint32_t)bdf, 0x10);
    if (!(bar0 & 1)) {
        line_start();
        puts_raw("net: virtio-net BAR0 is not an I/O BAR\n");
        return -1;
    }
    io = (uint16_t)(bar0 & ~3u);
    /* I/O decoding and bus mastering (the device writes received frames to memory). */
    pci_write32((uint32_t)bdf, 0x04, pci_read32((uint32_t)bdf, 0x04) | 0x5);
    outb(io + VIO_STATUS, 0);
    outb(io + VIO_STATUS, VIO_STATUS_ACK);
    outb(io + VIO_STATUS, VIO_STATUS_ACK | VIO_STATUS_DRIVER);
    outl(io + VIO_GUEST_FEATURES, inl(io + VIO_HOST_FEATURES) & VIRTIO_NET_F_MAC);
    for (int i = 0; i < 6; i++)
        mac[i] = inb((uint16_t)(io + VIO_NET_MAC + i));
    if (queue_setup(&rxq, rx_mem, RX_QUEUE) < 0 || queue_setup(&txq, tx_mem, TX_QUEUE) < 0)
        return -1;
    outb(io + VIO_STATUS, VIO_STATUS_ACK | VIO_STATUS_DRIVER | VIO_STATUS_DRIVER_OK);
    for (uint16_t id = 0; id < RX_BUFFERS && id < rxq.size; id++)
        rx_post(id);
    line_start();
    puts_raw("net: virtio-net at io ");
    put_hex(io, 4);
    puts_raw(" mac");
    for (int i = 0; i < 6; i++) {
        static const char hex[] = "0123456789abcdef";

        putch(i ? ':' : ' ');
        putch(hex[mac[i] >> 4]);
        putch(hex[mac[i] & 0xf]);
    }
    puts_raw(" ip 10.0.2.15, waiting for UDP\n");
    return 0;
}

static void answer_arp(const uint8_t *frame, uint32_t len)
{
    const uint8_t *arp = frame + 14;
    uint8_t *out = tx_buf + NET_HDR;

    /* Ethernet/IPv4 request (operation 1) for our address. */
    if (len < 42 || get16(arp) != 1 || get16(arp + 2) != ETH_IPV4 || get16(arp + 6) != 1 ||
        !same(arp + 24, guest_ip, 4))
        return;
    memcpy(out, frame + 6, 6);
    memcpy(out + 6, mac, 6);
    set16(out + 12, ETH_ARP);
    memcpy(out + 14, arp, 6); /* hardware and protocol types and sizes */
    set16(out + 20, 2);       /* reply */
    memcpy(out + 22, mac, 6);
    memcpy(out + 28, guest_ip, 4);
    memcpy(out + 32, arp + 8, 10); /* the asker's hardware and IP addresses */
    tx_send(42);
}

static uint16_t ip_checksum(const uint8_t *p, uint32_t len)
{
    uint32_t sum = 0;

    for (uint32_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put_ip(const uint8_t *ip)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            putch('.');
        put_dec(ip[i]);
    }
}

/* Sends the datagram back to where it came from; 1 when it was one for us. */
static int answer_udp(const uint8_t *frame, uint32_t len)
{
    const uint8_t *ip = frame + 14;
    uint8_t *out = tx_buf + NET_HDR;

    if (len < 14 + 20 + 8 || (ip[0] >> 4) != 4 || ip[9] != IP_UDP || !same(ip + 16, guest_ip, 4))
        return 0;
    uint32_t ihl = (ip[0] & 0xfu) * 4u, total = get16(ip + 2);
    if (ihl < 20 || total < ihl + 8 || 14 + total > len || 14 + total > BUF_SIZE - NET_HDR)
        return 0;
    const uint8_t *udp = ip + ihl;
    uint32_t udp_len = get16(udp + 4);
    if (udp_len < 8 || ihl + udp_len > total)
        return 0;

    memcpy(out, frame + 6, 6);
    memcpy(out + 6, mac, 6);
    set16(out + 12, ETH_IPV4);
    uint8_t *oip = out + 14, *oudp = oip + 20;
    memset(oip, 0, 20);
    oip[0] = 0x45;
    set16(oip + 2, (uint16_t)(20 + udp_len));
    oip[8] = 64;
    oip[9] = IP_UDP;
    memcpy(oip + 12, guest_ip, 4);
    memcpy(oip + 16, ip + 12, 4);
    set16(oip + 10, ip_checksum(oip, 20));
    set16(oudp, get16(udp + 2));
    set16(oudp + 2, get16(udp));
    set16(oudp + 4, (uint16_t)udp_len);
    set16(oudp + 6, 0); /* no checksum, which IPv4 allows */
    memcpy(oudp + 8, udp + 8, udp_len - 8);
    tx_send(14 + 20 + udp_len);

    line_start();
    puts_raw("udp echo ");
    put_dec(udp_len - 8);
    puts_raw(" bytes from ");
    put_ip(ip + 12);
    putch(':');
    put_dec(get16(udp));
    puts_raw(" to port ");
    put_dec(get16(udp + 2));
    putch('\n');
    return 1;
}

int net_udp_echo(void)
{
    if (device_init() < 0)
        return -1;
    /* Waits as long as it takes: the boot's timeout bounds the test, not the probe. */
    for (;;) {
        compiler_barrier();
        if (rxq.used->idx == rxq.last_used)
            continue;
        volatile struct virtq_used_elem *e = &rxq.used->ring[rxq.last_used % rxq.size];
        uint32_t id = e->id, len = e->len;
        rxq.last_used++;
        int done = 0;
        if (id < RX_BUFFERS && len > NET_HDR + 14 && len <= BUF_SIZE) {
            const uint8_t *frame = rx_buf[id] + NET_HDR;
            uint32_t frame_len = len - NET_HDR;
            uint16_t type = get16(frame + 12);

            if (type == ETH_ARP)
                answer_arp(frame, frame_len);
            else if (type == ETH_IPV4)
                done = answer_udp(frame, frame_len);
        }
        if (id < RX_BUFFERS)
            rx_post((uint16_t)id);
        if (done)
            return 0;
    }
}
