/* probe.c: reports on COM1 what the multiboot loader handed over and the PCI devices it
 * finds, does what its command line asks (see README.md), then exits QEMU. */
#include "probe.h"

#define COM1 0x3f8
/* QEMU's isa-debug-exit (iobase=0xf4) exits with (value << 1) | 1: 0x31 gives status 99,
 * which a passing test expects. */
#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_VALUE 0x31
#define DEBUG_EXIT_FAILURE 0x01 /* status 3 */
/* Solo5's virtio bindings end every run by writing 41 to port 0x501 and then powering off
 * through ACPI; the probe does the same in its Solo5 modes. */
#define SOLO5_EXIT_PORT 0x501
#define SOLO5_EXIT_VALUE 41
/* SeaBIOS puts the ACPI PM registers at 0x600 on both QEMU PCs (PIIX4 and ICH9), so PM1a_CNT
 * is 0x604 without reading the ACPI tables; SLP_EN with sleep type 0 is QEMU's soft-off. */
#define ACPI_PM1A_CNT 0x604
#define ACPI_SLP_EN 0x2000

#define MB1_BOOT_MAGIC 0x2badb002u
#define MB2_BOOT_MAGIC 0x36d76289u

#define MB1_INFO_CMDLINE (1u << 2)
#define MB1_INFO_MODS (1u << 3)
#define MB1_INFO_LOADER_NAME (1u << 9)

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_LOADER_NAME 2
#define MB2_TAG_MODULE 3

/* The v1 information structure, as far as the probe reads it. */
struct mb1_info {
    uint32_t flags;
    uint32_t mem_lower;
    uint32_t mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
};

struct mb1_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;
    uint32_t reserved;
};

struct mb2_tag {
    uint32_t type;
    uint32_t size;
};

struct mb2_module {
    uint32_t type;
    uint32_t size;
    uint32_t mod_start;
    uint32_t mod_end;
    char string[];
};

void probe_main(uint32_t magic, uint32_t info);

void *memset(void *s, int c, size_t n)
{
    unsigned char *p = s;
    while (n--)
        *p++ = (unsigned char)c;
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB on to set the divisor */
    outb(COM1 + 0, 0x01); /* 115200 / 1 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8 data bits, no parity, 1 stop bit */
    outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void putch(char c)
{
    /* Bounded wait so a missing UART cannot hang the probe before it exits. */
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}

void puts_raw(const char *s)
{
    while (*s)
        putch(*s++);
}

void put_dec(uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putch(tmp[--n]);
}

void put_hex(uint32_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    puts_raw("0x");
    for (int i = (digits - 1) * 4; i >= 0; i -= 4)
        putch(hex[(v >> i) & 0xf]);
}

void put_hex32(uint32_t v)
{
    put_hex(v, 8);
}

/* Prints a loader-supplied string between single quotes: printable ASCII as is (quotes and
 * backslashes included, so tests compare the exact bytes), anything else as \xNN so the
 * output stays one line. */
static void put_quoted(const char *s)
{
    static const char digits[] = "0123456789abcdef";
    putch('\'');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f) {
            putch((char)*p);
        } else {
            putch('\\');
            putch('x');
            putch(digits[*p >> 4]);
            putch(digits[*p & 0xf]);
        }
    }
    putch('\'');
}

void line_start(void)
{
    puts_raw("MBPROBE: ");
}

static void print_string_field(const char *name, uint32_t addr)
{
    line_start();
    puts_raw(name);
    putch('=');
    if (addr)
        put_quoted((const char *)(uintptr_t)addr);
    else
        puts_raw("(none)");
    putch('\n');
}

/* The CRC-32 of zlib's crc32() (reflected polynomial 0xedb88320), so tests can compare
 * with Python's zlib.crc32 or gzip. */
static uint32_t crc_table[256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const unsigned char *p, uint32_t len)
{
    uint32_t c = 0xffffffffu;
    while (len--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void print_module(uint32_t i, uint32_t start, uint32_t end, const char *string)
{
    uint32_t size = end >= start ? end - start : 0;

    line_start();
    puts_raw("mod[");
    put_dec(i);
    puts_raw("] string=");
    if (string)
        put_quoted(string);
    else
        puts_raw("(none)");
    puts_raw(" size=");
    put_dec(size);
    puts_raw(" crc32=");
    put_hex32(crc32((const unsigned char *)(uintptr_t)start, size));
    putch('\n');
}

/* The command line the loader gave, for the modes it may ask for. */
static const char *probe_cmdline;

static void probe_v1(const struct mb1_info *mbi)
{
    if (mbi->flags & MB1_INFO_CMDLINE)
        probe_cmdline = (const char *)(uintptr_t)mbi->cmdline;
    print_string_field("loader",
                       (mbi->flags & MB1_INFO_LOADER_NAME) ? mbi->boot_loader_name : 0);
    print_string_field("cmdline", (mbi->flags & MB1_INFO_CMDLINE) ? mbi->cmdline : 0);
    uint32_t count = (mbi->flags & MB1_INFO_MODS) ? mbi->mods_count : 0;
    line_start();
    puts_raw("mods_count=");
    put_dec(count);
    putch('\n');
    const struct mb1_module *mods = (const struct mb1_module *)(uintptr_t)mbi->mods_addr;
    for (uint32_t i = 0; i < count; i++)
        print_module(i, mods[i].mod_start, mods[i].mod_end,
                     mods[i].string ? (const char *)(uintptr_t)mods[i].string : NULL);
}

/* Multiboot2 gives the information as a list of 8-byte aligned tags. Two passes keep the
 * output in the same order as for v1 (loader, cmdline, count, modules). */
static void probe_v2(uint32_t info)
{
    uint32_t total = *(const uint32_t *)(uintptr_t)info;
    uint32_t loader = 0, cmdline = 0, count = 0;
    const struct mb2_tag *tag;

#define FOR_EACH_TAG(tag)                                                                   \
    for (tag = (const struct mb2_tag *)(uintptr_t)(info + 8);                               \
         (uintptr_t)tag + 8 <= info + total && tag->type != MB2_TAG_END && tag->size >= 8;  \
         tag = (const struct mb2_tag *)(((uintptr_t)tag + tag->size + 7) & ~(uintptr_t)7))

    FOR_EACH_TAG(tag) {
        if (tag->type == MB2_TAG_CMDLINE)
            cmdline = (uint32_t)(uintptr_t)tag + 8;
        else if (tag->type == MB2_TAG_LOADER_NAME)
            loader = (uint32_t)(uintptr_t)tag + 8;
        else if (tag->type == MB2_TAG_MODULE)
            count++;
    }
    if (cmdline)
        probe_cmdline = (const char *)(uintptr_t)cmdline;
    print_string_field("loader", loader);
    print_string_field("cmdline", cmdline);
    line_start();
    puts_raw("mods_count=");
    put_dec(count);
    putch('\n');
    uint32_t i = 0;
    FOR_EACH_TAG(tag) {
        if (tag->type == MB2_TAG_MODULE) {
            const struct mb2_module *m = (const struct mb2_module *)tag;
            print_module(i++, m->mod_start, m->mod_end, m->string);
        }
    }
#undef FOR_EACH_TAG
}

/* The value of the word "NAME" or "NAME=VALUE" on the command line: NULL when absent, ""
 * for a bare NAME; (len) gets the value's length. */
static const char *cmdline_word(const char *name, uint32_t *len)
{
    const char *p = probe_cmdline;

    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *w = p, *n = name;
        while (*p && *p != ' ')
            p++;
        while (*n && w < p && *w == *n)
            w++, n++;
        if (*n == '\0' && (w == p || *w == '=')) {
            if (w < p)
                w++;
            *len = (uint32_t)(p - w);
            return w;
        }
    }
    return NULL;
}

static uint32_t parse_dec(const char *s, uint32_t len)
{
    uint32_t v = 0;

    while (len-- && *s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

static void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* QEMU acts on the power-off request from its main loop, a moment after the write: the
 * probe waits (port 0x80 reads, each a trip out of the guest) before saying it failed, and
 * then halts, as Solo5 does, rather than carry on. */
static void power_off(void)
{
    outw(ACPI_PM1A_CNT, ACPI_SLP_EN);
    for (uint32_t i = 0; i < 2000000u; i++)
        (void)inb(0x80);
    line_start();
    puts_raw("power-off did not take effect\n");
}

/* Ends the way Solo5's virtio bindings do: its own last line, the write to 0x501 that
 * QEMU turns into status 83 when isa-debug-exit sits there, then an ACPI power-off. */
static void end_like_solo5(const char *last_line)
{
    puts_raw(last_line);
    outw(SOLO5_EXIT_PORT, SOLO5_EXIT_VALUE);
    power_off();
    puts_raw("Solo5: Halted\n");
    halt_forever();
}

/* The modes the command line can ask for, after the report. Returns when the probe should
 * end as usual (print "done" and write to isa-debug-exit). */
static void run_modes(void)
{
    uint32_t len;
    const char *v;

    if (cmdline_word("udp-echo", &len)) {
        if (net_udp_echo() < 0) {
            outb(DEBUG_EXIT_PORT, DEBUG_EXIT_FAILURE);
            return;
        }
    }
    if ((v = cmdline_word("print", &len))) {
        line_start();
        while (len--)
            putch(*v++ == '_' ? ' ' : v[-1]);
        putch('\n');
    }
    if ((v = cmdline_word("solo5-exit", &len))) {
        uint32_t code = parse_dec(v, len);

        if (code == 0)
            puts_raw("SUCCESS\n");
        puts_raw("Solo5: solo5_exit(");
        put_dec(code);
        end_like_solo5(") called\n");
    } else if (cmdline_word("solo5-abort", &len)) {
        puts_raw("ABORT\n");
        end_like_solo5("Solo5: solo5_abort() called\n");
    } else if (cmdline_word("poweroff", &len)) {
        power_off();
        halt_forever();
    }
    if (cmdline_word("hang", &len))
        halt_forever();
}

void probe_main(uint32_t magic, uint32_t info)
{
    serial_init();
    crc32_init();
    line_start();
    if (magic == MB1_BOOT_MAGIC) {
        puts_raw("multiboot=1 magic=");
        put_hex32(magic);
        putch('\n');
        probe_v1((const struct mb1_info *)(uintptr_t)info);
    } else if (magic == MB2_BOOT_MAGIC) {
        puts_raw("multiboot=2 magic=");
        put_hex32(magic);
        putch('\n');
        probe_v2(info);
    } else {
        probe_cmdline = NULL;
        /* Not booted by a multiboot loader: no "done", and a status tests treat as failure. */
        puts_raw("unknown boot magic=");
        put_hex32(magic);
        putch('\n');
        outb(DEBUG_EXIT_PORT, DEBUG_EXIT_FAILURE);
        return;
    }
    pci_list();
    run_modes();
    line_start();
    puts_raw("done\n");
    outb(DEBUG_EXIT_PORT, DEBUG_EXIT_VALUE);
}
