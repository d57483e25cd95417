/* gce_private.h: what the Google Compute Engine uploader's files share (gce*.c, gcs.c,
 * compute.c). */
#ifndef MK_GCE_PRIVATE_H
#define MK_GCE_PRIVATE_H

#include <stdbool.h>

#include <jansson.h>

#include "http.h"
#include "uploader.h"

#define GCE_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define GCE_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define GCE_DEFAULT_STORAGE "https://storage.googleapis.com"
#define GCE_DEFAULT_COMPUTE "https://compute.googleapis.com/compute/v1/"
#define GCS_CHUNK_UNIT (256u << 10)

/* ---- encodings and signing (gce_jwt.c) ---- */
/* Initialises libgcrypt once, unless the program already has. */
void gce_gcry_init(void);
int gce_base64(struct mk_buf *b, const void *data, size_t len);
/* base64url without padding, as JWTs want. */
int gce_base64url(struct mk_buf *b, const void *data, size_t len);
/* Decodes a PEM block ("PRIVATE KEY" = PKCS#8 or "RSA PRIVATE KEY" = PKCS#1) into DER. */
int gce_pem_decode(struct mk_ctx *ctx, const char *pem, struct mk_buf *der);
/* Signs base64url(header).base64url(claims) with RS256 using the PEM key; (*ret) is the
 * complete JWT, malloc'ed. */
int gce_jwt_sign(struct mk_ctx *ctx, const char *pem, const char *kid, const char *claims,
                 char **ret);

/* ---- credentials (gce_auth.c) ---- */
struct gce_auth;

/* Finds credentials in Google's order: (path), GOOGLE_APPLICATION_CREDENTIALS, gcloud's
 * application_default_credentials.json, the metadata server. Types: service_account,
 * authorized_user, external_account, impersonated_service_account. No network use yet
 * (except the metadata server's project). */
int gce_auth_new(struct mk_ctx *ctx, struct mk_http *http, const char *path,
                 struct gce_auth **ret);
/* Makes (*auth) the source of an impersonation of the service account (email)
 * (--impersonate-service-account, gcloud's auth/impersonate_service_account): tokens come
 * from IAM Credentials' generateAccessToken, called with (*auth)'s. The endpoint is
 * CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS when set. */
int gce_auth_impersonate(struct mk_ctx *ctx, struct gce_auth **auth, const char *email);
/* The project the credentials name, or NULL. Never an authorized_user's quota project. */
const char *gce_auth_project(const struct gce_auth *auth);
/* "service account a@b (from FILE)", for messages. */
const char *gce_auth_describe(const struct gce_auth *auth);
/* The endpoint that receives the key's signed assertion or the refresh token; NULL for the
 * metadata server. */
const char *gce_auth_token_uri(const struct gce_auth *auth);
/* A current access token: fetched or refreshed when missing, within a minute of expiry, or
 * when (force) (after a 401). MK_EAUTH when refused. The token stays owned by (auth). */
int gce_auth_token(struct mk_ctx *ctx, struct gce_auth *auth, bool force, const char **ret);
void gce_auth_free(struct gce_auth *auth);

/* ---- checksums (gcs.c) ---- */
/* CRC-32C (Castagnoli); start with crc = 0 and chain calls. */
uint32_t gce_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- gcloud's configuration (gce_gcloud.c) ---- */
struct gce_gcloud {
    char *project;     /* core/project */
    char *zone;        /* compute/zone */
    char *region;      /* compute/region */
    char *impersonate; /* auth/impersonate_service_account */
    char *config_file; /* the active configuration's file (it may not exist) */
};
/* gcloud's folder: CLOUDSDK_CONFIG or ~/.config/gcloud. */
int gce_gcloud_dir(struct mk_buf *out);
/* Reads the active configuration and the CLOUDSDK_* variables that override it. A missing
 * configuration is no error (all NULL). */
int gce_gcloud_load(struct mk_ctx *ctx, struct gce_gcloud *gcloud);
void gce_gcloud_release(struct gce_gcloud *gcloud);

/* ---- the uploader's state (gce.c) ---- */
struct gcs_upload;

struct gce {
    /* options */
    char *project, *bucket, *object, *name, *family, *description, *storage_location;
    char *credentials, *storage_endpoint, *compute_endpoint, *zone, *machine_type;
    char *boot_check, *cacert, *state_dir;
    char *object_prefix; /* from --bucket gs://B/PREFIX/, with its trailing '/' */
    char *impersonate;   /* --impersonate-service-account */
    /* --source-uri gs://B/O: the image is made from this object, the user's: nothing is
     * uploaded and the object is never deleted. */
    char *source_bucket, *source_object;
    char **labels, **features, **licenses;
    size_t n_labels, n_features, n_licenses;
    bool replace, keep_object, create_bucket, insecure, no_resume;
    /* The buffer of a stream made on the fly; for a file, a cap on each request only when
     * given (a file is re-read after a failure, so one request can carry it all). */
    uint64_t chunk_size;
    bool chunk_size_given;
    double timeout, boot_timeout, backoff, stall_timeout;
    int max_tries;

    /* run state */
    struct gce_gcloud gcloud;
    struct mk_http *http;
    struct gce_auth *auth;
    char *storage_base;  /* no trailing slash */
    char *compute_base;  /* with trailing slash */
    char *source_path;
    struct gcs_upload *up;
    bool object_complete; /* the staged object exists */
    bool image_created;
    json_t *object_json;
    json_t *image_json;
    /* the push's own state across runs (push_state.c) */
    char *push_path;
    json_t *push;
    bool resuming;      /* the image was asked for by an earlier run: nothing to upload */
    bool object_in_use; /* an images.insert may be reading the staged object */
    bool object_ours;   /* this push made the staged object (or an earlier run of it did) */
    bool op_done;       /* the last operation waited for was seen DONE */
};

/* ---- the image steps of a push (gce_image.c) ---- */
/* With the push state loaded: whether an earlier run of this push asked for its images
 * (then g->resuming: nothing is uploaded, finish waits for them). */
int gce_push_recognise(struct mk_ctx *ctx, struct gce *g);
/* Creates the image from the staged object, or replaces an existing one without ever
 * losing it, or finishes what an earlier run started; errors say which images exist. */
int gce_push_images(struct mk_ctx *ctx, struct gce *g);

/* ---- state across runs (push_state.c) ---- */
/* The path of a state file for (key) in the state folder (--state-dir, $XDG_STATE_HOME or
 * ~/.local/state /unikernel-mkimage), or NULL in (*ret) when there is none. */
int gce_state_file(struct mk_ctx *ctx, const struct gce *g, const char *prefix,
                   const char *key, char **ret);
/* Writes (state) to (path) atomically, mode 0600; warns and returns MK_EIO on failure. */
int gce_state_write(struct mk_ctx *ctx, const char *path, json_t *state);
/* Loads the state of this push (source identity, project, image name), or starts one. */
int gce_push_state_open(struct mk_ctx *ctx, struct gce *g, const char *identity);
const char *gce_push_get(const struct gce *g, const char *key);
/* Sets (or with NULL removes) a key and saves the state at once. */
void gce_push_set(struct mk_ctx *ctx, struct gce *g, const char *key, const char *value);
/* The push is over: its state file goes. */
void gce_push_forget(struct gce *g);

/* Sets up the endpoints, HTTP, credentials and project of (g) from its options, and checks
 * that a token can be had (gce.c). */
int gce_connect(struct mk_ctx *ctx, struct gce *g);

/* The uploader's hooks for its options (gce_options.c). */
int gce_create(struct mk_ctx *ctx, void **ret);
int gce_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value);
void gce_destroy(void *state);
/* The options it takes (gce_options.c), for `push --list` and the command line. */
extern const struct mk_uploader_option gce_options[];

/* ---- the authenticated call (gce_call.c) ---- */
/* A JSON API call with the bearer token: retries 408/429/5xx and dropped connections with
 * backoff, refreshes the token once on a 401. MK_OK when a final response arrived (the
 * caller judges its status). (body) is JSON or NULL. */
int gce_call(struct mk_ctx *ctx, struct gce *g, const char *method, const char *url,
             const char *body, struct mk_http_resp *resp);
/* The delay before retry number (attempt) (0-based): truncated exponential with jitter. */
double gce_backoff(const struct gce *g, int attempt);
/* (resp)'s body as JSON, or an MK_EHTTP error naming (what). */
int gce_json(struct mk_ctx *ctx, const char *what, const struct mk_http_resp *resp,
             json_t **ret);

/* ---- Cloud Storage (gcs.c) ---- */
struct gcs_params {
    const char *object;
    uint64_t total;         /* bytes; 0 = not known until the end */
    const char *identity;   /* the bytes' identity, for resuming; NULL = no resume */
    const char *check_name; /* check the bytes as a GCE archive, named so; NULL = do not */
};
/* The upload session a re-run resumes (gcs_session.c): its state file's path for these
 * bytes; the session remembered there (with no token); the session for these bytes read
 * back (NULL when there is none); the file removed. */
int gcs_session_path(struct mk_ctx *ctx, struct gce *g, const struct gcs_params *p,
                     char **ret);
void gcs_session_save(struct mk_ctx *ctx, struct gce *g, const char *path, const char *session,
                      const char *object, const char *identity, uint64_t total);
char *gcs_session_load(const char *path, const struct gcs_params *p);
void gcs_session_forget(const char *path);
/* MK_ENOTFOUND "bucket B does not exist" unless (create), which creates it. */
int gcs_bucket_check(struct mk_ctx *ctx, struct gce *g, bool create);
/* Starts a resumable upload, or resumes the one a state file remembers. */
int gcs_upload_begin(struct mk_ctx *ctx, struct gce *g, const struct gcs_params *p,
                     struct gcs_upload **ret);
/* Bytes the server already holds (from a resumed session). */
uint64_t gcs_upload_offset(const struct gcs_upload *up);
/* Takes the next bytes of the object, in order from 0 (bytes the server has are skipped). */
int gcs_upload_write(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up,
                     const void *buf, size_t len);
/* Instead of gcs_upload_write(): the object is the file (fd), (size) bytes, which is read
 * as often as needed and never held in memory. Sends all but the last piece, which
 * gcs_upload_finish() sends with the checksum. */
int gcs_upload_file(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, int fd,
                    uint64_t size);
/* Sends the rest, checks the object's size and checksums; (*ret) is the Object. */
int gcs_upload_finish(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, json_t **ret);
/* Cancels the session on the server and forgets it, unless (keep) (to resume later). */
void gcs_upload_cancel(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, bool keep);
void gcs_upload_free(struct gcs_upload *up);
int gcs_object_delete(struct mk_ctx *ctx, struct gce *g, const char *object);
/* The Object resource of (object) in g->bucket; MK_ENOTFOUND when there is none. */
int gcs_object_get(struct mk_ctx *ctx, struct gce *g, const char *object, json_t **ret);
/* Cloud Storage's answer to a chunk or a status query (gcs_reply.c): 1 when the upload is
 * complete (200/201; (object) is the Object, for the caller to free), 0 when it is not (308;
 * (held) is what the server holds, from its Range), or MK_EHTTP for any other answer. */
struct gcs_answer {
    json_t *object;
    uint64_t held;
};
int gcs_parse_answer(struct mk_ctx *ctx, const struct mk_http_resp *resp,
                     struct gcs_answer *ret);

/* ---- the one pass over an upload's bytes (gcs_stream.c) ---- */
struct gcs_stream;
/* Starts the thread that hashes the bytes, and with (check_name) checks them as a GCE
 * archive. With (fd) >= 0 it reads them itself from that file, bytes [0, size); with -1
 * they are handed over with gcs_stream_publish(). */
int gcs_stream_new(struct mk_ctx *ctx, const char *check_name, int fd, uint64_t size,
                   struct gcs_stream **ret);
/* Stream bytes [base_off, filled) are at (base) and stay there until gcs_stream_sync(). */
void gcs_stream_publish(struct gcs_stream *s, const uint8_t *base, uint64_t base_off,
                        uint64_t filled);
/* Waits until every published byte was hashed (before the buffer is changed). */
void gcs_stream_sync(struct gcs_stream *s);
/* Hashes (and passes to the check) bytes that are not sent: a resumed session's. */
void gcs_stream_hash_now(struct gcs_stream *s, const void *buf, size_t len);
/* The end of the stream: its crc32c, and the check's verdict (MK_EFORMAT), or a read
 * error of the file. */
int gcs_stream_end(struct mk_ctx *ctx, struct gcs_stream *s, uint32_t *crc);
void gcs_stream_free(struct gcs_stream *s);

/* ---- Compute Engine (compute.c) ---- */
/* (b) = the compute base + "projects/PROJECT" + the formatted rest. */
int gce_project_url(struct mk_buf *b, struct gce *g, const char *fmt, ...) MK_PRINTF(3, 4);
/* Reads an Operation (an answer to a mutating call, or to polling one): (done) when its
 * status is DONE, and then its error, verbatim, is MK_EHTTP "WHAT failed: CODE: message;
 * CODE: message"; otherwise (name), and (zone) or (region) (the last part of its URL; global
 * when both are NULL) say where to poll it, all pointing into (op). An answer without a
 * name is MK_EHTTP "WHAT: the answer is not an Operation"; one whose name, zone or region
 * is not one plain path segment (letters, digits, '-', '_', '.') is MK_EHTTP too. */
struct gce_op {
    bool done;
    const char *name, *zone, *region;
};
int gce_op_read(struct mk_ctx *ctx, const char *what, json_t *op, struct gce_op *ret);
/* Polls an Operation until DONE (global, zonal or regional, from its own zone/region
 * field); its error, verbatim, becomes MK_EHTTP "WHAT failed: CODE: message". */
int gce_op_wait(struct mk_ctx *ctx, struct gce *g, const char *what, json_t *op,
                double timeout);
/* Sends a mutating call (body may be NULL) and waits for its Operation. 404 gives
 * MK_ENOTFOUND, 409 MK_EEXIST, 400 MK_EINVAL, 403 MK_EAUTH; (*ret_status) gets the status. */
int gce_mutate(struct mk_ctx *ctx, struct gce *g, const char *what, const char *method,
               const char *url, json_t *body, double timeout, long *ret_status);
/* (nbytes) random bytes as hex into (buf), at most 16. */
void gce_random_hex(char *buf, size_t nbytes);
/* A fresh requestId (a UUID) for a mutating call that may be retried. */
void gce_request_id(char id[37]);
/* Validates a resource name (image, family) against GCE's RFC 1035 rule. */
/* A GCE resource name: 1-63 of [a-z0-9-], starting with a letter, not ending with '-'. */
bool gce_is_name(const char *name, size_t len);
int gce_check_name(struct mk_ctx *ctx, const char *what, const char *name);
/* MK_ENOTFOUND when the project does not exist or the credentials cannot see it. */
int gce_project_check(struct mk_ctx *ctx, struct gce *g);
/* MK_EINVAL when (location) is neither a multi-region nor a known region. */
int gce_location_check(struct mk_ctx *ctx, struct gce *g, const char *location);
/* MK_ENOTFOUND when there is no such image. */
int gce_image_get(struct mk_ctx *ctx, struct gce *g, const char *name, json_t **ret);
int gce_image_delete(struct mk_ctx *ctx, struct gce *g, const char *name);
/* Inserts (image) and waits until its operation is DONE; errors verbatim. */
int gce_image_insert(struct mk_ctx *ctx, struct gce *g, json_t *image, bool *running);
/* Boots an instance from the image, reads its serial port until (text) appears or the
 * timeout passes, and deletes the instance whatever happened. */
int gce_boot_check(struct mk_ctx *ctx, struct gce *g, const char *image, json_t *result);


/* ---- one instance: run gce, push --boot-check (instance.c) ---- */
struct gce_instance {
    const char *zone, *name, *machine_type;
    const char *image;  /* a name in the project, or a projects/... path */
    const char *expect; /* NULL: watch until it stops or the timeout */
    double timeout;
};

struct gce_watch {
    mk_console_fn on_console; /* the console as it arrives; may be NULL */
    void *opaque;
    bool matched, stopped, timed_out;
    char status[32];     /* the last status seen ("DELETED" once gone) */
    double seconds;
    struct mk_buf tail;   /* the console's last bytes */
    struct mk_buf window; /* for finding (expect) across reads */
};

/* A serialPortOutput read from (pos): its (contents) ("" when none), where they (start)
 * and where to read (next); both are (pos) when not said. Points into (out). */
struct gce_serial_chunk {
    const char *contents;
    uint64_t start, next;
};
void gce_serial_parse(json_t *out, uint64_t pos, struct gce_serial_chunk *ret);
/* "IMAGE-WHAT-xxxxxx", at most 63 characters, malloc'ed. */
int gce_instance_name(struct mk_ctx *ctx, const char *image, const char *what, char **ret);
/* Creates the instance and waits for its Operation. (*ret_maybe_created) tells whether it
 * may exist (then it must be deleted), even on failure. */
int gce_instance_create(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                        bool *ret_maybe_created);
/* Streams the console until (expect) shows, the instance stops (checked on every poll, so a
 * stopped guest ends the wait at once), or the timeout. MK_OK whatever the verdict, which is
 * in (w); negative on an error or Ctrl-C. */
int gce_instance_watch(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                       struct gce_watch *w);
void gce_watch_release(struct gce_watch *w);
/* The last (lines) lines of the console as one line ("a | b"). */
void gce_watch_tail_line(const struct gce_watch *w, int lines, char *buf, size_t size);
/* Deletes it and waits; a missing instance is not an error. */
int gce_instance_delete(struct mk_ctx *ctx, struct gce *g, const char *zone, const char *name);
/* Creates, watches and (unless keep, and always on failure or Ctrl-C) deletes the instance;
 * a missing (expect) is MK_ETIMEOUT or MK_EBOOT naming the console's last lines. Fills
 * (result) with instance, zone, status, matched, stopped, seconds, deleted (run.c). */
int gce_run_instance(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                     bool keep, struct gce_watch *w, json_t *result);
/* The options saying how to reach Compute Engine (project, credentials, endpoint, retries,
 * TLS), for the commands other than push: MK_EUNSUPPORTED for other keys; arity as
 * mk_run_option_arity(). */
int gce_connection_option(struct mk_ctx *ctx, struct gce *g, const char *key,
                          const char *value);
int gce_connection_arity(const char *key);
/* A positive number of seconds, or MK_EINVAL naming --(key). */
/* GET of a path under the project: MK_OK with (*ret) the object, MK_ENOTFOUND on 404. */
int gce_get_json(struct mk_ctx *ctx, struct gce *g, const char *what, const char *path,
                 json_t **ret);
int gce_parse_seconds(struct mk_ctx *ctx, const char *key, const char *value, double *ret);
/* Option values shared by push, run and deploy (gce_options.c): a string copied into (*dst),
 * replacing the one there, and one more item of a repeatable option. */
int gce_option_string(struct mk_ctx *ctx, char **dst, const char *key, const char *value);
int gce_option_list_add(struct mk_ctx *ctx, char ***list, size_t *n, const char *value);

#endif
