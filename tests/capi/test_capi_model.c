/* dynn_model_*: both families through the family-agnostic C handle, against the golden logits of
 * the OFA reference (../shared/fixtures), plus the errors a C caller can provoke. */
#include <math.h>
#include <stdint.h>

#include "capi_test.h"

static char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  char* buf;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = (char*)malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[n] = 0;
  if (size) *size = (size_t)n;
  return buf;
}

/* The fixture criterion: max|y-ref| <= 5e-4 max|ref|, same argmax per row. */
static int close_to(const float* y, const float* ref, size_t n, size_t classes) {
  double max_ref = 0, max_diff = 0;
  size_t i, row;
  for (i = 0; i < n; ++i) {
    if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    if (fabs(y[i] - ref[i]) > max_diff) max_diff = fabs(y[i] - ref[i]);
  }
  if (max_diff > 5e-4 * max_ref) return 0;
  for (row = 0; row < n / classes; ++row) {
    size_t a = 0, b = 0, k;
    for (k = 1; k < classes; ++k) {
      if (y[row * classes + k] > y[row * classes + a]) a = k;
      if (ref[row * classes + k] > ref[row * classes + b]) b = k;
    }
    if (a != b) return 0;
  }
  return 1;
}

/* Runs every case of fixtures/<dir> through the model: the "subnet" object of each case (no
 * nested braces) is handed over as it is written in cases.json. */
static void run_fixture(dynn_model* m, const char* dir) {
  char path[1024];
  char* cases;
  const char* at;
  int index = 0;
  snprintf(path, sizeof path, "%s/fixtures/%s/cases.json", shared_dir(), dir);
  cases = read_file(path, NULL);
  EXPECT(cases != NULL);
  if (!cases) return;
  at = cases;
  while ((at = strstr(at, "\"subnet\"")) != NULL) {
    const char* open = strchr(at, '{');
    const char* close = open ? strchr(open, '}') : NULL;
    const char* shape = strstr(at, "\"input_shape\"");
    char subnet[2048];
    long n = 0, c = 0, h = 0, w = 0;
    size_t in_size = 0, ref_size = 0, written = 0;
    float *input, *ref, *y;
    int r = 0;
    if (!open || !close || !shape || (size_t)(close - open + 1) >= sizeof subnet) break;
    memcpy(subnet, open, (size_t)(close - open + 1));
    subnet[close - open + 1] = 0;
    EXPECT(sscanf(strchr(shape, '['), "[%ld, %ld, %ld, %ld]", &n, &c, &h, &w) == 4);
    snprintf(path, sizeof path, "%s/fixtures/%s/case%02d_input.f32", shared_dir(), dir, index);
    input = (float*)read_file(path, &in_size);
    snprintf(path, sizeof path, "%s/fixtures/%s/case%02d_logits.f32", shared_dir(), dir, index);
    ref = (float*)read_file(path, &ref_size);
    EXPECT(input && ref && in_size == (size_t)(n * c * h * w) * sizeof(float));
    y = (float*)calloc(ref_size / sizeof(float), sizeof(float));
    EXPECT_OK(dynn_model_set_subnet(m, subnet));
    EXPECT_OK(dynn_model_subnet_resolution(m, NULL, &r));
    EXPECT(r == h);
    EXPECT_OK(dynn_model_infer(m, input, n, c, h, w, y, ref_size / sizeof(float), &written));
    EXPECT(written == ref_size / sizeof(float));
    if (!close_to(y, ref, written, 1000)) {
      fprintf(stderr, "%s case %02d: logits differ from the reference\n", dir, index);
      ++failures;
    }
    free(input);
    free(ref);
    free(y);
    at = close;
    ++index;
  }
  EXPECT(index == 10);
  free(cases);
}

/* A ResNet-50 model under the runtime manager on the simulated board (the model computes the
 * logits, the simulator times the points' recorded latencies): the plan follows the target. */
static void run_under_manager(dynn_model* m) {
  static const char* kE2 = "[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2]";
  static const char* kE35 = "[0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35]";
  char json[4096], buf[1024];
  dynn_platform* plat = NULL;
  dynn_profile* prof = NULL;
  dynn_profile* mbv3 = NULL;
  dynn_controller* ctl = NULL;
  dynn_manager* mgr = NULL;
  dynn_subnet sub;
  dynn_step_result res;
  dynn_targets t = dynn_targets_default();
  int32_t point = -1;
  float* img = (float*)calloc(3 * 224 * 224, sizeof(float));
  float* logits = (float*)malloc(1000 * sizeof(float));
  snprintf(json, sizeof json,
           "{\"format\":\"dynn-profile\",\"version\":1,\"device_name\":\"sim\",\"supernet\":\"ofa_resnet50\","
           "\"family\":\"ofa_resnet50\",\"created\":\"\",\"points\":["
           "{\"id\":\"R0\",\"subnet\":{\"d\":[0,0,0,0,0],\"e\":%s,\"w\":[0,0,0,0,0,0],\"r\":128},\"device\":\"cpu\","
           "\"hardware\":{},\"latency_ms\":5,\"latency_p90_ms\":5,\"accuracy\":0.7,\"accuracy_source\":\"predicted\",\"macs\":0},"
           "{\"id\":\"R1\",\"subnet\":{\"d\":[2,2,2,2,2],\"e\":%s,\"w\":[2,2,2,2,2,2],\"r\":224},\"device\":\"cpu\","
           "\"hardware\":{},\"latency_ms\":20,\"latency_p90_ms\":20,\"accuracy\":0.8,\"accuracy_source\":\"predicted\",\"macs\":0}]}",
           kE2, kE35);
  EXPECT_OK(dynn_profile_from_json(json, &prof));
  snprintf(buf, sizeof buf, "%s/data/dynamic_ofa/nets_6_levels.json", shared_dir());
  EXPECT_OK(dynn_profile_load_levels(buf, "cpu", &mbv3));
  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", NULL, &plat));
  EXPECT_OK(dynn_controller_create("pareto", NULL, &ctl));
  if (prof && plat && ctl && img && logits) {
    if (mbv3) { /* a MobileNetV3 profile for a ResNet-50 model: refused, naming the point */
      EXPECT_ERR(dynn_manager_create_model(plat, mbv3, ctl, m, NULL, &mgr), DYNN_EINVAL);
      EXPECT(strstr(dynn_last_error(), "holds an ofa_mbv3 sub-network, the model is ofa_resnet50") != NULL);
    }
    t.latency_ms = 30;
    {
      dynn_manager_params mp = dynn_manager_default_params();
      mp.targets = t;
      EXPECT_OK(dynn_manager_create_model(plat, prof, ctl, m, &mp, &mgr));
    }
  }
  if (mgr) {
    EXPECT_OK(dynn_manager_plan(mgr, &point, &sub));
    EXPECT(point == 1 && sub.r == 224 && sub.ks[0] == 0); /* another family: only r in dynn_subnet */
    EXPECT_OK(dynn_manager_point_string(mgr, (size_t)point, DYNN_POINT_FAMILY, buf, sizeof buf, NULL));
    EXPECT(strcmp(buf, "ofa_resnet50") == 0);
    EXPECT_OK(dynn_manager_point_string(mgr, (size_t)point, DYNN_POINT_SUBNET, buf, sizeof buf, NULL));
    EXPECT(strstr(buf, "\"w\":[2,2,2,2,2,2]") != NULL);
    res.struct_size = sizeof res;
    EXPECT_OK(dynn_manager_infer(mgr, img, 1, 3, sub.r, sub.r, logits, 1000, &res));
    EXPECT(res.point == 1 && res.latency_ms > 0); /* simulated time: the board's clocks, not the recorded reference's */
    EXPECT(isfinite(logits[0]) && isfinite(logits[999]));
    t.latency_ms = 10; /* only R0 can come near it */
    EXPECT_OK(dynn_manager_set_targets(mgr, &t));
    EXPECT_OK(dynn_manager_plan(mgr, &point, &sub));
    EXPECT(point == 0 && sub.r == 128);
    EXPECT_OK(dynn_manager_infer(mgr, img, 1, 3, 128, 128, logits, 1000, &res));
    EXPECT(res.point == 0);
    EXPECT_OK(dynn_model_current_subnet(m, buf, sizeof buf, NULL));
    EXPECT(strstr(buf, "\"r\":128") != NULL); /* the manager switched the model itself */
    {
      dynn_manager* other = NULL;
      EXPECT_ERR(dynn_manager_create_model(plat, prof, NULL, m, NULL, &other), DYNN_EINVAL);
      EXPECT(other == NULL && strstr(dynn_last_error(), "dynn_manager_create_model: controller is NULL") != NULL);
    }
    dynn_manager_free(mgr);
  }
  dynn_controller_free(ctl);
  dynn_profile_free(prof);
  dynn_profile_free(mbv3);
  dynn_platform_free(plat);
  free(img);
  free(logits);
}

int main(void) {
  char path[1024];
  dynn_model* m = NULL;
  double macs_big = 0, params_big = 0, macs_small = 0, params_small = 0;
  char buf[1024];
  size_t needed = 0;
  int threads = 0;

  EXPECT_ERR(dynn_model_load(NULL, NULL, &m), DYNN_EINVAL);
  EXPECT_ERR(dynn_model_load("/nonexistent/x.pth", NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_model_load("/nonexistent/x.pth", NULL, &m), DYNN_ENOTFOUND);
  EXPECT(m == NULL);
  EXPECT(dynn_model_family(NULL) == NULL);
  EXPECT(dynn_model_num_classes(NULL) == 0);
  EXPECT_ERR(dynn_model_set_subnet(NULL, "{}"), DYNN_EINVAL);
  EXPECT_ERR(dynn_model_infer(NULL, NULL, 1, 3, 8, 8, NULL, 0, NULL), DYNN_EINVAL);
  dynn_model_free(NULL);

  if (!shared_missing("fixture cases")) {
    /* OFA ResNet-50, detected from its keys. */
    snprintf(path, sizeof path, "%s/fixtures/ofa_resnet50_narrow/supernet.pth", shared_dir());
    EXPECT_ERR(dynn_model_load(path, "{\"engine\":\"fast\",\"colour\":1}", &m), DYNN_EINVAL);
    EXPECT(strstr(dynn_last_error(), "colour") != NULL);
    EXPECT_ERR(dynn_model_load(path, "{\"family\":\"ofa_mbv3\"}", &m), DYNN_EINVAL); /* forced, wrong keys */
    EXPECT_ERR(dynn_model_load(path, "{\"family\":\"lenet\"}", &m), DYNN_ENOTFOUND);
    EXPECT_ERR(dynn_model_load(path, "[1]", &m), DYNN_EINVAL);
    EXPECT_ERR(dynn_model_load(path, "{\"spin_workers\":1}", &m), DYNN_EINVAL);
    EXPECT(strstr(dynn_last_error(), "spin_workers") != NULL);
    /* Two threads whose workers spin between inferences, then sleeping ones (the default): the
     * same exact outputs either way. */
    EXPECT_OK(dynn_model_load(path, "{\"num_threads\":2,\"spin_workers\":true}", &m));
    if (m) {
      run_fixture(m, "ofa_resnet50_narrow");
      dynn_model_free(m);
      m = NULL;
    }
    EXPECT_OK(dynn_model_load(path, "{\"num_threads\":2}", &m));
    if (m) {
      run_fixture(m, "ofa_resnet50_narrow");
      dynn_model_free(m);
      m = NULL;
    }
    EXPECT_OK(dynn_model_load(path, "{\"num_threads\":1}", &m));
    if (m) {
      EXPECT(strcmp(dynn_model_family(m), "ofa_resnet50") == 0);
      EXPECT(dynn_model_num_classes(m) == 1000);
      EXPECT_OK(dynn_model_get_threads(m, &threads));
      EXPECT(threads == 1);
      run_fixture(m, "ofa_resnet50_narrow");
      EXPECT_ERR(dynn_model_set_subnet(m, "{\"d\":[2,2,2,2,2],\"e\":[0.35],\"w\":[2,2,2,2,2,2],\"r\":224}"), DYNN_EINVAL);
      EXPECT(strstr(dynn_last_error(), "'e'") != NULL);
      EXPECT_ERR(dynn_model_set_subnet(m, "{\"ks\":[3],\"e\":[3],\"d\":[2],\"r\":224}"), DYNN_EINVAL);
      EXPECT(strstr(dynn_last_error(), "'ks'") != NULL);
      EXPECT_OK(dynn_model_subnet_info(m, "{\"d\":[2,2,2,2,2],\"e\":[0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35],\"w\":[2,2,2,2,2,2],\"r\":224}", &macs_big, &params_big));
      EXPECT_OK(dynn_model_subnet_info(m, "{\"d\":[0,0,0,0,0],\"e\":[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2],\"w\":[0,0,0,0,0,0],\"r\":128}", &macs_small, &params_small));
      EXPECT(params_big == 3333888.0); /* the largest sub-network is the whole supernet */
      EXPECT(macs_small > 0 && macs_small < macs_big / 4);
      EXPECT(params_small < params_big);
      EXPECT_OK(dynn_model_current_subnet(m, buf, sizeof buf, &needed));
      EXPECT(strstr(buf, "\"w\":[") != NULL);
      EXPECT_ERR(dynn_model_current_subnet(m, buf, 4, &needed), DYNN_EBUFS);
      EXPECT_ERR(dynn_model_infer(m, (const float*)buf, 1, 3, 17, 17, (float*)buf, 1, NULL), DYNN_EINVAL);
      EXPECT(strstr(dynn_last_error(), "resolution") != NULL);
      EXPECT_ERR(dynn_model_set_threads(m, 0), DYNN_EINVAL);
      run_under_manager(m);
      dynn_model_free(m);
      m = NULL;
    }
    /* The legacy container of the same supernet. */
    snprintf(path, sizeof path, "%s/fixtures/ofa_resnet50_narrow/supernet_legacy.pth", shared_dir());
    EXPECT_OK(dynn_model_load(path, "{\"engine\":\"reference\"}", &m));
    if (m) {
      run_fixture(m, "ofa_resnet50_narrow");
      dynn_model_free(m);
      m = NULL;
    }

    /* OFA MobileNetV3 through the same handle. */
    snprintf(path, sizeof path, "%s/fixtures/ofa_mbv3_w1.0/supernet.pth", shared_dir());
    EXPECT_OK(dynn_model_load(path, NULL, &m));
    if (m) {
      EXPECT(strcmp(dynn_model_family(m), "ofa_mbv3") == 0);
      run_fixture(m, "ofa_mbv3_w1.0");
      EXPECT_ERR(dynn_model_set_subnet(m, "{\"ks\":[3],\"e\":[3],\"d\":[2,2,2,2,2],\"r\":224}"), DYNN_EINVAL);
      EXPECT(strstr(dynn_last_error(), "ks") != NULL);
      EXPECT_OK(dynn_model_subnet_info(m, NULL, &macs_big, &params_big));
      EXPECT(macs_big > 1e8 && params_big > 1e6);
      dynn_model_free(m);
      m = NULL;
    }
  }
  return test_result();
}
