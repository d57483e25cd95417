/* test_spec.c: loading image specs: the model they give, and every error's exact place. */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec_private.h"
#include "unit.h"

static char dir[64];

static void setup(void)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/test_spec.XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
}

/* Writes (text) to DIR/(name) and returns that path (static). */
static const char *spec_file(const char *name, const char *text)
{
    static char path[128];
    FILE *f;

    setup();
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        perror(path);
        exit(1);
    }
    return path;
}

/* Loads (text) and expects MK_ECONFIG with exactly "DIR/s.yaml:(where)", where "@D" in
 * (where) stands for DIR. */
static void expect_error(const char *text, const char *where)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec = NULL;
    char want[512];
    const char *path = spec_file("s.yaml", text), *at = strstr(where, "@D");

    if (at)
        snprintf(want, sizeof(want), "%s:%.*s%s%s", path, (int)(at - where), where, dir, at + 2);
    else
        snprintf(want, sizeof(want), "%s:%s", path, where);
    int r = mk_spec_load(ctx, path, &spec);
    if (r != MK_ECONFIG || strcmp(mk_errmsg(ctx), want)) {
        fprintf(stderr, "  load returned %d \"%s\"\n  expected \"%s\"\n", r, mk_errmsg(ctx), want);
        unit_failed_checks++;
    }
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

static struct mk_spec *load_ok(struct mk_ctx *ctx, const char *text)
{
    struct mk_spec *spec = NULL;

    CHECK_OK(ctx, mk_spec_load(ctx, spec_file("s.yaml", text), &spec));
    return spec;
}

static void test_levenshtein(void)
{
    CHECK_EQ(mk_levenshtein("modles", "modules"), 1);
    CHECK_EQ(mk_levenshtein("", "abc"), 3);
    CHECK_EQ(mk_levenshtein("kernel", "kernel"), 0);
    CHECK_EQ(mk_levenshtein("kitten", "sitting"), 3);
}

static void test_full_model(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    const char *k, *v;
    enum mk_format fmt;
    char want[256];

    setenv("SPEC_TEST_PROJECT", "proj-1", 1);
    struct mk_spec *spec =
        load_ok(ctx, "version: 1\nimage:\n"
                     "  kernel: hello.virtio\n  args: [--a=1, \"two words\", \"$$HOME\"]\n"
                     "  template: own/grub.cfg\n  modules:\n"
                     "    - app.bin\n    - {path: /abs/lib.bin, args: x y}\n"
                     "  files:\n    - {src: conf.json, dest: /etc/conf.json}\n"
                     "  size: 2G\n  uuid: 01234567-89ab-cdef-0123-456789abcdef\n"
                     "output: {raw: out/disk.raw, gce: /tmp/disk.tar.gz}\n"
                     "pack: {jobs: 2, level: 9, round-up: yes}\ntargets:\n  prod:\n    type: gce\n"
                     "    project: ${SPEC_TEST_PROJECT}\n    labels: {app: hello, env: prod}\n"
                     "    tags: [a, b]\n    properties: {hw_disk_bus: scsi}\n    replace: true\n"
                     "  lab: {type: openstack, cloud: '${SPEC_TEST_UNSET:-lab}'}\n");
    if (!spec)
        goto out;
    const struct mk_build_opts *o = mk_spec_build_opts(spec);
    snprintf(want, sizeof(want), "%s/hello.virtio", dir);
    CHECK_STR(o->kernel, want);
    CHECK_EQ(o->n_kernel_args, 3);
    CHECK_STR(o->kernel_args[1], "two words");
    CHECK_STR(o->kernel_args[2], "$HOME");
    snprintf(want, sizeof(want), "%s/own/grub.cfg", dir);
    CHECK_STR(o->template_name, want);
    CHECK_EQ(o->n_modules, 2);
    snprintf(want, sizeof(want), "%s/app.bin", dir);
    CHECK_STR(o->modules[0].path, want);
    CHECK(o->modules[0].args == NULL);
    CHECK_STR(o->modules[1].path, "/abs/lib.bin");
    CHECK_STR(o->modules[1].args, "x y");
    CHECK_EQ(o->n_files, 1);
    CHECK_STR(o->files[0].dest, "/etc/conf.json");
    CHECK_EQ(o->disk_size, 2ull << 30);
    CHECK_STR(o->uuid, "01234567-89ab-cdef-0123-456789abcdef");
    CHECK_EQ(o->mtime, -1);
    CHECK_EQ(mk_spec_pack_opts(spec)->jobs, 2);
    CHECK_EQ(mk_spec_pack_opts(spec)->level, 9);
    CHECK_EQ(mk_spec_pack_opts(spec)->round_up, 1);

    CHECK_EQ(mk_spec_n_outputs(spec), 2);
    snprintf(want, sizeof(want), "%s/out/disk.raw", dir);
    CHECK_STR(mk_spec_output(spec, 0, &fmt), want);
    CHECK_EQ(fmt, MK_FORMAT_RAW);
    CHECK_STR(mk_spec_output(spec, 1, &fmt), "/tmp/disk.tar.gz");
    CHECK_EQ(fmt, MK_FORMAT_GCE);
    CHECK(mk_spec_output(spec, 2, &fmt) == NULL);

    CHECK_EQ(mk_spec_n_targets(spec), 2);
    CHECK_STR(mk_spec_target_name(spec, 0), "prod");
    CHECK_STR(mk_spec_target_type(spec, 0), "gce");
    static const char *const want_opts[][2] = {
        {"project", "proj-1"}, {"label", "app=hello"}, {"label", "env=prod"},
        {"tag", "a"},          {"tag", "b"},           {"property", "hw_disk_bus=scsi"},
        {"replace", "true"},
    };
    CHECK_EQ(mk_spec_target_n_options(spec, 0), MK_ARRAY_SIZE(want_opts));
    for (size_t j = 0; j < MK_ARRAY_SIZE(want_opts); j++) {
        mk_spec_target_option(spec, 0, j, &k, &v);
        CHECK_STR(k, want_opts[j][0]);
        CHECK_STR(v, want_opts[j][1]);
    }
    mk_spec_target_option(spec, 1, 0, &k, &v);
    CHECK_STR(k, "cloud");
    CHECK_STR(v, "lab");
    size_t at = 9;
    CHECK_OK(ctx, mk_spec_find_target(ctx, spec, "lab", &at));
    CHECK_EQ(at, 1);
    CHECK_FAIL(ctx, mk_spec_find_target(ctx, spec, "prd", &at), MK_ENOTFOUND,
               "no target 'prd' (did you mean 'prod'?)");
    CHECK_FAIL(ctx, mk_spec_find_target(ctx, spec, "staging", &at), MK_ENOTFOUND,
               "(targets: prod, lab)");
out:
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

static void test_shorthands(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    enum mk_format fmt;
    struct mk_spec *spec = load_ok(ctx, "image:\n  kernel: /k.elf\n  args: one word\n  uuid:\n"
                                        "output: [a.raw, b.tgz, c.qcow2]\n");

    if (spec) {
        const struct mk_build_opts *o = mk_spec_build_opts(spec);
        CHECK_EQ(o->n_kernel_args, 1);
        CHECK_STR(o->kernel_args[0], "one word");
        CHECK(o->uuid == NULL);
        CHECK(o->template_name == NULL);
        CHECK_EQ(o->disk_size, 0);
        CHECK_EQ(mk_spec_n_outputs(spec), 3);
        mk_spec_output(spec, 1, &fmt);
        CHECK_EQ(fmt, MK_FORMAT_GCE);
        mk_spec_output(spec, 2, &fmt);
        CHECK_EQ(fmt, MK_FORMAT_QCOW2);
        CHECK_EQ(mk_spec_n_targets(spec), 0);
    }
    mk_spec_free(spec);
    /* A spec in the current folder keeps its paths as written. */
    char cwd[256];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_EQ(chdir(dir), 0);
    spec = NULL;
    CHECK_OK(ctx, mk_spec_load(ctx, "s.yaml", &spec));
    CHECK(spec && !strcmp(mk_spec_output(spec, 0, NULL), "a.raw"));
    CHECK(spec && !strcmp(mk_spec_build_opts(spec)->kernel, "/k.elf"));
    CHECK_EQ(chdir(cwd), 0);
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

static void test_key_errors(void)
{
    expect_error("image:\n  kernel: k\n  args: []\n  template: solo5\n  size: 1G\n  uuid: u\n"
                 "  modles: []\n",
                 "7:3: unknown key 'modles' in image (did you mean 'modules'?)");
    expect_error("imgae:\n  kernel: k\n",
                 "1:1: unknown key 'imgae' at the top level (did you mean 'image'?)");
    expect_error("image:\n  kernel: k\n  colour: blue\n",
                 "3:3: unknown key 'colour' in image (known: kernel, args, template, modules, "
                 "files, size, uuid)");
    expect_error("image:\n  kernel: k\n  modules:\n    - {path: m, arg: x}\n",
                 "4:17: unknown key 'arg' in image.modules item 1 (did you mean 'args'?)");
    expect_error("image:\n  kernel: k\n  size: 1G\n  kernel: j\n",
                 "4:3: duplicate key 'kernel' in image (first at line 2)");
    expect_error("image: {kernel: k}\ntargets:\n  a: {type: gce, bucket: x, bucket: y}\n",
                 "3:29: duplicate key 'bucket' in target 'a' (first at line 3)");
    expect_error("image: {kernel: k}\npack: {level: 1, jbos: 2}\n",
                 "2:18: unknown key 'jbos' in pack (did you mean 'jobs'?)");
    expect_error("image: {kernel: k}\noutput: {raw: a, qcow: b}\n",
                 "2:18: unknown format 'qcow' in output (did you mean 'qcow2'?)");
}

static void test_type_errors(void)
{
    expect_error("image:\n  kernel: {path: k}\n",
                 "2:11: 'kernel' in image must be a string, not a map");
    expect_error("image:\n  kernel: [a, b]\n",
                 "2:11: 'kernel' in image must be a string, not a list");
    expect_error("image: k.elf\n", "1:8: 'image' must be a map, not a string");
    expect_error("- image\n", "1:1: the spec must be a map with image, output and targets, "
                              "not a list");
    expect_error("image:\n  kernel: k\n  args: {a: b}\n",
                 "3:9: 'args' in image must be a list of strings or one string, not a map");
    expect_error("image:\n  kernel: k\n  args: [a, [b]]\n",
                 "3:13: image.args item 2 must be a string, not a list");
    expect_error("image:\n  kernel: k\n  files: [x]\n",
                 "3:11: image.files item 1 must be a map with 'src' and 'dest', not a string");
    expect_error("image:\n  kernel: k\n  files:\n    - src: a\n",
                 "4:7: image.files item 1 has no 'dest'");
    expect_error("image:\n  kernel: k\n  size: lots\n",
                 "3:9: 'size' in image: invalid size 'lots': expected a number such as 512M or 1G");
    expect_error("image:\n  kernel: k\n  size: 0\n", "3:9: 'size' in image must not be zero");
    expect_error("image: {kernel: k}\npack: {level: 12}\n",
                 "2:15: 'level' in pack must be a number from 1 to 9, not '12'");
    expect_error("image: {kernel: k}\npack: {round-up: maybe}\n",
                 "2:18: 'round-up' in pack must be true or false, not 'maybe'");
    expect_error("image: {kernel: k}\ntargets:\n  a: {type: gce, labels: {k: [v]}}\n",
                 "3:30: 'labels' in target 'a': values must be strings, not a list");
    expect_error("image: {kernel: k}\ntargets: [a]\n", "2:10: 'targets' must be a map, not a list");
    expect_error("image: {kernel: k}\nversion: 2\n",
                 "2:10: unsupported version (this program reads version 1)");
}

static void test_missing(void)
{
    expect_error("image:\n  args: [x]\n", "2:3: image has no 'kernel'");
    expect_error("image:\n  kernel: ~\n", "2:3: image has no 'kernel'");
    expect_error("output: x\n", "1:1: missing key 'image' (the image to build: image: {kernel: "
                                "FILE})");
    expect_error("", "1:1: the spec is empty (it needs at least image: {kernel: FILE})");
    expect_error("image: {kernel: k}\ntargets:\n  prod: {project: p}\n",
                 "3:3: target 'prod' has no 'type' (an uploader: gce, openstack, or a plugin's "
                 "name)");
    expect_error("image: {kernel: k}\ntargets:\n  'a b': {type: gce}\n",
                 "3:3: target name 'a b' must be letters, digits, '-', '_' or '.'");
    expect_error("image: {kernel: k}\noutput: [a.raw, b.qcow2, a.raw]\n",
                 "2:26: output '@D/a.raw' is listed twice (first at line 2)");
}

static void test_yaml_errors(void)
{
    expect_error("image:\n  kernel: k\n   args: x\n",
                 "3:8: invalid YAML: mapping values are not allowed in this context");
    expect_error("image: {kernel: k}\n---\nimage: {kernel: j}\n",
                 "3:1: a second YAML document: the spec must be one document");
}

static void test_env(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec;

    unsetenv("SPEC_TEST_NOPE");
    setenv("SPEC_TEST_K", "/kernels/k.elf", 1);
    setenv("SPEC_TEST_EMPTY", "", 1);
    expect_error("image:\n  kernel: k\n  args: [ok, 'x${SPEC_TEST_NOPE}y']\n",
                 "3:14: image.args item 2: environment variable 'SPEC_TEST_NOPE' is not set");
    expect_error("image:\n  kernel: $SPEC_TEST_K\n",
                 "2:11: 'kernel' in image: '$' must start ${VARIABLE} or ${VARIABLE:-default} "
                 "(write $$ for a '$')");
    expect_error("image:\n  kernel: ${SPEC_TEST_K\n",
                 "2:11: 'kernel' in image: '$' must start ${VARIABLE} or ${VARIABLE:-default} "
                 "(write $$ for a '$')");
    expect_error("image: {kernel: k}\ntargets:\n  t: {type: x, token: '${SPEC_TEST_NOPE}'}\n",
                 "3:23: 'token' in target 't': environment variable 'SPEC_TEST_NOPE' is not set");
    spec = load_ok(ctx, "image:\n  kernel: ${SPEC_TEST_K}\n"
                        "  args: ['a${SPEC_TEST_EMPTY}b', '${SPEC_TEST_EMPTY:-dflt}', 'c$$$$d',"
                        " '${SPEC_TEST_NOPE:-}']\n");
    if (spec) {
        const struct mk_build_opts *o = mk_spec_build_opts(spec);
        CHECK_STR(o->kernel, "/kernels/k.elf");
        CHECK_STR(o->kernel_args[0], "ab");
        CHECK_STR(o->kernel_args[1], "dflt");
        CHECK_STR(o->kernel_args[2], "c$$d");
        CHECK_STR(o->kernel_args[3], "");
    }
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

static void test_unreadable(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec = NULL;

    setup();
    CHECK_FAIL(ctx, mk_spec_load(ctx, "/nonexistent/spec.yaml", &spec), MK_ENOTFOUND,
               "/nonexistent/spec.yaml");
    CHECK(spec == NULL);
    mk_ctx_free(ctx);
}

static void test_validate_inputs(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec;
    char want[256];

    spec_file("notelf.txt", "not a kernel\n");
    spec = load_ok(ctx, "image:\n  kernel: notelf.txt\n");
    if (spec) {
        snprintf(want, sizeof(want), "%s/s.yaml:2:11: '%s/notelf.txt': not an ELF", dir, dir);
        CHECK_FAIL(ctx, mk_spec_validate(ctx, spec), MK_EFORMAT, want);
    }
    mk_spec_free(spec);
    spec = load_ok(ctx, "image:\n  kernel: nosuch.elf\n");
    if (spec) {
        snprintf(want, sizeof(want), "%s/s.yaml:2:11: kernel '%s/nosuch.elf': No such file", dir,
                 dir);
        CHECK_FAIL(ctx, mk_spec_validate(ctx, spec), MK_ECONFIG, want);
    }
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

/* Loads (text) and expects its paths outside the spec's folder to be exactly (want), joined
 * with "; " ("" for none); "@D" in (want) stands for the spec's folder. */
static void expect_outside(const char *text, const char *want)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec = NULL;
    char got[1024] = "", expected[1024] = "";
    const char *at = strstr(want, "@D");

    if (at)
        snprintf(expected, sizeof(expected), "%.*s%s%s", (int)(at - want), want, dir, at + 2);
    else
        snprintf(expected, sizeof(expected), "%s", want);
    CHECK_OK(ctx, mk_spec_load(ctx, spec_file("s.yaml", text), &spec));
    for (size_t i = 0; spec && i < mk_spec_n_outside(spec); i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "; " : "",
                 mk_spec_outside(spec, i));
    if (spec && strcmp(got, expected)) {
        fprintf(stderr, "  outside of:\n%s  is \"%s\"\n  expected \"%s\"\n", text, got, expected);
        unit_failed_checks++;
    }
    mk_spec_free(spec);
    mk_ctx_free(ctx);
}

/* A whole ${NAME} the environment sets is the user's for the kernel only: the spec's author
 * chooses NAME, and many are predictable (HOME, GOOGLE_APPLICATION_CREDENTIALS). */
static void test_outside_env(void)
{
    setup();
    setenv("SPEC_TEST_K", "/kernels/k.elf", 1);
    setenv("SPEC_TEST_REL", "../k.elf", 1);
    setenv("SPEC_TEST_SUB", "sub", 1);
    setenv("SPEC_TEST_EMPTY", "", 1);
    setenv("SPEC_TEST_CREDS", "/home/u/.config/gcloud/key.json", 1);
    setenv("HOME", "/home/u", 1);
    unsetenv("SPEC_TEST_NOPE");
    expect_outside("image: {kernel: '${SPEC_TEST_K}'}\n", "");
    expect_outside("image: {kernel: '${SPEC_TEST_K:-x}'}\n", "");
    expect_outside("image: {kernel: '${SPEC_TEST_REL}'}\n", "");
    expect_outside("image: {kernel: '${SPEC_TEST_NOPE:-/etc/shadow}'}\n",
                   "'kernel' in image at line 1: /etc/shadow (written as "
                   "${SPEC_TEST_NOPE:-/etc/shadow})");
    expect_outside("image: {kernel: '${SPEC_TEST_EMPTY:-../k}'}\n",
                   "'kernel' in image at line 1: ../k (written as ${SPEC_TEST_EMPTY:-../k})");
    expect_outside("image: {kernel: '${SPEC_TEST_SUB}/../../etc/k'}\n",
                   "'kernel' in image at line 1: sub/../../etc/k (written as "
                   "${SPEC_TEST_SUB}/../../etc/k)");
    expect_outside("image: {kernel: '${SPEC_TEST_K}/../k'}\n",
                   "'kernel' in image at line 1: /kernels/k.elf/../k (written as "
                   "${SPEC_TEST_K}/../k)");
    expect_outside("image:\n  kernel: k\n  modules: ['${SPEC_TEST_REL}']\n"
                   "  files: [{src: '${SPEC_TEST_CREDS}', dest: /k}, {src: '${HOME}', dest: /h}]\n"
                   "  template: '${SPEC_TEST_K}'\n"
                   "output: '${SPEC_TEST_K}'\n",
                   "'template' in image at line 5: /kernels/k.elf (written as ${SPEC_TEST_K}); "
                   "image.modules item 1 at line 3: ../k.elf (written as ${SPEC_TEST_REL}); "
                   "'src' in image.files item 1 at line 4: /home/u/.config/gcloud/key.json "
                   "(written as ${SPEC_TEST_CREDS}); "
                   "'src' in image.files item 2 at line 4: /home/u (written as ${HOME}); "
                   "output item 1 at line 6: /kernels/k.elf (written as ${SPEC_TEST_K})");
}

/* A symbolic link in the folder (a cloned repository's, say) is the spec author's too. */
static void test_outside_symlinks(void)
{
    char elsewhere[128], real[PATH_MAX], path[PATH_MAX + 32], want[4 * PATH_MAX + 512];
    FILE *f;

    setup();
    snprintf(elsewhere, sizeof(elsewhere), "%s.elsewhere", dir);
    CHECK_EQ(mkdir(elsewhere, 0700), 0);
    CHECK(realpath(elsewhere, real) != NULL);
    snprintf(path, sizeof(path), "%s/secret", real);
    CHECK((f = fopen(path, "w")) != NULL && fclose(f) == 0);
    spec_file("notes.txt", "mine\n");
    snprintf(path, sizeof(path), "%s/key", dir);
    snprintf(want, sizeof(want), "%s/secret", real);
    CHECK_EQ(symlink(want, path), 0);
    snprintf(path, sizeof(path), "%s/out", dir);
    CHECK_EQ(symlink(real, path), 0);
    snprintf(path, sizeof(path), "%s/inside", dir);
    CHECK_EQ(symlink("notes.txt", path), 0);

    expect_outside("image:\n  kernel: inside\n  files: [{src: ./inside, dest: /n}]\n"
                   "output: inside.raw\n", "");
    snprintf(want, sizeof(want),
             "'kernel' in image at line 2: key (a symbolic link to %s/secret); "
             "'src' in image.files item 1 at line 3: key (a symbolic link to %s/secret); "
             "output item 1 at line 4: out/disk.raw (its folder is %s, through a symbolic link)",
             real, real, real);
    expect_outside("image:\n  kernel: key\n  files: [{src: key, dest: /k}]\n"
                   "output: out/disk.raw\n", want);
}

static void cleanup(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.elsewhere'", dir, dir);
    CHECK_EQ(system(cmd), 0);
}

UNIT_MAIN(UNIT_TEST(test_levenshtein), UNIT_TEST(test_full_model), UNIT_TEST(test_shorthands),
          UNIT_TEST(test_key_errors), UNIT_TEST(test_type_errors), UNIT_TEST(test_missing),
          UNIT_TEST(test_yaml_errors), UNIT_TEST(test_env), UNIT_TEST(test_unreadable),
          UNIT_TEST(test_validate_inputs), UNIT_TEST(test_outside_env),
          UNIT_TEST(test_outside_symlinks), UNIT_TEST(cleanup))
