/* fuzz_http.h: server answers as the reply harnesses make them from the fuzzer's bytes. */
#ifndef MK_FUZZ_HTTP_H
#define MK_FUZZ_HTTP_H

#include "fuzz.h"
#include "http.h"

/* (resp), initialised here, with (status), the header lines of (data) up to its first blank
 * line and the rest as the body; with no blank line all of it is the body. */
static inline void fuzz_resp(struct mk_http_resp *resp, long status, const uint8_t *data,
                             size_t size)
{
    const uint8_t *blank = memmem(data, size, "\r\n\r\n", 4);
    size_t head = blank ? (size_t)(blank - data) + 2 : 0, skip = blank ? head + 2 : 0;

    mk_http_resp_init(resp);
    resp->status = status;
    if (mk_buf_add(&resp->headers, data, head) < 0 ||
        mk_buf_add(&resp->body, data + skip, size - skip) < 0)
        abort();
}

/* (data) read as an error answer, as every caller does with a refusal: one line, never
 * empty, whatever the body. */
static inline void fuzz_error_text(long status, const uint8_t *data, size_t size)
{
    struct mk_http_resp resp;
    char text[600];

    mk_http_resp_init(&resp);
    resp.status = status;
    if (mk_buf_add(&resp.body, data, size) < 0)
        abort();
    mk_http_error_text(&resp, text, sizeof(text));
    if (!text[0] || strchr(text, '\n'))
        abort();
    mk_http_resp_release(&resp);
}

#endif
