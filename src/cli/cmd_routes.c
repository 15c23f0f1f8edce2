/*
 * cmd_routes.c: phivault routes and phivault problems: the HTTP API's route
 * table and problem types, one per line, tab-separated, as the server has
 * them (the OpenAPI document is checked against this).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "http/http.h"

int
pv_cmd_routes(int argc, char **argv)
{
    const char *pattern, *method, *auth;

    if (argc != 1) {
        (void)fprintf(stderr, "usage: phivault routes\n");
        return 2;
    }
    for (size_t i = 0; (pattern = pv_http_route(i, &method, &auth)) != NULL; i++)
        printf("%s\t%s\t%s\n", method, pattern, auth);
    return 0;
}

int
pv_cmd_problems(int argc, char **argv)
{
    const char *slug, *title;
    int status;

    if (argc != 1) {
        (void)fprintf(stderr, "usage: phivault problems\n");
        return 2;
    }
    for (size_t i = 0; (slug = pv_http_problem(i, &status, &title)) != NULL; i++)
        printf("%d\t%s\t%s\n", status, slug, title);
    return 0;
}
