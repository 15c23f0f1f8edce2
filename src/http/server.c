/*
 * server.c: libmicrohttpd set-up and the one dispatch function.
 *
 * MHD calls access() several times per request: first with the headers
 * (we match the route and refuse early what the headers already condemn:
 * unknown route, wrong method, wrong content type, a declared length over
 * the route's limit), then with each piece of the body (kept up to the
 * limit), then once more when the body is complete (we dispatch).
 *
 * Dispatch runs the authentication and the handler in a fiber of their own
 * (base/fiber.h). When the handler waits for its audit entry to become
 * durable the fiber parks: we suspend the connection and the pool thread
 * goes on with other connections; the audit committer wakes the fiber by
 * resuming the connection, MHD calls access() once more and we run the
 * fiber on to its answer. So a few pool threads keep every connection's
 * request in flight, and all of them share the next fsync. If no fiber can
 * be had (no memory for a stack) or the server is stopping, the handler runs
 * on the pool thread itself and blocks it while it waits.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fiber.h"
#include "http/http_int.h"
#include "http/parse.h"

/*
 * Each connection's memory pool: headers and the piece of body being read.
 * libmicrohttpd zeroes the pool for every request, so it is kept at the
 * library's default: ample for any header block (bodies stream through our
 * own buffers, piece by piece).
 */
#define POOL_BYTES ((size_t)32 * 1024)
#define DISCARD_MAX                                                                                \
    ((size_t)16 * 1024 * 1024) /* body bytes read past a limit before hanging up                   \
                                */

struct pv_server {
    struct MHD_Daemon *mhd;
    struct pv_vault *v;
    int log_requests;
    unsigned port;
    pthread_mutex_t live_mu; /* guards live and stopping; live_cv tells when live falls to 0 */
    pthread_cond_t live_cv;
    int live;     /* fibers not yet finished */
    int stopping; /* no new fibers: requests run on their pool thread */
};

/* A request and the fiber its handler runs in (the request first: MHD holds a pointer to it). */
struct conn_req {
    struct pv_req r;
    struct pv_fiber *fiber;
    struct pv_resp resp; /* the handler's answer */
    int rc;              /* and its result */
};

void
pv_server_config_defaults(struct pv_server_config *cfg)
{
    if (cfg->listen == NULL)
        cfg->listen = "127.0.0.1:8700";
    if (cfg->threads == 0)
        cfg->threads = 4; /* requests park instead of blocking: a few threads serve them all */
    if (cfg->conn_limit == 0)
        cfg->conn_limit = 1024;
    if (cfg->per_ip_limit == 0)
        cfg->per_ip_limit = 256;
    if (cfg->timeout_s == 0)
        cfg->timeout_s = 30;
}

const char *
pv_req_arg(struct pv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Answers carry plaintext: wipe them once sent. */
static void
wipe_free(void *p)
{
    pv_wipe(p, malloc_usable_size(p));
    free(p);
}

static enum MHD_Result
send_answer(struct pv_server *srv, struct pv_req *r, struct pv_resp *resp)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char *text = NULL, ms[24], st[16];
    size_t len = 0;

    if (resp->body) {
        text = json_dumps(resp->body, JSON_COMPACT);
        json_decref(resp->body);
        resp->body = NULL;
        if (text == NULL) {
            resp->status = 500;
            resp->content_type = "application/problem+json";
            text = pv_strdup("{\"type\":\"/problems/internal-error\",\"title\":\"Internal "
                             "error\",\"status\":500}");
        }
    } else if (resp->text) {
        text = resp->text;
        resp->text = NULL;
    }
    if (text)
        len = strlen(text);
    mr = text ? MHD_create_response_from_buffer_with_free_callback(len, text, wipe_free)
              : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (mr == NULL) {
        free(text);
        return MHD_NO;
    }
    if (len)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (resp->status == 405 && r->route == NULL)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, "GET, POST, PUT, PATCH, DELETE");
    if (resp->status == 401)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (resp->status == 429 && r->call.retry_after > 0) {
        (void)snprintf(st, sizeof st, "%d", r->call.retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, st);
    }
    if (r->gpc_honored)
        MHD_add_response_header(mr, "GPC-Honored", "1");
    ret = MHD_queue_response(r->conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    if (srv->log_requests) {
        (void)snprintf(ms, sizeof ms, "%lld", (long long)(pv_mono_ms() - r->t0));
        (void)snprintf(st, sizeof st, "%d", resp->status);
        pv_log(PV_LOG_INFO, "http.request", "method", r->route ? r->route->method : "-", "route",
               r->route ? r->route->pattern : "-", "status", st, "ms", ms, (char *)NULL);
    }
    return ret;
}

static enum MHD_Result
send_problem(struct pv_server *srv, struct pv_req *r, int err)
{
    struct pv_resp resp = {0, NULL, "application/problem+json", NULL};

    resp.body = pv_problem(err, &r->call, &resp.status);
    return send_answer(srv, r, &resp);
}

/* Checks the headers alone decide. */
static int
check_headers(struct pv_req *r, const char *method, const char *url)
{
    const char *ctype, *clen;
    int64_t n;
    int rc;

    if ((rc = pv_route_match(method, url, r)) != 0)
        return rc;
    clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen && pv_parse_i64(clen, 0, INT64_MAX, &n) == 0) {
        if (r->route->max_body == 0 && n > 0) {
            r->call.detail = "this route takes no body";
            return PV_ETOOBIG;
        }
        if ((uint64_t)n > r->route->max_body)
            return PV_ETOOBIG;
    }
    if (r->route->max_body > 0 && pv_route_body(r->route) != PV_BODY_ANY) {
        const char *want = pv_route_body(r->route) == PV_BODY_FORM
                               ? "application/x-www-form-urlencoded"
                               : "application/json";
        size_t wn = strlen(want);
        ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ctype == NULL || strncasecmp(ctype, want, wn) != 0 ||
            (ctype[wn] != '\0' && ctype[wn] != ';' && ctype[wn] != ' ')) {
            if (pv_route_body(r->route) == PV_BODY_FORM)
                r->call.detail = "this route takes application/x-www-form-urlencoded";
            return PV_ECTYPE;
        }
    }
    return 0;
}

static int
parse_body(struct pv_req *r)
{
    if (r->route->max_body == 0 || pv_route_body(r->route) == PV_BODY_ANY)
        return 0;
    if (pv_route_body(r->route) == PV_BODY_FORM) {
        if (pv_form_parse(r->body.data ? r->body.data : "", r->body.len, &r->form) != 0) {
            r->call.detail = "the body is not a well-formed application/x-www-form-urlencoded form";
            return PV_EINVAL;
        }
        return 0;
    }
    return pv_http_json_body(r->body.data, r->body.len, &r->json, &r->call.detail);
}

/* The routes a session that must still enroll a second factor may use. */
static int
mfa_setup_route(const struct pv_route *rt)
{
    return rt->handler == pv_h_totp_begin || rt->handler == pv_h_totp_confirm ||
           rt->handler == pv_h_logout || rt->handler == pv_h_logout_all;
}

static int
authenticate(struct pv_req *r)
{
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    int rc;

    if (r->route->auth == PV_AUTH_NONE)
        return 0;
    rc = h && strncasecmp(h, "Bearer ", 7) == 0 ? pv_vault_authenticate(r->v, h + 7, &r->actor)
                                                : PV_EAUTH;
    if (rc == PV_EAUTH && r->route->auth == PV_AUTH_DATA)
        rc = pv_vault_deny_unauthenticated(r->v, r->route->action, r->params[0]);
    if (rc != 0)
        return rc;
    if (r->actor.mfa_pending && !mfa_setup_route(r->route)) {
        /* Until the second factor is enrolled, the session can do nothing else. */
        r->call.detail = "enroll a second factor first: POST /v1/auth/totp, then "
                         "POST /v1/auth/totp/confirm";
        return r->route->auth == PV_AUTH_DATA
                   ? pv_vault_deny_pending(r->v, &r->actor, r->route->action, r->params[0])
                   : PV_EMFA;
    }
    r->call.actor = &r->actor;
    if (r->route->auth == PV_AUTH_DATA)
        r->call.purpose = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Purpose");
    return 0;
}

/* Global Privacy Control from an identified subject is their opt-out of sale and sharing. */
static int
honor_gpc(struct pv_req *r)
{
    const char *gpc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-GPC");

    if (r->call.actor == NULL || gpc == NULL || strcmp(gpc, "1") != 0)
        return 0;
    return pv_vault_gpc(r->v, &r->call, &r->gpc_honored);
}

/* Authenticate and run the handler: the part of a request that may wait for the audit log. */
static void
run_handler(void *arg)
{
    struct conn_req *cr = arg;
    struct pv_req *r = &cr->r;

    cr->rc = authenticate(r);
    if (cr->rc == 0)
        cr->rc = honor_gpc(r);
    /* A full card number is refused wherever it is sent, before any handler can store it. */
    if (cr->rc == 0 && r->json && r->route->auth != PV_AUTH_NONE)
        cr->rc = pv_vault_card_check(r->v, &r->call,
                                     r->route->action ? r->route->action : "input.refused",
                                     r->params[0], r->json);
    if (cr->rc == 0)
        cr->rc = r->route->handler(r, &cr->resp);
}

/* Send the handler's answer, or the problem its error maps to. */
static enum MHD_Result
answer(struct pv_server *srv, struct conn_req *cr)
{
    struct pv_req *r = &cr->r;
    int rc = cr->rc;

    if (rc != 0) {
        json_decref(cr->resp.body);
        free(cr->resp.text);
        cr->resp.body = NULL;
        cr->resp.text = NULL;
        if (rc > 0)
            rc = PV_ESTORE;
        if (pv_problem_status(rc) >= 500) {
            char code[16];
            (void)snprintf(code, sizeof code, "%d", rc);
            pv_log(PV_LOG_ERROR, "http.error", "route", r->route->pattern, "error", pv_strerror(rc),
                   "code", code, (char *)NULL);
        }
        return send_problem(srv, r, rc);
    }
    return send_answer(srv, r, &cr->resp);
}

/* The audit committer's wake-up for a parked request: MHD will call access() again. */
static void
resume(void *arg)
{
    MHD_resume_connection(arg);
}

static void
fiber_finished(struct pv_server *srv, struct conn_req *cr)
{
    pv_fiber_free(cr->fiber);
    cr->fiber = NULL;
    pthread_mutex_lock(&srv->live_mu);
    if (--srv->live == 0)
        pthread_cond_broadcast(&srv->live_cv);
    pthread_mutex_unlock(&srv->live_mu);
}

/* Run (or go on running) the request's fiber; answer once it has finished. */
static enum MHD_Result
step_fiber(struct pv_server *srv, struct conn_req *cr)
{
    if (!pv_fiber_run(cr->fiber)) {
        /* Parked: be ready to be resumed before the wait is handed over. */
        MHD_suspend_connection(cr->r.conn);
        pv_fiber_parked(cr->fiber);
        return MHD_YES;
    }
    fiber_finished(srv, cr);
    return answer(srv, cr);
}

static enum MHD_Result
dispatch(struct pv_server *srv, struct conn_req *cr)
{
    struct pv_req *r = &cr->r;

    if (r->discarded)
        return send_problem(srv, r, PV_ETOOBIG);
    cr->resp.status = 200;
    /* Parsed here, on the pool thread's own stack: jansson recurses as deep as the input. */
    if ((cr->rc = parse_body(r)) != 0)
        return answer(srv, cr);
    /* What other processes committed (a command-line sweep) holds from this request on. */
    if ((cr->rc = pv_store_cache_sync(pv_vault_store(srv->v))) != 0)
        return answer(srv, cr);
    pthread_mutex_lock(&srv->live_mu);
    if (!srv->stopping && pv_fiber_new(run_handler, cr, &cr->fiber) == 0)
        srv->live++;
    pthread_mutex_unlock(&srv->live_mu);
    if (cr->fiber) {
        pv_fiber_set_waker(cr->fiber, resume, r->conn);
        return step_fiber(srv, cr);
    }
    run_handler(cr);
    return answer(srv, cr);
}

/* The client's address as text; an IPv6 address by its /64, which one host usually holds. */
static void
client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    struct in6_addr a6;
    size_t n;

    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    } else if (sa && sa->sa_family == AF_INET6) {
        a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            inet_ntop(AF_INET, a6.s6_addr + 12, out, (socklen_t)cap);
            return;
        }
        memset(a6.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a6, out, (socklen_t)cap) != NULL && (n = strlen(out)) + 4 < cap)
            memcpy(out + n, "/64", 4);
    }
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct pv_server *srv = cls;
    struct conn_req *cr = *con_cls;
    struct pv_req *r = cr ? &cr->r : NULL;
    int rc;

    if (cr != NULL && cr->fiber != NULL)
        return step_fiber(srv, cr); /* resumed: the audit entry is durable */
    if (r == NULL) {
        if ((cr = calloc(1, sizeof *cr)) == NULL)
            return MHD_NO;
        r = &cr->r;
        r->v = srv->v;
        r->conn = conn;
        r->t0 = pv_mono_ms();
        client_address(conn, r->client, sizeof r->client);
        *con_cls = cr;
        if ((rc = check_headers(r, method, url)) != 0) {
            r->early = 1;
            if (rc == PV_ENOROUTE || rc == PV_EMETHOD)
                r->route = NULL;
            return send_problem(srv, r, rc);
        }
        pv_buf_init(&r->body, r->route->max_body);
        return MHD_YES;
    }
    if (r->early)
        return MHD_YES;
    if (*upload_data_size > 0) {
        if (r->discarded || pv_buf_append(&r->body, upload_data, *upload_data_size) != 0) {
            /* Past the limit (a chunked body): drop it, answer 413 at the end. */
            r->discarded += *upload_data_size;
            if (r->discarded > DISCARD_MAX)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(srv, cr);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct conn_req *cr = *con_cls;
    struct pv_req *r;

    if (cr == NULL)
        return;
    r = &cr->r;
    /* A fiber is never parked here: a suspended connection is not closed until resumed. */
    if (cr->fiber)
        fiber_finished(cls, cr);
    json_decref(cr->resp.body);
    free(cr->resp.text);
    json_decref(r->json);
    pv_form_fini(&r->form);
    if (r->body.data)
        pv_wipe(r->body.data, r->body.len);
    pv_buf_fini(&r->body);
    free(cr);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages: the format alone, never its arguments. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;

    pv_strlcpy(msg, fmt, sizeof msg);
    n = strcspn(msg, "\n");
    msg[n] = '\0';
    pv_log(PV_LOG_WARN, "http.mhd", "message", msg, (char *)NULL);
}

static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon;
    int64_t port;
    size_t n;

    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return PV_EINVAL;
        n = (size_t)(end - s - 1);
        colon = end + 1;
        if (n >= sizeof host)
            return PV_EINVAL;
        memcpy(host, s + 1, n);
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return PV_EINVAL;
        n = (size_t)(colon - s);
        if (n >= sizeof host)
            return PV_EINVAL;
        memcpy(host, s, n);
    }
    host[n] = '\0';
    if (pv_parse_i64(colon + 1, 0, 65535, &port) != 0)
        return PV_EINVAL;
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return PV_EINVAL;
}

int
pv_listen_is_loopback(const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t sl;

    if (parse_listen(listen, &ss, &sl) != 0)
        return PV_EINVAL;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

int
pv_http_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

int
pv_server_start(struct pv_vault *v, const struct pv_server_config *cfg_in, struct pv_server **out)
{
    struct pv_server_config cfg = *cfg_in;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL},
                                    {MHD_OPTION_END, 0, NULL},
                                    {MHD_OPTION_END, 0, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    struct pv_server *s;
    socklen_t sl;
    unsigned flags;

    pv_server_config_defaults(&cfg);
    if (parse_listen(cfg.listen, &ss, &sl) != 0)
        return PV_EINVAL;
    /* Personal data never crosses a network in the clear unless the operator says so. */
    if (cfg.tls_cert == NULL && !cfg.insecure_http && pv_listen_is_loopback(cfg.listen) != 1)
        return PV_EDENIED;
    if (cfg.tls_cert && (cfg.tls_key == NULL || !pv_http_tls_supported()))
        return PV_EINVAL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return PV_ENOMEM;
    s->v = v;
    s->log_requests = cfg.log_requests;
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_cond_init(&s->live_cv, NULL);
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg.tls_cert) {
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg.tls_key};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg.tls_cert};
        /* TLS 1.2 and 1.3 only. */
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                         (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, cfg.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg.timeout_s, MHD_OPTION_CONNECTION_LIMIT, cfg.conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg.per_ip_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (s->mhd == NULL) {
        pthread_mutex_destroy(&s->live_mu);
        pthread_cond_destroy(&s->live_cv);
        free(s);
        return PV_EIO;
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    *out = s;
    return 0;
}

unsigned
pv_server_port(const struct pv_server *s)
{
    return s->port;
}

void
pv_server_stop(struct pv_server *s)
{
    MHD_socket listen_fd;

    if (s == NULL)
        return;
    /*
     * Stop taking connections, start no more fibers, and let the parked
     * ones finish (the committer still runs, so each will be resumed):
     * MHD must not stop with a connection suspended.
     */
    listen_fd = MHD_quiesce_daemon(s->mhd);
    pthread_mutex_lock(&s->live_mu);
    s->stopping = 1;
    while (s->live > 0)
        pthread_cond_wait(&s->live_cv, &s->live_mu);
    pthread_mutex_unlock(&s->live_mu);
    MHD_stop_daemon(s->mhd);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    pthread_mutex_destroy(&s->live_mu);
    pthread_cond_destroy(&s->live_cv);
    free(s);
}
