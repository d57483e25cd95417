/* test_template.c: grub.cfg templates, GRUB quoting and the command line GRUB builds. */
#include <unistd.h>

#include "template.h"
#include "unit.h"

#define HEADER                                                                               \
    "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n"                         \
    "terminal_input serial\n"                                                                \
    "terminal_output serial\n"                                                               \
    "set timeout=0\n"                                                                        \
    "menuentry 'unikernel' {\n"
/* The end of every built-in entry: the lines `boot` watches for around GRUB's handover. */
#define BOOT                                                                                 \
    "\techo 'unikernel-mkimage: starting the kernel'\n"                                        \
    "\tboot\n"                                                                               \
    "\techo 'unikernel-mkimage: GRUB could not start the kernel'\n}\n"

static const char *const tricky_args[] = {"hello", "two words", "single", "back\\slash",
                                          "$HOME", "semi;colon"};

/* Renders (name) from the source tree's templates (CTest sets MK_TEMPLATE_DIR) and compares
 * with (expected). */
static void check_render(const char *name, const struct mk_template_vars *vars,
                         const char *expected)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;

    CHECK_OK(ctx, mk_template_render(ctx, NULL, name, vars, &out));
    CHECK_STR(out.buf, expected);
    mk_buf_release(&out);
    mk_ctx_free(ctx);
}

static void test_multiboot(void)
{
    struct mk_template_vars v = {.kernel_path = "/boot/hello.virtio", .args = tricky_args,
                                 .nargs = MK_ARRAY_SIZE(tricky_args)};
    check_render("multiboot", &v,
                 HEADER "\tmultiboot /boot/hello.virtio hello 'two words' single 'back\\slash' "
                        "'$HOME' 'semi;colon'\n"
                        BOOT);
    /* No arguments: no trailing blank. */
    v.nargs = 0;
    check_render("multiboot", &v, HEADER "\tmultiboot /boot/hello.virtio\n" BOOT);
}

static void test_multiboot2_modules(void)
{
    static const char *const args[] = {"--verbose"};
    static const struct mk_template_module mods[] = {
        {.path = "/boot/disk.img", .args = NULL},
        {.path = "/boot/my data", .args = "x  y"},
        {.path = "/boot/cfg", .args = "it's"},
    };
    struct mk_template_vars v = {.kernel_path = "/boot/k", .args = args, .nargs = 1,
                                 .modules = mods, .nmodules = 3, .multiboot2 = 1};
    check_render("multiboot", &v,
                 HEADER "\tmultiboot2 /boot/k --verbose\n"
                        "\tmodule2 /boot/disk.img\n"
                        "\tmodule2 '/boot/my data' x '' y\n"
                        "\tmodule2 /boot/cfg 'it'\\''s'\n"
                        BOOT);
}

static void test_solo5(void)
{
    static const char *const args[] = {"--net:service=tap0", "a b"};
    struct mk_template_vars v = {.kernel_path = "/boot/hello.virtio", .args = args, .nargs = 2};
    check_render("solo5", &v,
                 HEADER "\tmultiboot /boot/hello.virtio hello.virtio --net:service=tap0 'a b'\n"
                        BOOT);
    v.nargs = 0;
    check_render("solo5", &v,
                 HEADER "\tmultiboot /boot/hello.virtio hello.virtio\n" BOOT);
}

static void test_hermit(void)
{
    static const char *const args[] = {"-freq=2000"};
    static const struct mk_template_module app = {.path = "/boot/hello_world"};
    struct mk_template_vars v = {.kernel_path = "/boot/ldhermit.elf", .args = args, .nargs = 1,
                                 .modules = &app, .nmodules = 1};
    check_render("hermit", &v,
                 HEADER "\tmultiboot /boot/ldhermit.elf -uart=io:0x3f8 -freq=2000\n"
                        "\tmodule /boot/hello_world\n"
                        BOOT);
}

/* A -uart= of the user's replaces the template's, instead of following it. */
static void test_hermit_own_uart(void)
{
    static const char *const args[] = {"-uart=io:0x2f8", "-freq=2000"};
    static const struct mk_template_module app = {.path = "/boot/hello_world"};
    struct mk_template_vars v = {.kernel_path = "/boot/ldhermit.elf", .args = args, .nargs = 2,
                                 .modules = &app, .nmodules = 1};
    check_render("hermit", &v,
                 HEADER "\tmultiboot /boot/ldhermit.elf  -uart=io:0x2f8 -freq=2000\n"
                        "\tmodule /boot/hello_world\n"
                        BOOT);
}

static void quote_is(const char *word, const char *expected)
{
    struct mk_buf out = MK_BUF_INIT;
    CHECK_EQ(mk_grub_quote(&out, word), MK_OK);
    CHECK_STR(out.buf, expected);
    mk_buf_release(&out);
}

static void test_quote(void)
{
    quote_is("plain-word_1.2:3=4,5+6@7%8/", "plain-word_1.2:3=4,5+6@7%8/");
    quote_is("", "''");
    quote_is("a b", "'a b'");
    quote_is("it's", "'it'\\''s'");
    quote_is("'", "''\\'''");
    quote_is("$HOME", "'$HOME'");
    quote_is("a\\b", "'a\\b'");
    quote_is("say \"hi\"", "'say \"hi\"'");
    quote_is("#x", "'#x'");
    quote_is("a;b|c&d<e>f{g}h", "'a;b|c&d<e>f{g}h'");
    quote_is("*?[]~!", "'*?[]~!'");
    quote_is("tab\there", "'tab\there'");
    quote_is("\xc3\xbcn", "'\xc3\xbcn'");

    struct mk_buf out = MK_BUF_INIT;
    CHECK_EQ(mk_grub_quote(&out, "a\nb"), MK_EINVAL);
    CHECK_EQ(mk_grub_quote(&out, "a\rb"), MK_EINVAL);
    mk_buf_release(&out);
}

/* The expected string was printed by the probe kernel booted by GRUB 2.06 (Debian 12) with
 * exactly these words in grub.cfg: it is GRUB's behaviour, not ours. */
static void test_loader_cmdline(void)
{
    static const char *const args[] = {"hello", "two words", "single", "back\\slash", "$HOME",
                                       "semi;colon", "it's", "say \"hi\"", "", "tab\there",
                                       "\\x41", "#hash", "a{b}c", "\xc3\xbcn\xc3\xaf", "end"};
    struct mk_buf out = MK_BUF_INIT;

    CHECK_EQ(mk_grub_loader_cmdline(&out, args, MK_ARRAY_SIZE(args)), MK_OK);
    CHECK_STR(out.buf, "hello \"two words\" single back\\\\slash $HOME semi;colon it\\'s "
                       "\"say \\\"hi\\\"\"  tab\there \\\\x41 #hash a{b}c \xc3\xbcn\xc3\xaf end");
    mk_buf_reset(&out);
    CHECK_EQ(mk_grub_loader_cmdline(&out, args, 0), MK_OK);
    CHECK_STR(out.buf, "");
    mk_buf_release(&out);
}

static char tmpdir[] = "/tmp/test_template.XXXXXX";

static const char *write_template(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_user_template(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;
    static const char *const args[] = {"x y"};
    static const struct mk_template_module mod = {.path = "/boot/m", .args = "a"};
    struct mk_template_vars v = {.kernel_path = "/boot/sub/k.elf", .args = args, .nargs = 1,
                                 .modules = &mod, .nmodules = 1};

    CHECK(mkdtemp(tmpdir) != NULL);
    const char *p = write_template(
        "mine.cfg", "## not copied: @NOT_A_PLACEHOLDER@\r\n"
                    "set timeout=0\r\n"
                    "menuentry 'mail me@home @@KERNEL@@ a@b' {\r\n"
                    "  echo @KERNEL_NAME@ is @MULTIBOOT@/@MODULE@\r\n"
                    "  @MULTIBOOT@ @KERNEL@ first @ARGS@ last\r\n"
                    "    @MODULES@   \r\n"
                    "  boot\r\n"
                    "}");
    CHECK_OK(ctx, mk_template_render(ctx, NULL, p, &v, &out));
    CHECK_STR(out.buf, "set timeout=0\n"
                       "menuentry 'mail me@home @KERNEL@ a@b' {\n"
                       "  echo k.elf is multiboot/module\n"
                       "  multiboot /boot/sub/k.elf first 'x y' last\n"
                       "    module /boot/m a\n"
                       "  boot\n"
                       "}\n");

    /* A plain name is looked up as NAME.cfg in the template folder given. */
    write_template("custom.cfg", "@MULTIBOOT@ @KERNEL@\n");
    mk_buf_reset(&out);
    CHECK_OK(ctx, mk_template_render(ctx, tmpdir, "custom", &v, &out));
    CHECK_STR(out.buf, "multiboot /boot/sub/k.elf\n");

    p = write_template("bad.cfg", "set timeout=0\nmenuentry x {\n  @MULTIBOOT@ @KRENEL@\n}\n");
    mk_buf_reset(&out);
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, p, &v, &out), MK_ECONFIG,
               "bad.cfg' line 3: unknown placeholder @KRENEL@");
    CHECK_EQ(out.len, 0);

    p = write_template("mods.cfg", "x @MODULES@\n");
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, p, &v, &out), MK_ECONFIG,
               "mods.cfg' line 1: @MODULES@ must be alone on its line");

    /* 200 lines of 100 @ARGS@ each, with 1 KiB of arguments: 20 MB of grub.cfg from a
     * 1.4 MB template. Refused at the cap, with nothing left in (out), whose own limit
     * stands afterwards. */
    {
        static char big_arg[1024];
        const char *big_args[] = {big_arg};
        struct mk_template_vars bv = {.kernel_path = "/boot/k", .args = big_args, .nargs = 1};
        struct mk_buf text = MK_BUF_INIT;

        memset(big_arg, 'a', sizeof(big_arg) - 1);
        for (int line = 0; line < 200; line++) {
            for (int i = 0; i < 100; i++)
                CHECK_EQ(mk_buf_adds(&text, "@ARGS@ "), 0);
            CHECK_EQ(mk_buf_adds(&text, "\n"), 0);
        }
        p = write_template("huge.cfg", text.buf);
        mk_buf_reset(&out);
        CHECK_EQ(mk_buf_adds(&out, "kept"), 0);
        CHECK_FAIL(ctx, mk_template_render(ctx, NULL, p, &bv, &out), MK_ECONFIG,
                   "huge.cfg' line 41: grub.cfg would be over 4 MiB");
        CHECK_EQ(out.len, 4); /* not CHECK_STR: a failure would print megabytes */
        CHECK(!strcmp(out.buf, "kept"));
        CHECK_EQ(out.max, 0);
        /* The same template with short arguments renders (2 MB). */
        big_arg[100] = '\0';
        mk_buf_reset(&out);
        CHECK_OK(ctx, mk_template_render(ctx, NULL, p, &bv, &out));
        CHECK(out.len > (2u << 20) - 200000 && out.len < (4u << 20));
        mk_buf_release(&text);
    }

    const char *names[] = {"mine.cfg", "custom.cfg", "bad.cfg", "mods.cfg", "huge.cfg"};
    char path[512];
    for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    CHECK_EQ(rmdir(tmpdir), 0);
    mk_buf_release(&out);
    mk_ctx_free(ctx);
}

static void test_errors(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;
    static const char *const bad_args[] = {"ok", "two\nlines"};
    struct mk_template_vars v = {.kernel_path = "/boot/k", .args = bad_args, .nargs = 2};

    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "xen", &v, &out), MK_ENOTFOUND,
               "unknown template 'xen' (built-in: multiboot, solo5, hermit; or give a path to "
               "a .cfg file)");
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "../etc", &v, &out), MK_ENOTFOUND,
               "template '../etc'");
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "no/such.cfg", &v, &out), MK_ENOTFOUND,
               "template 'no/such.cfg'");
    CHECK_FAIL(ctx, mk_template_render(ctx, "/nonexistent", "xen", &v, &out), MK_ENOTFOUND,
               "or give a path to a .cfg file); not in /nonexistent");
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "multiboot", &v, &out), MK_EINVAL,
               "kernel argument 'two lines' contains a line break");
    CHECK_EQ(out.len, 0);

    static const struct mk_template_module mod = {.path = "/boot/m", .args = "a\rb"};
    v.nargs = 1;
    v.modules = &mod;
    v.nmodules = 1;
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "multiboot", &v, &out), MK_EINVAL,
               "module argument");
    mk_buf_release(&out);
    mk_ctx_free(ctx);
}

static void test_default_dir(void)
{
    const char *saved = getenv("MK_TEMPLATE_DIR");
    char *copy = saved ? strdup(saved) : NULL;

    setenv("MK_TEMPLATE_DIR", "/x/y", 1);
    CHECK_STR(mk_template_default_dir(), "/x/y");
    unsetenv("MK_TEMPLATE_DIR");
    CHECK(mk_template_default_dir() == NULL);
    /* Without any folder the built-in templates are the compiled-in ones. */
    {
        struct mk_ctx *ctx = mk_ctx_new();
        struct mk_buf out = MK_BUF_INIT;
        const char *args[] = {"a"};
        struct mk_template_vars v = {.kernel_path = "/boot/k", .args = args, .nargs = 1};

        CHECK_OK(ctx, mk_template_render(ctx, NULL, "solo5", &v, &out));
        CHECK(strstr(out.buf, "multiboot /boot/k k a") != NULL);
        out.len = 0;
        CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "nosuch", &v, &out), MK_ENOTFOUND,
                   "built-in: multiboot, solo5, hermit");
        /* A folder that lacks a built-in name falls back to the compiled-in text. */
        out.len = 0;
        CHECK_OK(ctx, mk_template_render(ctx, "/nonexistent", "multiboot", &v, &out));
        mk_buf_release(&out);
        mk_ctx_free(ctx);
    }
    if (copy)
        setenv("MK_TEMPLATE_DIR", copy, 1);
    free(copy);
}

/* Rendering is line by line, and a cancelled context stops it (a user's template may be a
 * megabyte of lines that each expand the command line). */
static void test_cancelled(void)
{
    struct mk_template_vars v = {.kernel_path = "/boot/k", .args = tricky_args,
                                 .nargs = MK_ARRAY_SIZE(tricky_args)};
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;

    mk_ctx_cancel(ctx);
    CHECK_FAIL(ctx, mk_template_render(ctx, NULL, "multiboot", &v, &out), MK_ECANCELED,
               "interrupted");
    CHECK_EQ(out.len, 0);
    mk_buf_release(&out);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_cancelled), UNIT_TEST(test_multiboot), UNIT_TEST(test_multiboot2_modules),
          UNIT_TEST(test_solo5),
          UNIT_TEST(test_hermit), UNIT_TEST(test_hermit_own_uart), UNIT_TEST(test_quote), UNIT_TEST(test_loader_cmdline),
          UNIT_TEST(test_user_template), UNIT_TEST(test_errors), UNIT_TEST(test_default_dir))
