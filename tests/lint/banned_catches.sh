#!/usr/bin/env bash
# scripts/check-banned must report each banned call, and only those.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bad.c" <<'C'
void f(char *d, const char *s, char **save)
{
    strcpy(d, s);
    stpcpy(d, s);
    strcat (d, s);
    sprintf(d, "%s", s);
    vsprintf(d, s, 0);
    (void)atoi(s);
    (void)atol(s);
    (void)atoll(s);
    (void)atof(s);
    (void)strtok(d, ",");
    gets(d);
}
C
cat > "$tmp/good.c" <<'C'
/* strcpy(d, s) and sprintf() in a comment are words, not calls. */
int g(char *d, const char *s)
{
    const char *t = "gets(x) in a string";
    char c = '(';
    return snprintf(d, 4, "%s", s) + pv_strlcpy(d, t, 4) + my_atoi(s) + c; // atoi(s)
}
C
if out=$("$here/scripts/check-banned" "$tmp/bad.c"); then
    echo "banned calls passed unnoticed" >&2
    exit 1
fi
for fn in strcpy stpcpy strcat sprintf vsprintf atoi atol atoll atof strtok gets; do
    grep -q "bad.c:[0-9]*: $fn() is banned" <<<"$out" || { echo "$fn() was not reported" >&2; exit 1; }
done
[ "$(wc -l <<<"$out")" -eq 11 ] || { echo "unexpected reports: $out" >&2; exit 1; }
"$here/scripts/check-banned" "$tmp/good.c" || { echo "a clean file was refused" >&2; exit 1; }
echo "check-banned: all 11 banned calls reported, the clean file passed"
