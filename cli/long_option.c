/* long_option.c: the "--KEY", "--KEY=VALUE" and "--KEY VALUE" arguments of the commands
 * whose options come from a table at run time (push, run, deploy), not from getopt. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

bool cli_option_key(const char *arg, char *key, size_t size, const char **ret_inline)
{
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

    *ret_inline = eq ? eq + 1 : NULL;
    snprintf(key, size, "%.*s", (int)(len < size ? len : size - 1), arg + 2);
    return len < size;
}

int cli_option_value(const char *where, const char *key, int arity, const char *inline_value,
                     int argc, char **argv, int *i, const char **ret)
{
    *ret = inline_value;
    if (inline_value || !arity)
        return 0;
    if (*i + 1 >= argc)
        return cli_usage_error(where, "option --%s needs a value", key);
    *ret = argv[++*i];
    return 0;
}
