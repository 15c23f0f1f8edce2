/*
 * cmd_sms.c: phivault sms setup --data DIR --url URL: the Twilio account's
 * auth token (read from standard input, or PHIVAULT_TWILIO_AUTH_TOKEN, so it
 * never shows in a process list) and the webhook URL Twilio calls, written
 * to DIR/twilio.conf (0600). The server reads it when it starts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "vault/vault.h"

int
pv_cmd_sms_setup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"url", required_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *url = NULL, *env = getenv("PHIVAULT_TWILIO_AUTH_TOKEN");
    char token[300];
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:u:", opts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'u')
            url = optarg;
        else
            return 2;
    }
    if (dir == NULL || url == NULL || optind != argc) {
        (void)fprintf(stderr, "usage: phivault sms setup --data DIR --url WEBHOOK_URL  "
                              "(the auth token on standard input)\n");
        return 2;
    }
    if (env && *env) {
        rc = pv_strlcpy(token, env, sizeof token);
    } else {
        if (fgets(token, sizeof token, stdin) == NULL)
            token[0] = '\0';
        token[strcspn(token, "\r\n")] = '\0';
        rc = 0;
    }
    if (rc == 0)
        rc = pv_vault_sms_setup(dir, token, url);
    pv_wipe(token, sizeof token);
    if (rc != 0) {
        (void)fprintf(
            stderr,
            "phivault: cannot write %s/twilio.conf (%s): the auth token is one line without "
            "spaces, the URL starts with https:// or http://, and DIR must exist\n",
            dir, pv_strerror(rc));
        return 1;
    }
    (void)fprintf(stderr,
                  "phivault: SMS webhook configured in %s/twilio.conf; restart the server to "
                  "use it\n",
                  dir);
    return 0;
}
