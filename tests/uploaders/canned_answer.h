/* canned_answer.h: a server's answer made by hand, for the unit tests of the functions that
 * read answers apart from the calls (gcs_parse_answer, glance_parse_*). */
#ifndef MK_TEST_CANNED_ANSWER_H
#define MK_TEST_CANNED_ANSWER_H

#include "http.h"

/* (resp), initialised here, as a server sends it: (headers), "Name: value" lines each ending
 * in CRLF, after a status line, or no header block at all when NULL; then (body). */
static inline void canned_answer(struct mk_http_resp *resp, long status, const char *headers,
                                 const char *body)
{
    mk_http_resp_init(resp);
    resp->status = status;
    if (headers)
        mk_buf_addf(&resp->headers, "HTTP/1.1 %ld X\r\n%s\r\n", status, headers);
    mk_buf_adds(&resp->body, body);
}

#endif
