/* Supernet through the C ABI: every misuse returns an error code with a message; a random
 * supernet and (when ../shared is present) the fixture supernet run. */
#include <dynn/dynn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, #cond, dynn_last_error()); ++failures; } } while (0)
#define EXPECT_ERR(call, code) do { dynn_status s_ = (call); EXPECT(s_ == (code)); EXPECT(strlen(dynn_last_error()) > 0); } while (0)

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
  dynn_supernet_free(net);
  dynn_supernet_free(NULL);
}

static void fixture(void) {
  const char* shared = getenv("DYNN_SHARED_DIR");
  char path[1024];
  dynn_supernet* net = NULL;
  size_t nin = 0, nref = 0, written = 0, i;
  float *in, *ref, *out;
  double max_ref = 0, max_diff = 0;
  if (!shared) shared = DYNN_SHARED_DIR_DEFAULT;
  snprintf(path, sizeof path, "%s/fixtures/ofa_mbv3_w1.0/supernet_legacy.pth", shared);
  if (dynn_supernet_load(path, NULL, &net) != DYNN_OK) {
    printf("fixture part skipped: %s (%s)\n", path, dynn_last_error());
    return;
  }
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

int main(void) {
  misuse();
  fixture();
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
