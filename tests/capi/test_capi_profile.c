/* Sub-networks, profiles, Pareto fronts, MACs, latency tables and the accuracy predictor through
 * the C ABI. The Dynamic-OFA parts need DYNN_SHARED_DIR (skipped with a note otherwise). */
#include "capi_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>



static void subnets(void) {
  dynn_subnet a, b;
  char buf[512], small[8];
  size_t needed = 0;
  int64_t macs_small = 0, macs_big = 0;

  EXPECT_ERR(dynn_subnet_parse(NULL, &a), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_parse("{\"ks\":[3]}", NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_parse("{not json", &a), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_uniform(4, 3, 2, 160, &a), DYNN_EINVAL); /* kernel 4 */
  EXPECT_ERR(dynn_subnet_uniform(3, 3, 2, 160, NULL), DYNN_EINVAL);
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 160, &a));
  EXPECT(a.ks[19] == 3 && a.e[0] == 3 && a.d[4] == 2 && a.r == 160);
  EXPECT_OK(dynn_subnet_validate(&a));
  EXPECT_ERR(dynn_subnet_validate(NULL), DYNN_EINVAL);
  b = a;
  b.e[7] = 5;
  EXPECT_ERR(dynn_subnet_validate(&b), DYNN_EINVAL);
  EXPECT(strstr(dynn_last_error(), "e") != NULL);
  b = a;
  b.d[0] = 9;
  EXPECT_ERR(dynn_subnet_validate(&b), DYNN_EINVAL);
  b.d[0] = 2;
  b.r = 7;
  EXPECT_ERR(dynn_subnet_validate(&b), DYNN_EINVAL);

  EXPECT_OK(dynn_subnet_to_json(&a, buf, sizeof buf, &needed));
  EXPECT(needed == strlen(buf) + 1);
  EXPECT_ERR(dynn_subnet_to_json(&a, small, sizeof small, &needed), DYNN_EBUFS);
  EXPECT_ERR(dynn_subnet_to_json(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  memset(&b, 0, sizeof b);
  EXPECT_OK(dynn_subnet_parse(buf, &b));
  EXPECT(memcmp(&a, &b, sizeof a) == 0);
  EXPECT_OK(dynn_subnet_parse("ks=33333333333333333333 e=44444444444444444444 d=22222 r=128", &b));
  EXPECT(b.e[3] == 4 && b.r == 128);

  EXPECT_ERR(dynn_subnet_macs(&a, 1.0, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_macs(NULL, 1.0, &macs_small), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_macs(&a, -1.0, &macs_small), DYNN_EINVAL);
  EXPECT_ERR(dynn_subnet_macs(&a, NAN, &macs_small), DYNN_EINVAL);
  EXPECT_OK(dynn_subnet_macs(&a, 1.0, &macs_small));
  EXPECT_OK(dynn_subnet_uniform(7, 6, 4, 224, &b));
  EXPECT_OK(dynn_subnet_macs(&b, 1.0, &macs_big));
  EXPECT(macs_small > 10000000 && macs_big > 5 * macs_small);
}

static dynn_operating_point make_point(const dynn_subnet* s, double lat, double acc) {
  dynn_operating_point p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.subnet = *s;
  p.latency_ms = lat;
  p.latency_p90_ms = lat * 1.1;
  p.power_w = NAN;
  p.energy_mj = NAN;
  p.accuracy = acc;
  p.level = -1;
  p.accuracy_source = DYNN_ACCURACY_MEASURED;
  return p;
}

static void profiles(void) {
  dynn_profile *p = NULL, *q = NULL;
  dynn_subnet s;
  dynn_operating_point a, b, got;
  size_t n = 0, idx = 0, front[8], count = 0, needed = 0;
  char buf[256], path[256], small[4];
  FILE* f;

  EXPECT_ERR(dynn_profile_create(NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_load(NULL, &p), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_load("/nonexistent.json", NULL), DYNN_EINVAL);
  EXPECT(dynn_profile_load("/nonexistent.json", &p) != DYNN_OK);
  EXPECT_ERR(dynn_profile_from_json("{\"format\":\"nope\"}", &p), DYNN_EPARSE);
  EXPECT_ERR(dynn_profile_from_json(NULL, &p), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_load_levels(NULL, NULL, &p), DYNN_EINVAL);
  EXPECT(p == NULL);
  EXPECT_ERR(dynn_profile_save(NULL, "/tmp/x.json"), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_to_json(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_num_points(NULL, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_get_point(NULL, 0, &got), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_point_string(NULL, 0, DYNN_POINT_ID, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_find_point(NULL, "x", &idx), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_add_point(NULL, &a, "x", NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_pareto_front(NULL, "latency,accuracy", front, 8, &count), DYNN_EINVAL);
  dynn_profile_free(NULL);

  EXPECT_OK(dynn_profile_create(&p));
  if (!p) return;
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 160, &s));
  a = make_point(&s, 20, 0.70);
  EXPECT_OK(dynn_subnet_uniform(5, 4, 3, 192, &s));
  b = make_point(&s, 35, 0.76);
  b.energy_mj = 120;
  EXPECT_ERR(dynn_profile_add_point(p, NULL, "a", NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_add_point(p, &a, NULL, NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_add_point(p, &a, "", NULL, NULL), DYNN_EINVAL);
  a.struct_size = 8;
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", NULL, NULL), DYNN_EINVAL);
  a.struct_size = sizeof a;
  a.accuracy = 7;
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", NULL, NULL), DYNN_EINVAL);
  a.accuracy = 0.70;
  a.latency_ms = -1;
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", NULL, NULL), DYNN_EINVAL);
  a.latency_ms = 20;
  a.accuracy_source = 9;
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", NULL, NULL), DYNN_EINVAL);
  a.accuracy_source = DYNN_ACCURACY_MEASURED;
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", "cpu", "{\"gpu.freq\": \"fast\"}"), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", "cpu", "[1,2"), DYNN_EPARSE);
  EXPECT_OK(dynn_profile_add_point(p, &a, "a", NULL, NULL));
  EXPECT_ERR(dynn_profile_add_point(p, &a, "a", NULL, NULL), DYNN_EINVAL); /* duplicate id */
  EXPECT_OK(dynn_profile_add_point(p, &b, "b", "gpu", "{\"gpu.freq\": 1109250000}"));
  /* c: slower and less accurate than b, off the front */
  EXPECT_OK(dynn_subnet_uniform(7, 6, 4, 224, &s));
  {
    dynn_operating_point c = make_point(&s, 50, 0.74);
    EXPECT_OK(dynn_profile_add_point(p, &c, "c", "gpu", NULL));
  }
  EXPECT_OK(dynn_profile_num_points(p, &n));
  EXPECT(n == 3);
  memset(&got, 0, sizeof got);
  got.struct_size = sizeof got;
  EXPECT_OK(dynn_profile_get_point(p, 1, &got));
  EXPECT(got.latency_ms == 35 && got.energy_mj == 120 && isnan(got.power_w) && got.subnet.r == 192);
  EXPECT_ERR(dynn_profile_get_point(p, 3, &got), DYNN_EINVAL);
  got.struct_size = 0;
  EXPECT_ERR(dynn_profile_get_point(p, 0, &got), DYNN_EINVAL);
  /* An older, shorter struct gets only its fields. */
  {
    dynn_operating_point old;
    memset(&old, 0xAB, sizeof old);
    old.struct_size = offsetof(dynn_operating_point, latency_p90_ms);
    EXPECT_OK(dynn_profile_get_point(p, 1, &old));
    EXPECT(old.latency_ms == 35 && old.struct_size == offsetof(dynn_operating_point, latency_p90_ms));
    EXPECT(old.latency_p90_ms != 35 * 1.1); /* untouched */
  }
  EXPECT_OK(dynn_profile_point_string(p, 1, DYNN_POINT_HARDWARE, buf, sizeof buf, NULL));
  EXPECT(strstr(buf, "1109250000") != NULL);
  EXPECT_OK(dynn_profile_point_string(p, 1, DYNN_POINT_DEVICE, buf, sizeof buf, NULL));
  EXPECT(strcmp(buf, "gpu") == 0);
  EXPECT_ERR(dynn_profile_point_string(p, 1, 42, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_point_string(p, 1, DYNN_POINT_ID, small, 1, &needed), DYNN_EBUFS);
  EXPECT(needed == 2);
  EXPECT_OK(dynn_profile_find_point(p, "c", &idx));
  EXPECT(idx == 2);
  EXPECT_ERR(dynn_profile_find_point(p, "zz", &idx), DYNN_ENOTFOUND);

  /* Pareto front over (latency, accuracy): a and b. */
  EXPECT_OK(dynn_profile_pareto_front(p, "latency, accuracy", NULL, 0, &count));
  EXPECT(count == 2);
  EXPECT_ERR(dynn_profile_pareto_front(p, "latency,accuracy", front, 1, &count), DYNN_EBUFS);
  EXPECT_OK(dynn_profile_pareto_front(p, "latency,accuracy", front, 8, &count));
  EXPECT(count == 2 && front[0] == 0 && front[1] == 1);
  EXPECT_ERR(dynn_profile_pareto_front(p, "latency,beauty", front, 8, &count), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_pareto_front(p, "", front, 8, &count), DYNN_EINVAL);
  EXPECT_ERR(dynn_profile_pareto_front(p, "latency", front, 8, NULL), DYNN_EINVAL);

  /* Save, load back, compare. */
  snprintf(path, sizeof path, "/tmp/dynn_capi_profile_%ld.json", (long)clock());
  EXPECT_OK(dynn_profile_save(p, path));
  EXPECT_OK(dynn_profile_load(path, &q));
  if (q) {
    EXPECT_OK(dynn_profile_num_points(q, &n));
    EXPECT(n == 3);
    got.struct_size = sizeof got;
    EXPECT_OK(dynn_profile_get_point(q, 1, &got));
    EXPECT(got.energy_mj == 120 && got.accuracy == 0.76);
    dynn_profile_free(q);
  }
  remove(path);
  EXPECT_ERR(dynn_profile_to_json(p, small, sizeof small, &needed), DYNN_EBUFS);
  {
    char* json = (char*)malloc(needed);
    EXPECT_OK(dynn_profile_to_json(p, json, needed, NULL));
    EXPECT_OK(dynn_profile_from_json(json, &q));
    dynn_profile_free(q);
    q = NULL;
    free(json);
  }
  /* A corrupt file is a parse error naming the field. */
  f = fopen(path, "w");
  if (f) {
    fputs("{\"format\":\"dynn-profile\",\"version\":1,\"device_name\":\"x\",\"supernet\":\"y\",\"created\":\"\","
          "\"notes\":\"\",\"points\":[{\"id\":5}]}", f);
    fclose(f);
    EXPECT(dynn_profile_load(path, &q) == DYNN_EPARSE);
    EXPECT(strstr(dynn_last_error(), "points[0]") != NULL);
    remove(path);
  }
  EXPECT_ERR(dynn_profile_save(p, "/nonexistent/dir/p.json"), DYNN_EIO);
  dynn_profile_free(p);
}

static void dynamic_ofa(void) {
  char path[1024];
  dynn_profile* p = NULL;
  dynn_latency_table* t = NULL;
  dynn_accuracy_predictor* acc = NULL;
  dynn_operating_point l0, l5;
  size_t n = 0, count = 0;
  int32_t res[64];
  double ms0 = 0, ms5 = 0, a0 = 0, a5 = 0;
  int64_t macs = 0;

  if (shared_missing("Dynamic-OFA part")) return;
  snprintf(path, sizeof path, "%s/data/dynamic_ofa/nets_6_levels.json", shared_dir());
  EXPECT_OK(dynn_profile_load_levels(path, "gpu", &p));
  if (!p) return;
  EXPECT_OK(dynn_profile_num_points(p, &n));
  EXPECT(n == 6);
  memset(&l0, 0, sizeof l0);
  l0.struct_size = sizeof l0;
  l5 = l0;
  EXPECT_OK(dynn_profile_get_point(p, 0, &l0));
  EXPECT_OK(dynn_profile_get_point(p, 5, &l5));
  EXPECT(l0.level == 0 && l5.level == 5 && l0.accuracy_source == DYNN_ACCURACY_PUBLISHED);
  EXPECT(fabs(l0.latency_ms - 41.1589) < 1e-3 && fabs(l0.accuracy - 0.74202) < 1e-9);
  EXPECT_OK(dynn_subnet_macs(&l0.subnet, 1.2, &macs));
  EXPECT((double)macs == l0.macs);

  snprintf(path, sizeof path, "%s/data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu", shared_dir());
  EXPECT_ERR(dynn_latency_table_load(NULL, 1.2, &t), DYNN_EINVAL);
  EXPECT_ERR(dynn_latency_table_load(path, 0, &t), DYNN_EINVAL);
  EXPECT(dynn_latency_table_load("/nonexistent", 1.2, &t) == DYNN_ENOTFOUND);
  EXPECT_OK(dynn_latency_table_load(path, 1.2, &t));
  if (t) {
    EXPECT_OK(dynn_latency_table_resolutions(t, NULL, 0, &count));
    EXPECT(count > 3);
    EXPECT_OK(dynn_latency_table_resolutions(t, res, 64, &count));
    EXPECT(res[0] < res[count - 1]);
    EXPECT_ERR(dynn_latency_table_resolutions(t, res, 1, &count), DYNN_EBUFS);
    EXPECT_ERR(dynn_latency_table_resolutions(NULL, res, 64, &count), DYNN_EINVAL);
    EXPECT_ERR(dynn_latency_table_resolutions(t, res, 64, NULL), DYNN_EINVAL);
    EXPECT_OK(dynn_latency_table_predict(t, &l0.subnet, &ms0));
    EXPECT_OK(dynn_latency_table_predict(t, &l5.subnet, &ms5));
    EXPECT(ms0 > 0 && ms5 > ms0);
    EXPECT_ERR(dynn_latency_table_predict(t, NULL, &ms0), DYNN_EINVAL);
    EXPECT_ERR(dynn_latency_table_predict(NULL, &l0.subnet, &ms0), DYNN_EINVAL);
    {
      dynn_subnet odd = l0.subnet;
      odd.r = 100; /* valid sub-network, resolution outside the tables */
      EXPECT_ERR(dynn_latency_table_predict(t, &odd, &ms0), DYNN_ENOTFOUND);
    }
    dynn_latency_table_free(t);
  }
  dynn_latency_table_free(NULL);

  snprintf(path, sizeof path, "%s/data/dynamic_ofa/acc_predictor.pth", shared_dir());
  EXPECT_ERR(dynn_accuracy_predictor_load(NULL, &acc), DYNN_EINVAL);
  EXPECT(dynn_accuracy_predictor_load("/nonexistent.pth", &acc) != DYNN_OK);
  EXPECT_OK(dynn_accuracy_predictor_load(path, &acc));
  if (acc) {
    EXPECT_OK(dynn_accuracy_predictor_predict(acc, &l0.subnet, &a0));
    EXPECT_OK(dynn_accuracy_predictor_predict(acc, &l5.subnet, &a5));
    EXPECT(a0 > 0.6 && a0 < 0.9 && a5 > a0);
    EXPECT_ERR(dynn_accuracy_predictor_predict(acc, &l0.subnet, NULL), DYNN_EINVAL);
    EXPECT_ERR(dynn_accuracy_predictor_predict(NULL, &l0.subnet, &a0), DYNN_EINVAL);
    EXPECT_ERR(dynn_accuracy_predictor_predict(acc, NULL, &a0), DYNN_EINVAL);
    {
      dynn_subnet odd = l0.subnet;
      odd.r = 100; /* outside the predictor's 112..239 */
      EXPECT_ERR(dynn_accuracy_predictor_predict(acc, &odd, &a0), DYNN_EINVAL);
    }
    dynn_accuracy_predictor_free(acc);
  }
  dynn_accuracy_predictor_free(NULL);
  dynn_profile_free(p);
}

int main(void) {
  subnets();
  profiles();
  dynamic_ofa();
  return test_result();
}
