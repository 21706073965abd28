/* Supernet through the C ABI: every misuse returns an error code with a message; a random
 * supernet and (when ../shared is present) the fixture supernet run. */
#include "capi_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char* SMALL128 =
    "{\"ks\":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],\"e\":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"
    "\"d\":[2,2,2,2,2],\"r\":128}";

static float* read_file(const char* path, size_t* count) {
  FILE* f = fopen(path, "rb");
  long size;
  float* buf;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = (float*)malloc((size_t)size);
  if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) { free(buf); buf = NULL; }
  fclose(f);
  *count = (size_t)size / sizeof(float);
  return buf;
}

static void misuse(void) {
  dynn_supernet* net = NULL;
  dynn_supernet_params p = dynn_supernet_default_params();
  float in[3 * 128 * 128];
  float out[1000];
  size_t written = 0, needed = 0;
  char buf[8];
  const char* list[2];

  EXPECT(p.struct_size == sizeof(dynn_supernet_params));
  EXPECT_ERR(dynn_supernet_load(NULL, NULL, &net), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_load("/nonexistent/x.pth", NULL, NULL), DYNN_EINVAL);
  EXPECT(dynn_supernet_load("/nonexistent/x.pth", NULL, &net) != DYNN_OK);
  EXPECT(net == NULL);
  p.struct_size = 3;
  EXPECT_ERR(dynn_supernet_create_random(1.0, 1, &p, &net), DYNN_EINVAL);
  p.struct_size = sizeof(p) + 64;
  EXPECT_ERR(dynn_supernet_create_random(1.0, 1, &p, &net), DYNN_EINVAL);
  p = dynn_supernet_default_params();
  p.engine = "warp";
  EXPECT_ERR(dynn_supernet_create_random(1.0, 1, &p, &net), DYNN_EINVAL);
  p = dynn_supernet_default_params();
  p.device = "quantum:0";
  EXPECT_ERR(dynn_supernet_create_random(1.0, 1, &p, &net), DYNN_EINVAL);
  p = dynn_supernet_default_params();
  p.num_threads = -3;
  EXPECT_ERR(dynn_supernet_create_random(1.0, 1, &p, &net), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_create_random(-1.0, 1, NULL, &net), DYNN_EINVAL);
  EXPECT(net == NULL);

  /* Old callers with a shorter struct (only struct_size + device) still work. */
  p = dynn_supernet_default_params();
  p.struct_size = sizeof(size_t) + sizeof(const char*);
  EXPECT(dynn_supernet_create_random(1.0, 1, &p, &net) == DYNN_OK);
  EXPECT(net != NULL);
  EXPECT(dynn_supernet_num_classes(net) == 1000);
  EXPECT(dynn_supernet_num_classes(NULL) == 0);

  EXPECT_ERR(dynn_supernet_set_subnet(NULL, SMALL128), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_subnet(net, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_subnet(net, "{not json"), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_subnet(net, "{\"ks\":[9],\"e\":[3],\"d\":[2],\"r\":128}"), DYNN_EINVAL);
  EXPECT(dynn_supernet_set_subnet(net, SMALL128) == DYNN_OK);
  EXPECT_ERR(dynn_supernet_current_subnet(net, buf, sizeof buf, &needed), DYNN_EBUFS);
  EXPECT(needed > sizeof buf);
  EXPECT_ERR(dynn_supernet_current_subnet(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  list[0] = SMALL128;
  list[1] = NULL;
  EXPECT_ERR(dynn_supernet_prepare(net, list, 2), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_prepare(net, NULL, 1), DYNN_EINVAL);
  EXPECT(dynn_supernet_prepare(net, list, 1) == DYNN_OK);

  memset(in, 0, sizeof in);
  EXPECT_ERR(dynn_supernet_infer(NULL, in, 1, 3, 128, 128, out, 1000, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_infer(net, NULL, 1, 3, 128, 128, out, 1000, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 3, 128, 128, NULL, 1000, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 3, 128, 128, out, 999, &written), DYNN_EBUFS);
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 3, 224, 224, out, 1000, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 1, 128, 128, out, 1000, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_infer(net, in, -1, 3, 128, 128, out, 1000, &written), DYNN_EINVAL);
  EXPECT(dynn_supernet_infer(net, in, 1, 3, 128, 128, out, 1000, &written) == DYNN_OK);
  EXPECT(written == 1000);
  EXPECT(isfinite(out[0]) && isfinite(out[999]));
  in[5000] = NAN; /* non-finite pixels are refused, never turned into normal-looking logits */
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 3, 128, 128, out, 1000, &written), DYNN_EINVAL);
  EXPECT(strstr(dynn_last_error(), "non-finite") != NULL);
  in[5000] = INFINITY;
  EXPECT_ERR(dynn_supernet_infer(net, in, 1, 3, 128, 128, out, 1000, &written), DYNN_EINVAL);
  dynn_supernet_free(net);
  dynn_supernet_free(NULL);
}

static void fixture(void) {
  const char* shared = shared_dir();
  char path[1024];
  dynn_supernet* net = NULL;
  size_t nin = 0, nref = 0, written = 0, i;
  float *in, *ref, *out;
  double max_ref = 0, max_diff = 0;
  if (shared_missing("fixture part")) return;
  snprintf(path, sizeof path, "%s/fixtures/ofa_mbv3_w1.0/supernet_legacy.pth", shared);
  EXPECT_OK(dynn_supernet_load(path, NULL, &net));
  if (!net) return;
  snprintf(path, sizeof path, "%s/fixtures/ofa_mbv3_w1.0/case01_input.f32", shared);
  in = read_file(path, &nin);
  snprintf(path, sizeof path, "%s/fixtures/ofa_mbv3_w1.0/case01_logits.f32", shared);
  ref = read_file(path, &nref);
  EXPECT(in && ref && nin == 2 * 3 * 128 * 128 && nref == 2000);
  out = (float*)calloc(2000, sizeof(float));
  EXPECT(dynn_supernet_set_subnet(net, SMALL128) == DYNN_OK); /* case01 is the smallest at 128 */
  EXPECT(dynn_supernet_infer(net, in, 2, 3, 128, 128, out, 2000, &written) == DYNN_OK);
  for (i = 0; i < 2000; ++i) {
    if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    if (fabs(out[i] - ref[i]) > max_diff) max_diff = fabs(out[i] - ref[i]);
  }
  printf("fixture case01 through the C ABI: max|y-ref| = %g (max|ref| %g)\n", max_diff, max_ref);
  EXPECT(max_diff <= 5e-4 * max_ref);
  free(in);
  free(ref);
  free(out);
  dynn_supernet_free(net);
}

/* Sub-networks as structs, threads, device, memory figures, and Dynamic-OFA BN statistics. */
static void structs_and_stats(void) {
  dynn_supernet* net = NULL;
  dynn_subnet a, b, cfgs[2];
  dynn_supernet_info info;
  dynn_bn_stats* stats = NULL;
  dynn_profile* levels = NULL;
  dynn_operating_point l0;
  char buf[32], path[1024];
  size_t count = 0;
  int32_t ids[16];
  int threads = 0, has = -1;
  const char* shared = shared_dir();

  EXPECT(dynn_supernet_create_random(1.2, 3, NULL, &net) == DYNN_OK);
  if (!net) return;
  EXPECT(dynn_subnet_uniform(3, 4, 2, 160, &a) == DYNN_OK);
  EXPECT_ERR(dynn_supernet_set_subnet_config(NULL, &a), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_subnet_config(net, NULL), DYNN_EINVAL);
  b = a;
  b.ks[0] = 9;
  EXPECT_ERR(dynn_supernet_set_subnet_config(net, &b), DYNN_EINVAL);
  EXPECT(dynn_supernet_set_subnet_config(net, &a) == DYNN_OK);
  EXPECT_ERR(dynn_supernet_get_subnet(NULL, &b), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_get_subnet(net, NULL), DYNN_EINVAL);
  memset(&b, 0, sizeof b);
  EXPECT(dynn_supernet_get_subnet(net, &b) == DYNN_OK);
  EXPECT(b.r == 160 && b.e[0] == 4);
  cfgs[0] = a;
  EXPECT(dynn_subnet_uniform(5, 6, 3, 176, &cfgs[1]) == DYNN_OK);
  EXPECT_ERR(dynn_supernet_prepare_configs(net, NULL, 2), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_prepare_configs(NULL, cfgs, 2), DYNN_EINVAL);
  EXPECT(dynn_supernet_prepare_configs(net, cfgs, 2) == DYNN_OK);
  {
    /* infer_config runs the named sub-network (160) whatever is current (176), without switching. */
    float* x = (float*)calloc(3 * 176 * 176, sizeof(float));
    float* y = (float*)malloc(1000 * sizeof(float));
    size_t w = 0;
    EXPECT(x && y);
    if (x && y) {
      EXPECT(dynn_supernet_set_subnet_config(net, &cfgs[1]) == DYNN_OK);
      EXPECT(dynn_supernet_infer_config(net, &a, x, 1, 3, 160, 160, y, 1000, &w) == DYNN_OK);
      EXPECT(w == 1000 && isfinite(y[0]));
      EXPECT(dynn_supernet_get_subnet(net, &b) == DYNN_OK);
      EXPECT(b.r == 176);
      EXPECT_ERR(dynn_supernet_infer_config(net, &a, x, 1, 3, 176, 176, y, 1000, &w), DYNN_EINVAL);
      EXPECT_ERR(dynn_supernet_infer_config(net, NULL, x, 1, 3, 160, 160, y, 1000, &w), DYNN_EINVAL);
      EXPECT_ERR(dynn_supernet_infer_config(NULL, &a, x, 1, 3, 160, 160, y, 1000, &w), DYNN_EINVAL);
      EXPECT_ERR(dynn_supernet_infer_config(net, &a, NULL, 1, 3, 160, 160, y, 1000, &w), DYNN_EINVAL);
      EXPECT_ERR(dynn_supernet_infer_config(net, &a, x, 1, 3, 160, 160, NULL, 1000, &w), DYNN_EINVAL);
      EXPECT_ERR(dynn_supernet_infer_config(net, &a, x, 1, 3, 160, 160, y, 10, &w), DYNN_EBUFS);
    }
    free(x);
    free(y);
  }

  EXPECT_ERR(dynn_supernet_set_threads(net, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_threads(NULL, 1), DYNN_EINVAL);
  EXPECT(dynn_supernet_set_threads(net, 1) == DYNN_OK);
  EXPECT_ERR(dynn_supernet_get_threads(net, NULL), DYNN_EINVAL);
  EXPECT(dynn_supernet_get_threads(net, &threads) == DYNN_OK);
  EXPECT(threads == 1);
  EXPECT(dynn_supernet_get_device(net, buf, sizeof buf, NULL) == DYNN_OK);
  EXPECT(strcmp(buf, "cpu") == 0);
  EXPECT_ERR(dynn_supernet_get_device(net, buf, 2, NULL), DYNN_EBUFS);
  EXPECT_ERR(dynn_supernet_set_device(net, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_device(NULL, "cpu"), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_get_device(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_get_threads(NULL, &threads), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_set_device(net, "abacus"), DYNN_EINVAL);
  EXPECT(dynn_supernet_set_device(net, "cpu") == DYNN_OK);

  memset(&info, 0, sizeof info);
  EXPECT_ERR(dynn_supernet_get_info(net, &info), DYNN_EINVAL); /* struct_size 0 */
  info.struct_size = sizeof info;
  EXPECT_ERR(dynn_supernet_get_info(NULL, &info), DYNN_EINVAL);
  EXPECT(dynn_supernet_get_info(net, &info) == DYNN_OK);
  EXPECT(info.width_mult == 1.2 && info.num_classes == 1000 && info.parameter_count > 1000000);
  EXPECT(info.supernet_bytes > 4 * 1000000 && info.prepared_count >= 2 && info.prepared_bytes > 0);

  EXPECT_ERR(dynn_bn_stats_load(NULL, &stats), DYNN_EINVAL);
  EXPECT(dynn_bn_stats_load("/nonexistent.pt", &stats) != DYNN_OK);
  EXPECT_ERR(dynn_bn_stats_levels(NULL, ids, 16, &count), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_apply_bn_stats(net, &a, NULL, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_has_bn_stats(net, &a, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_has_bn_stats(NULL, &a, &has), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_has_bn_stats(net, NULL, &has), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_apply_bn_stats(NULL, &a, NULL, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_supernet_clear_bn_stats(net, NULL), DYNN_EINVAL);
  EXPECT(dynn_supernet_has_bn_stats(net, &a, &has) == DYNN_OK);
  EXPECT(has == 0);
  EXPECT_ERR(dynn_supernet_clear_bn_stats(NULL, &a), DYNN_EINVAL);
  dynn_bn_stats_free(NULL);

  if (shared_missing("BN statistics part")) {
    dynn_supernet_free(net);
    return;
  }
  snprintf(path, sizeof path, "%s/data/dynamic_ofa/nets_6_levels.json", shared);
  EXPECT_OK(dynn_profile_load_levels(path, "cpu", &levels));
  if (!levels) {
    dynn_supernet_free(net);
    return;
  }
  snprintf(path, sizeof path, "%s/data/dynamic_ofa/nets_6_bn_stats.pt", shared);
  EXPECT(dynn_bn_stats_load(path, &stats) == DYNN_OK);
  if (stats) {
    EXPECT(dynn_bn_stats_levels(stats, NULL, 0, &count) == DYNN_OK);
    EXPECT(count == 6);
    EXPECT_ERR(dynn_bn_stats_levels(stats, ids, 2, &count), DYNN_EBUFS);
    EXPECT(dynn_bn_stats_levels(stats, ids, 16, &count) == DYNN_OK);
    EXPECT(ids[0] == 0 && ids[5] == 5);
    memset(&l0, 0, sizeof l0);
    l0.struct_size = sizeof l0;
    EXPECT(dynn_profile_get_point(levels, 0, &l0) == DYNN_OK);
    EXPECT_ERR(dynn_supernet_apply_bn_stats(net, &l0.subnet, stats, 42), DYNN_ENOTFOUND);
    EXPECT_ERR(dynn_supernet_apply_bn_stats(net, &a, stats, 0), DYNN_EINVAL); /* level 0's stats don't fit a */
    EXPECT(dynn_supernet_apply_bn_stats(net, &l0.subnet, stats, 0) == DYNN_OK);
    EXPECT(dynn_supernet_has_bn_stats(net, &l0.subnet, &has) == DYNN_OK);
    EXPECT(has == 1);
    EXPECT(dynn_supernet_clear_bn_stats(net, &l0.subnet) == DYNN_OK);
    EXPECT(dynn_supernet_has_bn_stats(net, &l0.subnet, &has) == DYNN_OK);
    EXPECT(has == 0);
    dynn_bn_stats_free(stats);
  }
  dynn_profile_free(levels);
  dynn_supernet_free(net);
}

/* dynn_supernet_set_subnet keeps recently parsed texts: a text seen before switches to the
 * sub-network it named, texts beyond the cache's size still parse, a bad text is an error every
 * time (never cached). */
static void switch_by_text(void) {
  dynn_supernet* net = NULL;
  dynn_subnet cfg, got;
  char json[24][512];
  int i, j;
  EXPECT(dynn_supernet_create_random(1.0, 5, NULL, &net) == DYNN_OK);
  if (!net) return;
  for (i = 0; i < 24; ++i) {
    EXPECT(dynn_subnet_uniform(3 + 2 * (i % 3), 3, 2, 128 + 4 * (i % 8), &cfg) == DYNN_OK);
    cfg.e[i % DYNN_OFA_NUM_BLOCKS] = 6; /* 24 distinct sub-networks */
    cfg.d[i % DYNN_OFA_NUM_STAGES] = 3 + (i / 20);
    EXPECT(dynn_subnet_to_json(&cfg, json[i], sizeof json[i], NULL) == DYNN_OK);
  }
  for (j = 0; j < 3; ++j) {
    for (i = 0; i < 24; ++i) {
      int k = (i * 7 + j) % 24; /* revisit in another order each round: hits and evictions */
      dynn_subnet want;
      EXPECT(dynn_supernet_set_subnet(net, json[k]) == DYNN_OK);
      EXPECT(dynn_subnet_parse(json[k], &want) == DYNN_OK);
      EXPECT(dynn_supernet_get_subnet(net, &got) == DYNN_OK);
      EXPECT(memcmp(&got, &want, sizeof got) == 0);
    }
    EXPECT_ERR(dynn_supernet_set_subnet(net, "{\"ks\":[9],\"e\":[3],\"d\":[2],\"r\":128}"), DYNN_EINVAL);
  }
  dynn_supernet_free(net);
}

int main(void) {
  misuse();
  switch_by_text();
  structs_and_stats();
  fixture();
  return test_result();
}
