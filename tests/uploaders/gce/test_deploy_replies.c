/* test_deploy_replies.c: a managed instance group's answers read apart from the wait: its
 * instances (gce_managed_read), how far a rollout is and autohealing seen across polls
 * (gce_group_read), and its listErrors (gce_group_errors). */
#include "deploy.h"
#include "unit.h"

#define BASE "https://compute.example/compute/v1/projects/p/"

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    CHECK(j != NULL);
    return j;
}

/* One of managedInstances, as fake_gce_mig.py writes it. */
static char *instance(const char *name, const char *action, const char *template,
                      const char *health)
{
    static char buf[8][1024];
    static int n;
    char *b = buf[n++ % 8];

    snprintf(b, sizeof(buf[0]),
             "{\"instance\": \"" BASE "zones/europe-west1-b/instances/%s\", \"currentAction\": "
             "\"%s\", \"name\": \"%s\", \"id\": \"42\", \"instanceStatus\": \"RUNNING\", "
             "\"version\": {\"instanceTemplate\": \"" BASE "global/instanceTemplates/%s\"}%s%s%s}",
             name, action, name, template,
             health ? ", \"instanceHealth\": [{\"healthCheck\": \"" BASE
                      "global/healthChecks/web-hc\", \"detailedHealthState\": \"" : "",
             health ? health : "", health ? "\"}]" : "");
    return b;
}

static void managed(void)
{
    struct gce_managed m;
    json_t *j;

    j = load(instance("web-x1b2", "NONE", "web-20240101-abc123", "HEALTHY"));
    gce_managed_read(j, &m);
    CHECK_STR(m.name, "web-x1b2");
    CHECK_STR(m.zone, "europe-west1-b");
    CHECK_STR(m.status, "RUNNING");
    CHECK_STR(m.health, "HEALTHY");
    CHECK_STR(m.template, "web-20240101-abc123");
    CHECK_STR(m.action, "NONE");
    CHECK_STR(m.url, BASE "zones/europe-west1-b/instances/web-x1b2");
    json_decref(j);
    /* Being created: no name, no status, no health yet. */
    j = load("{\"instance\": \"" BASE "zones/us-east1-c/instances/web-q9\", "
             "\"currentAction\": \"CREATING\"}");
    gce_managed_read(j, &m);
    CHECK_STR(m.name, "web-q9");
    CHECK_STR(m.zone, "us-east1-c");
    CHECK_STR(m.status, "-");
    CHECK_STR(m.health, "-");
    CHECK_STR(m.template, "");
    json_decref(j);
    j = load("{}");
    gce_managed_read(j, &m);
    CHECK_STR(m.name, "");
    CHECK_STR(m.zone, "");
    CHECK_STR(m.action, "");
    json_decref(j);
    /* A zone no GCE would name is no zone: too long (it was cut to 63 bytes, and could end
     * in half a UTF-8 character), non-ASCII, or a path step. */
    static const char *const bad_zones[] = {
        "a123456789012345678901234567890123456789012345678901234567890123",
        "europe-west1-\u00e9\u00e9", "..", "Europe-west1-b", "zone%2f..", ""};
    for (size_t i = 0; i < sizeof(bad_zones) / sizeof(bad_zones[0]); i++) {
        char text[512];

        snprintf(text, sizeof(text), "{\"instance\": \"" BASE "zones/%s/instances/web-q9\"}",
                 bad_zones[i]);
        j = load(text);
        gce_managed_read(j, &m);
        CHECK_STR(m.zone, "");
        CHECK_STR(m.name, "web-q9");
        json_decref(j);
    }
    j = load("{\"instance\": \"" BASE "zones/a12345678901234567890123456789012345678901234567890"
             "123456789012/instances/web-q9\"}");
    gce_managed_read(j, &m);
    CHECK_STR(m.zone, "a12345678901234567890123456789012345678901234567890123456789012");
    json_decref(j);
}

static json_t *list_of(const char *a, const char *b, const char *c)
{
    char text[4096];

    snprintf(text, sizeof(text), "{\"managedInstances\": [%s, %s, %s]}", a, b, c);
    return load(text);
}

static void rollout(void)
{
    json_t *seen = json_object(), *failing = NULL, *grp, *list;
    struct gce_group_counts c;
    int autoheals = 0;

    grp = load("{\"kind\": \"compute#instanceGroupManager\", \"name\": \"web\", "
               "\"targetSize\": 3, \"status\": {\"isStable\": false, \"versionTarget\": "
               "{\"isReached\": false}}}");
    list = list_of(instance("a", "NONE", "old", "HEALTHY"),
                   instance("b", "VERIFYING", "new", "UNKNOWN"),
                   instance("c", "CREATING", "new", NULL));
    gce_group_read(grp, list, "new", seen, &autoheals, &c, &failing);
    CHECK_EQ(c.target, 3);
    CHECK_EQ(c.on_new, 2);
    CHECK_EQ(c.ready, 0);
    CHECK_EQ(c.verifying, 1);
    CHECK_EQ(c.creating, 1);
    CHECK(!c.done && failing == NULL);
    json_decref(list);
    /* b fails its health check, then autohealing recreates it: one autoheal. */
    list = list_of(instance("a", "DELETING", "old", NULL),
                   instance("b", "NONE", "new", "UNHEALTHY"),
                   instance("c", "NONE", "new", "HEALTHY"));
    gce_group_read(grp, list, "new", seen, &autoheals, &c, &failing);
    CHECK_EQ(c.deleting, 1);
    CHECK_EQ(c.ready, 2);
    CHECK(failing != NULL);
    CHECK_STR(json_string_value(json_object_get(failing, "name")), "b");
    CHECK_EQ(autoheals, 0);
    json_decref(failing);
    failing = NULL;
    json_decref(list);
    list = list_of(instance("b", "RECREATING", "new", NULL),
                   instance("c", "NONE", "new", "HEALTHY"),
                   instance("d", "REFRESHING", "new", "HEALTHY"));
    gce_group_read(grp, list, "new", seen, &autoheals, &c, &failing);
    CHECK_EQ(autoheals, 1);
    CHECK_EQ(c.recreating, 1);
    CHECK_EQ(c.other, 1);
    CHECK(failing == NULL);
    json_decref(list);
    json_decref(grp);
    /* Reached, stable, every instance ready on the template. */
    grp = load("{\"targetSize\": 3, \"status\": {\"isStable\": true, \"versionTarget\": "
               "{\"isReached\": true}}}");
    list = list_of(instance("b", "NONE", "new", "HEALTHY"), instance("c", "NONE", "new", NULL),
                   instance("d", "NONE", "new", "HEALTHY"));
    gce_group_read(grp, list, "new", seen, &autoheals, &c, &failing);
    CHECK(c.done);
    json_decref(list);
    /* Stable, but one instance still on the old template. */
    list = list_of(instance("b", "NONE", "new", "HEALTHY"), instance("c", "NONE", "old", NULL),
                   instance("d", "NONE", "new", "HEALTHY"));
    gce_group_read(grp, list, "new", seen, &autoheals, &c, &failing);
    CHECK(!c.done);
    json_decref(list);
    json_decref(grp);
    /* Nothing readable: nothing counted. */
    gce_group_read(NULL, NULL, "new", seen, &autoheals, &c, &failing);
    CHECK(c.target == 0 && c.on_new == 0 && !c.done);
    json_decref(seen);
}

static void errors(void)
{
    json_t *list;
    char first[256] = "";
    int total = -1;

    list = load("{\"items\": ["
                "{\"instanceActionDetails\": {\"action\": \"CREATING\", \"version\": "
                "{\"instanceTemplate\": \"" BASE "global/instanceTemplates/old\"}}, \"error\": "
                "{\"code\": \"ZONE_RESOURCE_POOL_EXHAUSTED\", \"message\": \"old\"}},"
                "{\"instanceActionDetails\": {\"action\": \"CREATING\", \"version\": "
                "{\"instanceTemplate\": \"" BASE "global/instanceTemplates/new\"}}, \"error\": "
                "{\"code\": \"QUOTA_EXCEEDED\", \"message\": \"Quota 'CPUS' exceeded.\"}},"
                "{\"instanceActionDetails\": {\"version\": {\"instanceTemplate\": \"" BASE
                "global/instanceTemplates/new\"}}, \"error\": {\"code\": \"X\"}}]}");
    CHECK_EQ(gce_group_errors(list, "new", 0, &total, first, sizeof(first)), 2);
    CHECK_EQ(total, 3);
    CHECK_STR(first, "QUOTA_EXCEEDED: Quota 'CPUS' exceeded.");
    /* Those before the wait began do not count. */
    CHECK_EQ(gce_group_errors(list, "new", 2, &total, first, sizeof(first)), 1);
    CHECK_STR(first, "X: ");
    CHECK_EQ(gce_group_errors(list, "new", 1 << 30, &total, first, sizeof(first)), 0);
    CHECK_EQ(total, 3);
    json_decref(list);
    list = load("{}");
    CHECK_EQ(gce_group_errors(list, "new", 0, &total, first, sizeof(first)), 0);
    CHECK_EQ(total, 0);
    json_decref(list);
}

UNIT_MAIN(UNIT_TEST(managed), UNIT_TEST(rollout), UNIT_TEST(errors))
