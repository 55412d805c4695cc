/* fuzz_yaml.c — libFuzzer target for the YAML reader (lib/lk_yaml) and
 * everything that reads YAML: the config file (lib/lk_config, as server and
 * as agent), Prometheus/Loki rule files (alerting_rules_load, which also
 * parses their PromQL, LogQL and templates), the Alertmanager sections of
 * the config (alerting/am_config.c) and orchestrator manifests (defaults
 * and validation, orchestrator/validate*.c). The input is one YAML file
 * and goes to each. Seeds: tests/fuzz/corpus_yaml (examples/, test fixtures).
 */
#include <jansson.h>
#include <stdio.h>

#include "alerting/alerting.h"
#include "alerting/am_int.h"
#include "lib/lk_config.h"
#include "lib/lk_yaml.h"
#include "orchestrator/orch_int.h"
#include "tests/fuzz/harness.h"

static const char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  dir = fuzz_scratch_dir("fuzz-yaml");
  return 0;
}

static void check_config(const uint8_t *data, size_t size, unsigned reader)
{
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  (void)lk_config_parse(&c, (const char *)data, size, "fuzz.yml", reader, &d);
  lk_config_fini(&c);
}

static void check_rules(const char *text)
{
  const char *names[] = {"rules.yml"}, *texts[] = {text};
  alerting_load_opts o = {.extra_names = names, .extra_texts = texts, .nextra = 1};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  if (!alerting_rules_load(NULL, 0, &o, &rs, &d))
    alerting_rules_free(rs);
}

static void check_am_config(const uint8_t *data, size_t size)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/am.yml", dir);
  fuzz_write_file(dir, "am.yml", data, size);
  am_config c;
  memset(&c, 0, sizeof c);
  lk_diag d = {0};
  if (!am__config_load(path, &c, &d))
    am__config_free(&c);
}

static void check_manifest(const lk_yaml *y, const lk_ynode *n)
{
  json_t *doc = NULL;
  lk_diag d = {0};
  if (lk_ynode_to_json(y, n, &doc, &d))
    return;
  const char *version = NULL;
  const orch_resource *r = orch_resource_of(orch__str(doc, "apiVersion"), orch__str(doc, "kind"), &version);
  if (r && json_is_object(doc)) {
    if (r->kind == ORCH_HPA && !strcmp(version, "v1")) {
      json_t *v2 = orch_hpa_v1_to_v2(doc);
      json_decref(doc);
      doc = v2;
    }
    orch__defaults(r->kind, doc);
    orch__node node = {.mem_bytes = 8LL << 30, .milli_cpu = 2000};
    orch_err e = {0};
    (void)orch__validate(r->kind, doc, &node, &e);
    orch_err_fini(&e);
  }
  json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_cstr(data, size);
  lk_yaml *y = NULL;
  lk_diag d = {0};
  if (!lk_yaml_parse(text, size, "fuzz.yml", &y, &d)) {
    for (size_t i = 0; i < lk_yaml_ndocs(y); i++)
      check_manifest(y, lk_yaml_doc(y, i));
    lk_yaml_free(y);
  }
  check_config(data, size, LK_CONFIG_SERVER);
  check_config(data, size, LK_CONFIG_AGENT);
  check_rules(text);
  check_am_config(data, size);
  free(text);
  return 0;
}
