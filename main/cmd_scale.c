/* cmd_scale.c — `lookout scale DEPLOYMENT N`: sets the deployment's
 * replicas through its /scale subresource (a merge patch, as `kubectl
 * scale` sends), printing "deployment.apps/NAME scaled" or the server's
 * refusal (a negative count, an unknown deployment) with exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main/cmd.h"
#include "main/kube.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: lookout scale DEPLOYMENT N [--server URL] [--token-file FILE] [-n NS]\n\n"
             "Sets the number of replicas of a deployment.\n\n%s", kube_flags_help);
}

int cmd_scale(int argc, char **argv)
{
  kube k = {0};
  const char *name = NULL, *count = NULL;
  for (int i = 1; i < argc; i++) {
    int taken = kube_flag(&k, argc, argv, &i);
    const char *a = argv[i];
    if (taken > 0)
      continue;
    if (!taken && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
      usage(stdout);
      return 0;
    }
    if (taken < 0 || (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) || (name && count)) {
      usage(stderr);
      return 2;
    }
    if (!name)
      name = a;
    else
      count = a;
  }
  char *end = NULL;
  long long n = count ? strtoll(count, &end, 10) : 0;
  if (!name || !count || *end) {
    usage(stderr);
    return 2;
  }
  kube_init(&k);
  char path[600], body[64];
  snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s/scale", k.ns, name);
  snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%lld}}", n);
  json_t *ans = NULL;
  int st = 0;
  int rc = kube_call(&k, "PATCH", path, "application/merge-patch+json", body, NULL, &ans, &st);
  if (!rc && st == 200)
    printf("deployment.apps/%s scaled\n", name);
  else if (!rc)
    fprintf(stderr, "lookout scale: %s\n", kube_message(ans));
  json_decref(ans);
  return !rc && st == 200 ? 0 : 1;
}
