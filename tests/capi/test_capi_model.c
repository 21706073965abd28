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
