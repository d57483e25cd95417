/* yaml_limits.c: see yaml_limits.h. */
#include <stdlib.h>

#include "yaml_limits.h"

#ifdef MK_HAVE_YAML

static int limit_error(struct mk_ctx *ctx, const char *path, yaml_mark_t mark, const char *what)
{
    return mk_set_error(ctx, MK_ECONFIG, "%s:%zu:%zu: %s", path, mark.line + 1,
                        mark.column + 1, what);
}

int mk_yaml_precheck(struct mk_ctx *ctx, const char *path, const char *text, size_t len)
{
    size_t keys[MK_YAML_MAX_DEPTH + 1] = {0}; /* events seen in each open mapping */
    bool is_map[MK_YAML_MAX_DEPTH + 1] = {false};
    yaml_parser_t parser;
    yaml_event_t e;
    int depth = 0, r = MK_OK;
    long n = 0;

    if (!yaml_parser_initialize(&parser))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (r == MK_OK && yaml_parser_parse(&parser, &e)) {
        bool end = e.type == YAML_STREAM_END_EVENT;

        if (++n % 4096 == 0)
            r = mk_check_cancel(ctx);
        /* A value in a mapping: every second node event inside it is a key. */
        if (r == MK_OK && depth && is_map[depth] &&
            (e.type == YAML_SCALAR_EVENT || e.type == YAML_ALIAS_EVENT ||
             e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT) &&
            ++keys[depth] > 2 * MK_YAML_MAX_KEYS)
            r = limit_error(ctx, path, e.start_mark, "too many keys in one mapping (the limit "
                            "is " MK_YAML_STR(MK_YAML_MAX_KEYS) ")");
        if (r == MK_OK &&
            (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT)) {
            if (++depth > MK_YAML_MAX_DEPTH)
                r = limit_error(ctx, path, e.start_mark, "nested too deep (the limit is "
                                MK_YAML_STR(MK_YAML_MAX_DEPTH) " levels)");
            else {
                keys[depth] = 0;
                is_map[depth] = e.type == YAML_MAPPING_START_EVENT;
            }
        } else if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&e);
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    return r;
}

struct expand {
    struct mk_ctx *ctx;
    const char *path;
    yaml_document_t *doc;
    size_t *size; /* per node: expanded size; 0 = not yet, SIZE_MAX = being computed */
    size_t visits;
};

static size_t node_size(struct expand *x, yaml_node_item_t item, int depth, int *r)
{
    yaml_node_t *n = yaml_document_get_node(x->doc, item);
    size_t i, total = 1;

    if (!n || *r < 0)
        return 0;
    i = (size_t)(n - x->doc->nodes.start);
    if (x->size[i] == SIZE_MAX) {
        *r = limit_error(x->ctx, x->path, n->start_mark, "an alias refers to a node that "
                         "contains it");
        return 0;
    }
    if (x->size[i])
        return x->size[i];
    if (depth > MK_YAML_MAX_DEPTH) {
        *r = limit_error(x->ctx, x->path, n->start_mark, "nested too deep once aliases are "
                         "expanded (the limit is " MK_YAML_STR(MK_YAML_MAX_DEPTH) " levels)");
        return 0;
    }
    if (++x->visits % 4096 == 0 && (*r = mk_check_cancel(x->ctx)) < 0)
        return 0;
    x->size[i] = SIZE_MAX;
    if (n->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *c = n->data.sequence.items.start;
             c < n->data.sequence.items.top && *r == MK_OK && total <= MK_YAML_MAX_NODES; c++)
            total += node_size(x, *c, depth + 1, r);
    else if (n->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top && *r == MK_OK && total <= MK_YAML_MAX_NODES; p++)
            total += node_size(x, p->key, depth + 1, r) + node_size(x, p->value, depth + 1, r);
    if (*r == MK_OK && total > MK_YAML_MAX_NODES)
        *r = limit_error(x->ctx, x->path, n->start_mark, "too many aliases: the document "
                         "expands to more than " MK_YAML_STR(MK_YAML_MAX_NODES) " nodes");
    x->size[i] = total;
    return total;
}

int mk_yaml_check_document(struct mk_ctx *ctx, const char *path, yaml_document_t *doc)
{
    size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
    struct expand x = {.ctx = ctx, .path = path, .doc = doc};
    int r = MK_OK;

    if (!n)
        return MK_OK;
    if (!(x.size = calloc(n, sizeof(*x.size))))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    node_size(&x, 1, 0, &r); /* node 1 is the root */
    free(x.size);
    return r;
}

#endif
