/* Platforms through the C ABI: a simulated Xavier NX (knobs, sensors, simulator), a fake sysfs
 * tree for detection, and every misuse answered with an error code. */
#define _POSIX_C_SOURCE 200809L
#include "capi_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static void misuse(void) {
  dynn_platform* p = NULL;
  dynn_sim_params sp = dynn_sim_default_params();
  size_t n = 0, idx = 0;
  int64_t v = 0;
  double d = 0;
  char buf[64];
  dynn_knob_info ki;
  dynn_sensor_info si;
  dynn_sim_inference r;

  EXPECT_ERR(dynn_platform_create_simulated(NULL, NULL, &p), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_create_simulated("xavier-nx", NULL, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_create_simulated("pdp-11", NULL, &p), DYNN_ENOTFOUND);
  EXPECT(strstr(dynn_last_error(), "xavier-nx") != NULL); /* lists the names */
  sp.struct_size = 2;
  EXPECT_ERR(dynn_platform_create_simulated("xavier-nx", &sp, &p), DYNN_EINVAL);
  sp.struct_size = sizeof sp + 8;
  EXPECT_ERR(dynn_platform_create_simulated("xavier-nx", &sp, &p), DYNN_EINVAL);
  sp = dynn_sim_default_params();
  sp.latency_noise = -1;
  EXPECT_ERR(dynn_platform_create_simulated("xavier-nx", &sp, &p), DYNN_EINVAL);
  sp = dynn_sim_default_params();
  sp.thermal_resistance = -2;
  EXPECT_ERR(dynn_platform_create_simulated("xavier-nx", &sp, &p), DYNN_EINVAL);
  sp = dynn_sim_default_params();
  sp.cpu_lut_dir = "/nonexistent/lut";
  EXPECT(dynn_platform_create_simulated("xavier-nx", &sp, &p) != DYNN_OK);
  EXPECT(p == NULL);
  EXPECT_ERR(dynn_platform_detect("/nonexistent/root", &p), DYNN_ENOTFOUND);
  EXPECT_ERR(dynn_platform_detect(NULL, NULL), DYNN_EINVAL);
  EXPECT(p == NULL);

  EXPECT_ERR(dynn_platform_name(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_now(NULL, &d), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_idle(NULL, 1), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_report_json(NULL, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_num_knobs(NULL, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_find_knob(NULL, "gpu.freq", &idx), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_info(NULL, 0, &ki), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_string(NULL, 0, DYNN_KNOB_NAME, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_values(NULL, 0, NULL, 0, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_text_value(NULL, 0, 0, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_get(NULL, 0, &v), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_get_text(NULL, 0, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_set(NULL, 0, 1), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_set_text(NULL, 0, "x"), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_apply(NULL, "{}"), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_restore(NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_num_sensors(NULL, &n), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_find_sensor(NULL, "x", &idx), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sensor_info(NULL, 0, &si), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sensor_string(NULL, 0, DYNN_SENSOR_NAME, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sensor_read(NULL, 0, &d), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_load_latency_tables(NULL, "x", NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_run(NULL, NULL, NULL, &r), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_run_work(NULL, 10, NULL, &r), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_add_interference(NULL, DYNN_SIM_CPU, 0, 1, 0.5, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_clear_interference(NULL), DYNN_EINVAL);
  EXPECT(dynn_platform_is_simulated(NULL) == 0);
  dynn_platform_free(NULL);
}

static void simulated(void) {
  dynn_platform* p = NULL;
  size_t nk = 0, ns = 0, i, idx = 0, gov = 0, count = 0, needed = 0, e_idx = 0;
  int64_t v = 0, values[64];
  double t0 = 0, t1 = 0, e0 = 0, e1 = 0;
  char buf[256], small[4];
  dynn_knob_info ki;
  dynn_sensor_info si;
  dynn_sim_inference r;
  dynn_subnet cfg;
  int found_text = 0;

  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", NULL, &p));
  if (!p) return;
  EXPECT(dynn_platform_is_simulated(p) == 1);
  EXPECT_OK(dynn_platform_name(p, buf, sizeof buf, NULL));
  EXPECT_ERR(dynn_platform_name(p, small, sizeof small, &needed), DYNN_EBUFS);
  EXPECT(needed == strlen(buf) + 1);

  /* Knobs: metadata for every index, through caller buffers. */
  EXPECT_OK(dynn_platform_num_knobs(p, &nk));
  EXPECT(nk > 5);
  for (i = 0; i < nk; ++i) {
    memset(&ki, 0, sizeof ki);
    ki.struct_size = sizeof ki;
    EXPECT_OK(dynn_platform_knob_info(p, i, &ki));
    EXPECT_OK(dynn_platform_knob_string(p, i, DYNN_KNOB_NAME, buf, sizeof buf, NULL));
    EXPECT(strlen(buf) > 0);
    EXPECT_OK(dynn_platform_knob_string(p, i, DYNN_KNOB_ALLOWED, buf, sizeof buf, NULL));
    EXPECT_OK(dynn_platform_knob_string(p, i, DYNN_KNOB_VALUE, buf, sizeof buf, NULL));
    if (ki.type == DYNN_KNOB_TEXT) {
      found_text = 1;
      EXPECT_ERR(dynn_platform_knob_get(p, i, &v), DYNN_EUNSUPPORTED);
    }
  }
  EXPECT(found_text);
  EXPECT_ERR(dynn_platform_knob_info(p, nk, &ki), DYNN_EINVAL);
  ki.struct_size = 1;
  EXPECT_ERR(dynn_platform_knob_info(p, 0, &ki), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_string(p, 0, 99, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_string(p, 0, DYNN_KNOB_NAME, NULL, 0, &needed), DYNN_EBUFS);
  EXPECT(needed > 1);
  EXPECT_ERR(dynn_platform_find_knob(p, "warp.drive", &idx), DYNN_ENOTFOUND);
  EXPECT(strstr(dynn_last_error(), "gpu.freq") != NULL); /* lists the knobs */
  EXPECT_ERR(dynn_platform_find_knob(p, NULL, &idx), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_find_knob(p, "gpu.freq", NULL), DYNN_EINVAL);

  /* gpu.max_freq: the allowed list, a set, a refused value, restore. */
  EXPECT_OK(dynn_platform_find_knob(p, "gpu.max_freq", &idx));
  memset(&ki, 0, sizeof ki);
  ki.struct_size = sizeof ki;
  EXPECT_OK(dynn_platform_knob_info(p, idx, &ki));
  EXPECT(ki.type == DYNN_KNOB_NUMERIC && ki.readable && ki.num_values > 2 && ki.has_min && ki.has_max);
  EXPECT_OK(dynn_platform_knob_values(p, idx, NULL, 0, &count));
  EXPECT(count == ki.num_values);
  EXPECT_ERR(dynn_platform_knob_values(p, idx, values, 1, &count), DYNN_EBUFS);
  EXPECT(count == ki.num_values);
  EXPECT_ERR(dynn_platform_knob_values(p, idx, values, 64, NULL), DYNN_EINVAL);
  EXPECT_OK(dynn_platform_knob_values(p, idx, values, 64, &count));
  EXPECT(values[0] == ki.min && values[count - 1] == ki.max);
  EXPECT_OK(dynn_platform_knob_string(p, idx, DYNN_KNOB_UNIT, buf, sizeof buf, NULL));
  EXPECT(strcmp(buf, "Hz") == 0);
  EXPECT_OK(dynn_platform_knob_set(p, idx, values[1]));
  EXPECT_OK(dynn_platform_knob_get(p, idx, &v));
  EXPECT(v == values[1]);
  EXPECT_ERR(dynn_platform_knob_set(p, idx, values[1] + 1), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_set(p, nk + 3, 1), DYNN_EINVAL);
  ki.struct_size = sizeof ki;
  EXPECT_OK(dynn_platform_knob_info(p, idx, &ki));
  EXPECT(ki.changed == 1);

  /* A text knob (the GPU governor). */
  EXPECT_OK(dynn_platform_find_knob(p, "gpu.governor", &gov));
  memset(&ki, 0, sizeof ki);
  ki.struct_size = sizeof ki;
  EXPECT_OK(dynn_platform_knob_info(p, gov, &ki));
  EXPECT(ki.type == DYNN_KNOB_TEXT && ki.num_text_values >= 1);
  EXPECT_OK(dynn_platform_knob_text_value(p, gov, 0, buf, sizeof buf, NULL));
  EXPECT_ERR(dynn_platform_knob_text_value(p, gov, ki.num_text_values, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_OK(dynn_platform_knob_set_text(p, gov, buf));
  EXPECT_ERR(dynn_platform_knob_set_text(p, gov, "warp-speed"), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_set_text(p, gov, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_knob_set_text(p, idx, "fast"), DYNN_EINVAL); /* numeric knob */
  EXPECT_OK(dynn_platform_knob_get_text(p, gov, buf, sizeof buf, NULL));

  /* apply: all-or-nothing. */
  EXPECT_ERR(dynn_platform_apply(p, "{\"gpu.freq\": 1, \"threads\": 2}"), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_apply(p, "{\"nope\": 1}"), DYNN_ENOTFOUND);
  EXPECT_ERR(dynn_platform_apply(p, "{not json"), DYNN_EPARSE);
  EXPECT_ERR(dynn_platform_apply(p, "{\"threads\": \"two\"}"), DYNN_EINVAL);
  EXPECT_OK(dynn_platform_apply(p, "{\"threads\": 2}"));
  EXPECT_OK(dynn_platform_restore(p));
  EXPECT_OK(dynn_platform_knob_get(p, idx, &v));
  EXPECT(v == values[count - 1]); /* back at its maximum */

  /* Sensors. */
  EXPECT_OK(dynn_platform_num_sensors(p, &ns));
  EXPECT(ns > 3);
  for (i = 0; i < ns; ++i) {
    memset(&si, 0, sizeof si);
    si.struct_size = sizeof si;
    EXPECT_OK(dynn_platform_sensor_info(p, i, &si));
    EXPECT_OK(dynn_platform_sensor_string(p, i, DYNN_SENSOR_UNIT, buf, sizeof buf, NULL));
  }
  EXPECT_ERR(dynn_platform_sensor_info(p, ns, &si), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sensor_string(p, 0, -1, buf, sizeof buf, NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sensor_read(p, ns + 1, &t0), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_find_sensor(p, "flux", &e_idx), DYNN_ENOTFOUND);
  EXPECT_OK(dynn_platform_find_sensor(p, "energy.total", &e_idx));
  memset(&si, 0, sizeof si);
  si.struct_size = sizeof si;
  EXPECT_OK(dynn_platform_sensor_info(p, e_idx, &si));
  EXPECT(si.kind == DYNN_SENSOR_COUNTER && si.available == 1);

  /* Simulator: work advances virtual time and energy. Without tables, sub-networks can't run. */
  EXPECT_OK(dynn_platform_now(p, &t0));
  EXPECT_OK(dynn_platform_sensor_read(p, e_idx, &e0));
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  EXPECT_OK(dynn_platform_sim_run_work(p, 40, "gpu", &r));
  EXPECT(r.latency_s > 0.02 && r.energy_j > 0);
  EXPECT_OK(dynn_platform_now(p, &t1));
  EXPECT(fabs((t1 - t0) - r.latency_s) < 1e-9);
  EXPECT_OK(dynn_platform_sensor_read(p, e_idx, &e1));
  EXPECT(e1 > e0);
  EXPECT_ERR(dynn_platform_sim_run_work(p, -1, "gpu", &r), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_run_work(p, 10, "tpu", &r), DYNN_EINVAL);
  r.struct_size = 0;
  EXPECT_ERR(dynn_platform_sim_run_work(p, 10, "gpu", &r), DYNN_EINVAL);
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 160, &cfg));
  EXPECT_ERR(dynn_platform_sim_run(p, &cfg, "gpu", NULL), DYNN_EUNSUPPORTED);
  EXPECT_ERR(dynn_platform_sim_run(p, NULL, "gpu", NULL), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_load_latency_tables(p, NULL, NULL), DYNN_EINVAL);
  EXPECT(dynn_platform_sim_load_latency_tables(p, "/nonexistent", NULL) != DYNN_OK);
  /* Interference on the GPU slows the same work down. */
  EXPECT_ERR(dynn_platform_sim_add_interference(p, 7, 0, 1, 0.5, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_add_interference(p, DYNN_SIM_GPU, 0, 1, 1.5, 0), DYNN_EINVAL);
  EXPECT_ERR(dynn_platform_sim_add_interference(p, DYNN_SIM_GPU, 0, -1, 0.5, 0), DYNN_EINVAL);
  EXPECT_OK(dynn_platform_now(p, &t0));
  EXPECT_OK(dynn_platform_sim_add_interference(p, DYNN_SIM_GPU, t0, 100, 0.5, 0));
  {
    dynn_sim_inference r2;
    memset(&r2, 0, sizeof r2);
    r2.struct_size = sizeof r2;
    EXPECT_OK(dynn_platform_sim_run_work(p, 40, "gpu", &r2));
    EXPECT(r2.latency_s > r.latency_s * 1.5);
  }
  EXPECT_OK(dynn_platform_sim_clear_interference(p));
  EXPECT_ERR(dynn_platform_idle(p, -1), DYNN_EINVAL);
  EXPECT_OK(dynn_platform_idle(p, 10));
  EXPECT_OK(dynn_platform_now(p, &t1));
  EXPECT(t1 > t0 + 10);
  EXPECT_ERR(dynn_platform_report_json(p, small, sizeof small, &needed), DYNN_EBUFS);
  {
    char* json = (char*)malloc(needed);
    EXPECT_OK(dynn_platform_report_json(p, json, needed, NULL));
    EXPECT(json[0] == '{');
    free(json);
  }
  dynn_platform_free(p);
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  if (!f) { fprintf(stderr, "cannot write %s\n", path); ++failures; return; }
  fputs(text, f);
  fclose(f);
}

static void detected(void) {
  char root[] = "/tmp/dynn_capi_rootXXXXXX";
  char path[512];
  dynn_platform* p = NULL;
  size_t idx = 0;
  double t = 0;
  dynn_sim_inference r;
  if (!mkdtemp(root)) { fprintf(stderr, "mkdtemp failed\n"); ++failures; return; }
  snprintf(path, sizeof path, "%s/sys", root); mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/sys/class", root); mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/sys/class/thermal", root); mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone0", root); mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone0/type", root); write_file(path, "cpu-thermal\n");
  snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone0/temp", root); write_file(path, "45500\n");
  EXPECT_OK(dynn_platform_detect(root, &p));
  if (p) {
    EXPECT(dynn_platform_is_simulated(p) == 0);
    EXPECT_OK(dynn_platform_find_sensor(p, "temp.cpu-thermal", &idx));
    EXPECT_OK(dynn_platform_sensor_read(p, idx, &t));
    EXPECT(fabs(t - 45.5) < 1e-9);
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_ERR(dynn_platform_sim_run_work(p, 10, NULL, &r), DYNN_EUNSUPPORTED);
    EXPECT_ERR(dynn_platform_sim_clear_interference(p), DYNN_EUNSUPPORTED);
    EXPECT_OK(dynn_platform_find_knob(p, "threads", &idx)); /* the runtime knob exists everywhere */
    dynn_platform_free(p);
  }
  snprintf(path, sizeof path, "rm -rf '%s'", root);
  if (system(path) != 0) fprintf(stderr, "cleanup of %s failed\n", root);
}

static void with_tables(void) {
  const char* shared = shared_dir();
  char cpu[1024], gpu[1024];
  dynn_sim_params sp = dynn_sim_default_params();
  dynn_platform* p = NULL;
  dynn_subnet small, big;
  dynn_sim_inference a, b;
  if (shared_missing("latency-table part")) return;
  snprintf(cpu, sizeof cpu, "%s/data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu", shared);
  snprintf(gpu, sizeof gpu, "%s/data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu", shared);
  sp.cpu_lut_dir = cpu;
  sp.gpu_lut_dir = gpu;
  EXPECT_OK(dynn_platform_create_simulated("xavier-nx", &sp, &p));
  if (!p) return;
  EXPECT_OK(dynn_subnet_uniform(3, 3, 2, 160, &small));
  EXPECT_OK(dynn_subnet_uniform(7, 6, 4, 224, &big));
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  b = a;
  EXPECT_OK(dynn_platform_sim_run(p, &small, "gpu", &a));
  EXPECT_OK(dynn_platform_sim_run(p, &big, "gpu", &b));
  EXPECT(a.reference_ms > 0 && b.reference_ms > 1.2 * a.reference_ms); /* GPU tables: ~21 vs ~30 ms */
  EXPECT(b.latency_s > a.latency_s);
  dynn_platform_free(p);
}

/* Restore-on-exit and restore records: misuse and hostile records are errors, nothing written. */
static void restore_api(void) {
  char dir[] = "/tmp/dynn_capi_restoreXXXXXX";
  char path[512], victim[512];
  size_t written = 99;
  FILE* f;
  EXPECT_OK(dynn_restore_on_exit_install(NULL));
  EXPECT_OK(dynn_restore_on_exit_install(NULL)); /* idempotent */
  EXPECT_ERR(dynn_restore_record_apply(NULL, 0, &written), DYNN_EINVAL);
  EXPECT_ERR(dynn_restore_record_apply("/nonexistent/record.json", 0, &written), DYNN_ENOTFOUND);
  if (!mkdtemp(dir)) { fprintf(stderr, "mkdtemp failed\n"); ++failures; return; }
  snprintf(path, sizeof path, "%s/record.json", dir);
  write_file(path, "{\"format\": \"something else\"}");
  EXPECT_ERR(dynn_restore_record_apply(path, 0, &written), DYNN_EPARSE);
  /* A record naming a file that is no cpufreq/devfreq attribute is refused and writes nothing. */
  snprintf(victim, sizeof victim, "%s/victim", dir);
  write_file(victim, "keep");
  f = fopen(path, "w");
  if (f) {
    fprintf(f, "{\"format\": \"dynn-restore-record\", \"version\": 1, \"pid\": 2147483646, \"entries\": [{\"knob\": \"x\", \"path\": \"%s\", \"value\": \"gone\"}]}", victim);
    fclose(f);
  }
  EXPECT_ERR(dynn_restore_record_apply(path, 1, &written), DYNN_EINVAL);
  f = fopen(victim, "r");
  if (f) {
    char buf[8] = {0};
    EXPECT(fread(buf, 1, sizeof buf - 1, f) == 4 && strcmp(buf, "keep") == 0);
    fclose(f);
  }
  /* A record of a process that still runs (pid 1) is refused unless forced. */
  write_file(path, "{\"format\": \"dynn-restore-record\", \"version\": 1, \"pid\": 1, \"entries\": []}");
  EXPECT_ERR(dynn_restore_record_apply(path, 0, &written), DYNN_EBUSY);
  snprintf(path, sizeof path, "rm -rf '%s'", dir);
  if (system(path) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
}

int main(void) {
  restore_api();
  misuse();
  simulated();
  detected();
  with_tables();
  return test_result();
}
