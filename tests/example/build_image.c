/* build_image.c: a program that uses the installed library through its public header only:
 * builds a bootable raw image of a kernel with a command line. */
#include <stdio.h>

#include <unikernel-mkimage/mkimage.h>

int main(int argc, char **argv)
{
    struct mk_build_opts opts = {0};
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx;
    int rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s OUTPUT KERNEL [ARGS...]\n", argv[0]);
        return 2;
    }
    ctx = mk_ctx_new();
    if (!ctx)
        return 1;
    opts.kernel = argv[2];
    opts.kernel_args = (const char *const *)argv + 3;
    opts.n_kernel_args = (size_t)(argc - 3);
    opts.mtime = -1;
    if (mk_parse_size(ctx, "64M", &opts.disk_size) < 0 || mk_build(ctx, &opts, &disk) < 0 ||
        mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, argv[1]) < 0) {
        fprintf(stderr, "build_image: %s (%s)\n", mk_errmsg(ctx), mk_strerror(mk_errcode(ctx)));
        rc = 1;
    }
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    return rc;
}
