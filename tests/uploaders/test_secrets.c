/* test_secrets.c: once credentials are about to be read, the process cannot be dumped and
 * jansson keeps working with the wiping allocator (blocks from before included). */
#include <sys/prctl.h>

#include <jansson.h>

#include "unit.h"
#include "uploader.h"

static void test_hold_secrets(void)
{
    json_t *before = json_pack("{s:s}", "password", "hunter2");

    CHECK_EQ(prctl(PR_GET_DUMPABLE), 1);
    mk_hold_secrets();
    mk_hold_secrets();
    CHECK_EQ(prctl(PR_GET_DUMPABLE), 0);
    json_t *after = json_loads("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\"}", 0, NULL);
    CHECK(after != NULL);
    char *text = json_dumps(before, JSON_COMPACT);
    CHECK_STR(text, "{\"password\":\"hunter2\"}");
    free(text);
    json_decref(before); /* allocated before the switch, freed after it */
    json_decref(after);
}

UNIT_MAIN(UNIT_TEST(test_hold_secrets))
