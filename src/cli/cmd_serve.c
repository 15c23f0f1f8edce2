/* cmd_serve.c: phivault serve: the server until SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "http/http.h"

#define PEM_MAX ((size_t)256 * 1024)

/* Read a PEM file whole into a new NUL-terminated buffer; a key file must be private. */
static char *
read_pem(const char *path, int secret)
{
    unsigned char *buf = malloc(PEM_MAX + 1);
    size_t n = 0;
    FILE *f;
    int rc;

    if (buf == NULL)
        return NULL;
    if (secret) {
        rc = pv_secret_file_read(path, buf, PEM_MAX, &n);
        if (rc != 0) {
            (void)fprintf(stderr, "phivault: %s: cannot read the TLS key (%s)\n", path,
                          rc == PV_EINVAL ? "it must be a file readable by its owner alone (chmod "
                                            "600), of at most 256 KiB"
                          : rc == PV_ENOTFOUND ? "no such file"
                                               : pv_strerror(rc));
            free(buf);
            return NULL;
        }
    } else {
        if ((f = fopen(path, "rb")) == NULL) {
            (void)fprintf(stderr, "phivault: %s: cannot read the TLS certificate (%s)\n", path,
                          strerror(errno));
            free(buf);
            return NULL;
        }
        n = fread(buf, 1, PEM_MAX, f);
        (void)fclose(f);
    }
    buf[n] = '\0';
    if (n == 0 || strstr((char *)buf, "-----BEGIN ") == NULL) {
        (void)fprintf(stderr, "phivault: %s: not a PEM file\n", path);
        pv_wipe(buf, PEM_MAX + 1);
        free(buf);
        return NULL;
    }
    return (char *)buf;
}

static void
free_pem(char *p)
{
    if (p) {
        pv_wipe(p, PEM_MAX + 1);
        free(p);
    }
}

int
pv_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"session-ttl", required_argument, NULL, 's'},
        {"policy", required_argument, NULL, 'p'},
        {"log-requests", no_argument, NULL, 'r'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"insecure-http", no_argument, NULL, 'I'},
        {"sweep-interval", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *cert_path = NULL, *key_path = NULL;
    char *cert = NULL, *key = NULL;
    struct pv_vault_config vc = {NULL, NULL, 0};
    struct pv_server_config sc = {0};
    struct pv_server *srv = NULL;
    struct pv_vault *v = NULL;
    struct pv_buf errors;
    char port[16];
    sigset_t set;
    int64_t n, sweep_s = 3600;
    int ch, sig, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:l:t:s:p:rw:C:K:I", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            vc.dir = optarg;
            break;
        case 'l':
            sc.listen = optarg;
            break;
        case 'p':
            vc.policy_path = optarg;
            break;
        case 'r':
            sc.log_requests = 1;
            break;
        case 'C':
            cert_path = optarg;
            break;
        case 'K':
            key_path = optarg;
            break;
        case 'I':
            sc.insecure_http = 1;
            break;
        case 't':
            if (pv_parse_i64(optarg, 1, 1024, &n) != 0) {
                (void)fprintf(stderr, "phivault: --threads takes 1 to 1024\n");
                return 2;
            }
            sc.threads = (unsigned)n;
            break;
        case 's':
            if (pv_parse_i64(optarg, 1, INT64_C(30) * 86400, &n) != 0) {
                (void)fprintf(stderr, "phivault: --session-ttl takes 1 to 2592000 seconds\n");
                return 2;
            }
            vc.session_ttl_s = n;
            break;
        case 'w':
            if (pv_parse_i64(optarg, 0, INT64_C(30) * 86400, &sweep_s) != 0) {
                (void)fprintf(stderr,
                              "phivault: --sweep-interval takes 0 (never) to 2592000 seconds\n");
                return 2;
            }
            break;
        default:
            return 2;
        }
    }
    if (vc.dir == NULL || optind != argc || !cert_path != !key_path) {
        (void)fprintf(stderr, "usage: phivault serve --data DIR [--listen ADDR:PORT] [--threads N] "
                              "[--session-ttl SECONDS] [--log-requests] [--tls-cert FILE --tls-key "
                              "FILE] [--insecure-http] [--sweep-interval SECONDS]\n");
        return 2;
    }
    pv_server_config_defaults(&sc);
    if (pv_listen_is_loopback(sc.listen) < 0) {
        (void)fprintf(stderr, "phivault: --listen takes ADDR:PORT with a numeric address\n");
        return 2;
    }
    if (cert_path == NULL && !sc.insecure_http && pv_listen_is_loopback(sc.listen) != 1) {
        (void)fprintf(stderr,
                      "phivault: refusing plain HTTP on %s, which is not a loopback address: "
                      "give --tls-cert and --tls-key, or --insecure-http behind a TLS proxy\n",
                      sc.listen);
        return 2;
    }
    if (cert_path && !pv_http_tls_supported()) {
        (void)fprintf(stderr, "phivault: this libmicrohttpd was built without TLS\n");
        return 1;
    }
    if (cert_path &&
        ((cert = read_pem(cert_path, 0)) == NULL || (key = read_pem(key_path, 1)) == NULL)) {
        free_pem(cert);
        return 1;
    }
    sc.tls_cert = cert;
    sc.tls_key = key;
    /* Every thread created from here on leaves these signals to sigwait(). */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    pv_buf_init(&errors, (size_t)64 * 1024);
    rc = pv_vault_open(&vc, &v, &errors);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        (void)fprintf(stderr, "phivault: cannot open %s (%s)\n", vc.dir, pv_strerror(rc));
        pv_buf_fini(&errors);
        free_pem(cert);
        free_pem(key);
        return 1;
    }
    pv_buf_fini(&errors);
    if (pv_server_start(v, &sc, &srv) != 0) {
        (void)fprintf(stderr, "phivault: cannot %s on %s\n",
                      cert ? "serve TLS (check the certificate and its key)" : "listen", sc.listen);
        pv_vault_close(v);
        free_pem(cert);
        free_pem(key);
        return 1;
    }
    if ((rc = pv_vault_maintenance_start(v, sweep_s)) != 0) {
        (void)fprintf(stderr, "phivault: cannot start the maintenance thread (%s)\n",
                      pv_strerror(rc));
        pv_server_stop(srv);
        pv_vault_close(v);
        return 1;
    }
    (void)snprintf(port, sizeof port, "%u", pv_server_port(srv));
    pv_log(PV_LOG_INFO, "server.listening", "listen", sc.listen, "port", port, "scheme",
           cert ? "https" : "http", "policy", pv_vault_policy(v)->version, (char *)NULL);
    sigwait(&set, &sig);
    pv_log(PV_LOG_INFO, "server.stopping", (char *)NULL);
    pv_vault_maintenance_stop(v);
    pv_server_stop(srv);
    pv_vault_close(v);
    free_pem(cert);
    free_pem(key);
    pv_log(PV_LOG_INFO, "server.stopped", (char *)NULL);
    return 0;
}
