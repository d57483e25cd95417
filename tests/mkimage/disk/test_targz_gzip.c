/* test_targz_gzip.c: the archive check's gzip layer, whose CRC-32 and length checks are
 * ours (zlib's check is switched off for speed): a damaged trailer is caught, back-to-back
 * members are read, and the answer does not depend on how the bytes are cut into pieces
 * (a trailer split across two pieces). */
#include <zlib.h>

#include "disk_private.h"
#include "unit.h"

/* A tar stream holding only its end (two zero blocks, padded to a record): a valid archive
 * with no member, which the check reports as such, and nothing else. */
#define TAR_LEN 10240

struct pieces {
    const uint8_t *data;
    size_t len, off, piece;
};

static int pull_pieces(struct mk_ctx *ctx, void *opaque, const uint8_t **data, size_t *len)
{
    struct pieces *p = opaque;

    (void)ctx;
    *data = p->data + p->off;
    *len = MK_MIN(p->piece, p->len - p->off);
    p->off += *len;
    return MK_OK;
}

/* gzip of (len) bytes of (src), one member, into (out); its length. */
static size_t gzip_member(const uint8_t *src, size_t len, uint8_t *out, size_t cap)
{
    z_stream zs = {0};
    size_t n;

    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

/* The problems the check reports for (gz), read in pieces of (piece) bytes. */
static char *problems_of(const uint8_t *gz, size_t len, size_t piece)
{
    struct mk_ctx ctx = {0};
    struct mk_buf problems = MK_BUF_INIT;
    struct pieces p = {.data = gz, .len = len, .piece = piece};

    CHECK_OK(&ctx, mk_targz_check_pull(&ctx, pull_pieces, &p, "t.tar.gz", false, &problems));
    return problems.buf ? problems.buf : strdup("");
}

static void check_all_cuts(const uint8_t *gz, size_t len, bool want_corrupt)
{
    static const size_t cuts[] = {1, 3, 7, 8, 9, 64, 4096, 1 << 20};

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *text = problems_of(gz, len, cuts[i]);

        if ((strstr(text, "corrupt") != NULL) != want_corrupt)
            fprintf(stderr, "  pieces of %zu: \"%s\"\n", cuts[i], text);
        CHECK((strstr(text, "corrupt") != NULL) == want_corrupt);
        CHECK(strstr(text, "holds no file") != NULL || want_corrupt);
        free(text);
    }
}

static uint8_t tar[TAR_LEN], gz[2 * TAR_LEN];

static void test_intact(void)
{
    check_all_cuts(gz, gzip_member(tar, TAR_LEN, gz, sizeof(gz)), false);
}

static void test_bad_crc(void)
{
    size_t n = gzip_member(tar, TAR_LEN, gz, sizeof(gz));

    gz[n - 8] ^= 1;
    check_all_cuts(gz, n, true);
}

static void test_bad_length(void)
{
    size_t n = gzip_member(tar, TAR_LEN, gz, sizeof(gz));

    gz[n - 1] ^= 0x80;
    check_all_cuts(gz, n, true);
}

static void test_two_members(void)
{
    size_t n = gzip_member(tar, 5000, gz, sizeof(gz));

    n += gzip_member(tar + 5000, TAR_LEN - 5000, gz + n, sizeof(gz) - n);
    /* The second member's start must be seen in the same piece as the first one's end. */
    char *text = problems_of(gz, n, 1 << 20);
    CHECK(strstr(text, "corrupt") == NULL);
    free(text);
    gz[n - 5] ^= 1; /* the second member's CRC */
    text = problems_of(gz, n, 1 << 20);
    CHECK(strstr(text, "corrupt") != NULL);
    free(text);
}

UNIT_MAIN(UNIT_TEST(test_intact), UNIT_TEST(test_bad_crc), UNIT_TEST(test_bad_length),
          UNIT_TEST(test_two_members))
