/* test_uploader_options.c: the built-in uploaders' option tables: whether a key takes a value
 * (what `push` reads instead of the help text), and the help text made from a table. */
#include "uploader.h"
#include "unit.h"

static void test_arity(void)
{
    CHECK_EQ(mk_uploader_option_arity("gce", "project"), 1);
    CHECK_EQ(mk_uploader_option_arity("gce", "--bucket"), 1);
    CHECK_EQ(mk_uploader_option_arity("gce", "replace"), 0);
    CHECK_EQ(mk_uploader_option_arity("gce", "insecure"), 0);
    CHECK_EQ(mk_uploader_option_arity("gce", "bogus"), -1);
    CHECK_EQ(mk_uploader_option_arity("openstack", "replace"), 0);
    CHECK_EQ(mk_uploader_option_arity("openstack", "cloud"), 1);
    CHECK_EQ(mk_uploader_option_arity("openstack", "project"), -1);
    CHECK_EQ(mk_uploader_option_arity("no-such-uploader-here", "x"), -1);
}

/* Every key a built-in's table declares is one its set_option knows, with the same arity:
 * a flag accepts no value, an option with a value refuses none. */
static void test_tables_match_set_option(void)
{
    for (size_t i = 0; mk_uploaders[i]; i++) {
        const struct mk_uploader *u = mk_uploaders[i];
        void *state = NULL;
        struct mk_ctx *ctx = mk_ctx_new();

        CHECK(u->options != NULL);
        CHECK_OK(ctx, u->create(ctx, &state));
        for (const struct mk_uploader_option *o = u->options; o && o->name; o++) {
            int r = u->set_option(ctx, state, o->name, NULL);

            if (r == MK_EUNSUPPORTED || (o->arg ? r == MK_OK : r < 0))
                fprintf(stderr, "  %s --%s: %s\n", u->name, o->name, mk_errmsg(ctx));
            CHECK(r != MK_EUNSUPPORTED);
            CHECK(o->arg ? r < 0 : r == MK_OK);
        }
        u->destroy(state);
        mk_ctx_free(ctx);
    }
}

static void test_text(void)
{
    static const struct mk_uploader_option opts[] = {
        {.name = "dir", .arg = "PATH", .help = "the folder\nsecond line"},
        {.name = "alias", .arg = "X"},
        {.name = "tag", .arg = "T", .help = "a tag", .repeat = true},
        {.name = "force", .help = ""},
        {0},
    };
    char *t = mk_uploader_options_text(opts);

    CHECK_STR(t, "  --dir PATH  the folder\n"
                 "              second line\n"
                 "  --tag T     a tag (repeatable)\n"
                 "  --force\n");
    free(t);
    CHECK(strstr(mk_uploader_usage("gce"), "\n  --replace                replace an existing"));
    CHECK(!strstr(mk_uploader_usage("openstack"), "--cloud "));
}

UNIT_MAIN(UNIT_TEST(test_arity), UNIT_TEST(test_tables_match_set_option), UNIT_TEST(test_text))
