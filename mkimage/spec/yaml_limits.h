/* yaml_limits.h: the bounds every YAML file we read must keep (image specs, clouds.yaml,
 * secure.yaml). libyaml resolves an alias to a shared node, so a few hundred bytes of
 * aliases and merge keys describe billions of nodes to whoever walks them; and it takes
 * quadratic time on deep nesting. Errors are "PATH:LINE:COL: too many aliases ...". */
#ifndef MK_YAML_LIMITS_H
#define MK_YAML_LIMITS_H

#include "mk_private.h"

#ifdef MK_HAVE_YAML
#include <yaml.h>

#define MK_YAML_MAX_DEPTH 64       /* nested sequences and mappings */
#define MK_YAML_MAX_KEYS 10000     /* keys in one mapping */
#define MK_YAML_MAX_NODES 100000   /* nodes once every alias is expanded */
#define MK_YAML_STR_(x) #x
#define MK_YAML_STR(x) MK_YAML_STR_(x)

/* Before loading: nesting depth and keys per mapping, on the event stream (stops at the
 * first excess). Syntax errors are left to the loader, which reports them. */
int mk_yaml_precheck(struct mk_ctx *ctx, const char *path, const char *text, size_t len);
/* After loading: the document expanded (aliases followed, merge keys included) holds at
 * most MK_YAML_MAX_NODES nodes, nested at most MK_YAML_MAX_DEPTH deep, and no alias
 * refers to a node that contains it. */
int mk_yaml_check_document(struct mk_ctx *ctx, const char *path, yaml_document_t *doc);

#endif

#endif
