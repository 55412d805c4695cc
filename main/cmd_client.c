/* cmd_client.c — what the client commands (query, logs, import) share for
 * talking to a protected server: the Authorization header from --token-file
 * (or $LOOKOUT_TOKEN), so each command reads token files the same way (the
 * first token of the server's scoped format, lib/lk_token.h). */
#include <stdio.h>
#include <stdlib.h>

#include "lib/lk_token.h"
#include "main/cmd.h"

int cmd_auth_header(const char *cmd, const char *token_file, char *out, size_t outsz)
{
  char token[512] = "";
  lk_diag d = {0};
  if (token_file && lk_token_read_first(token_file, token, sizeof token, &d)) {
    fprintf(stderr, "lookout %s: %s\n", cmd, d.msg);
    return 1;
  }
  const char *env = getenv("LOOKOUT_TOKEN");
  if (!token[0] && env)
    snprintf(token, sizeof token, "%s", env);
  if (token[0])
    snprintf(out, outsz, "Authorization: Bearer %s", token);
  else if (outsz)
    out[0] = 0;
  return 0;
}
