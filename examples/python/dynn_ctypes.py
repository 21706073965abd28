"""A ctypes binding of dynn's C ABI (libdynn_c.so), standard library only.

Find the library with load(path) or the environment variable DYNN_C_LIBRARY (else the system
loader's search for "libdynn_c.so.0"). Every failing call raises DynnError(status, message) with
the text of dynn_last_error(). Handles free themselves (close() or garbage collection).

    import dynn_ctypes as dynn
    lib = dynn.load("build/capi/libdynn_c.so")
    plat = dynn.Platform.simulated("xavier-nx")
    prof = dynn.Profile.load_levels(".../nets_6_levels.json", "gpu")
    ctl = dynn.Controller.builtin("pareto", '{"margin": 0.05}')
    mgr = dynn.Manager(plat, prof, ctl, supernet=None, target_latency_ms=50)
    point, subnet = mgr.plan(); result = mgr.infer(); print(mgr.summary_string())
"""
import ctypes
import json
import math
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_ubyte, c_uint64, c_void_p)

OK, ERROR, EINVAL, ENOTFOUND, EBUFS, ENOMEM, EBACKEND, EUNSUPPORTED, EIO, EPARSE, EPERM, EBUSY = (
    0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11)
KNOB_NAME, KNOB_UNIT, KNOB_DESCRIPTION, KNOB_ALLOWED, KNOB_UNWRITABLE_REASON, KNOB_UNAVAILABLE_REASON, KNOB_VALUE = range(7)
SENSOR_NAME, SENSOR_UNIT, SENSOR_DESCRIPTION, SENSOR_UNAVAILABLE_REASON, SENSOR_LAST_ERROR = range(5)
POINT_ID, POINT_DEVICE, POINT_HARDWARE, POINT_SUBNET, POINT_FAMILY = range(5)
TELEMETRY_CSV, TELEMETRY_JSON, TELEMETRY_SVG = range(3)
LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF = range(5)
NUM_BLOCKS, NUM_STAGES = 20, 5


class DynnError(RuntimeError):
    def __init__(self, status, message):
        super().__init__(f"{message} [{status}]")
        self.status = status
        self.message = message


# ---- structs (must match capi/include/dynn/dynn.h; tests/capi/header/abi_layout.cpp pins them)
class Subnet(Structure):
    _fields_ = [("ks", c_int32 * NUM_BLOCKS), ("e", c_int32 * NUM_BLOCKS), ("d", c_int32 * NUM_STAGES), ("r", c_int32)]

    def __repr__(self):
        return f"Subnet(r={self.r}, d={list(self.d)})"


class SupernetParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("device", c_char_p), ("num_threads", c_int), ("cache_bytes", c_size_t),
                ("engine", c_char_p)]


class SupernetInfo(Structure):
    _fields_ = [("struct_size", c_size_t), ("width_mult", c_double), ("num_classes", c_int32), ("reserved", c_int32),
                ("parameter_count", c_uint64), ("supernet_bytes", c_uint64), ("prepared_bytes", c_uint64),
                ("cache_budget", c_uint64), ("prepared_count", c_uint64)]


class SimParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("ambient_c", c_double), ("thermal_resistance", c_double),
                ("latency_noise", c_double), ("seed", c_uint64), ("cpu_lut_dir", c_char_p), ("gpu_lut_dir", c_char_p)]


class KnobInfo(Structure):
    _fields_ = [("struct_size", c_size_t), ("type", c_int32), ("readable", c_int32), ("writable", c_int32),
                ("changed", c_int32), ("has_min", c_int32), ("has_max", c_int32), ("min", c_int64), ("max", c_int64),
                ("num_values", c_size_t), ("num_text_values", c_size_t)]


class SensorInfo(Structure):
    _fields_ = [("struct_size", c_size_t), ("kind", c_int32), ("available", c_int32)]


class OperatingPoint(Structure):
    _fields_ = [("struct_size", c_size_t), ("subnet", Subnet), ("latency_ms", c_double), ("latency_p90_ms", c_double),
                ("power_w", c_double), ("energy_mj", c_double), ("accuracy", c_double), ("macs", c_double),
                ("level", c_int32), ("accuracy_source", c_int32)]


class ControlContext(Structure):
    _fields_ = [("struct_size", c_size_t), ("num_points", c_size_t), ("points", POINTER(OperatingPoint)),
                ("point_ids", POINTER(c_char_p)), ("num_knobs", c_size_t), ("knob_names", POINTER(c_char_p)),
                ("num_sensors", c_size_t), ("sensor_names", POINTER(c_char_p))]


class Observation(Structure):
    _fields_ = [("struct_size", c_size_t), ("step", c_uint64), ("time_s", c_double), ("target_latency_ms", c_double),
                ("target_accuracy", c_double), ("target_power_w", c_double), ("target_energy_mj", c_double),
                ("last_latency_ms", c_double), ("last_energy_mj", c_double), ("last_power_w", c_double),
                ("last_point", c_int32), ("current_point", c_int32), ("num_knobs", c_size_t),
                ("knob_values", POINTER(c_int64)), ("num_sensors", c_size_t), ("sensor_values", POINTER(c_double))]


class Decision(Structure):
    _fields_ = [("struct_size", c_size_t), ("point", c_int32), ("reserved", c_int32), ("num_knobs", c_size_t),
                ("knob_values", POINTER(c_int64)), ("knob_set", POINTER(c_ubyte))]


DECIDE_FN = CFUNCTYPE(c_int, c_void_p, POINTER(Observation), POINTER(Decision))
RESET_FN = CFUNCTYPE(None, c_void_p)
DESTROY_FN = CFUNCTYPE(None, c_void_p)
BIND_FN = CFUNCTYPE(c_int, c_void_p, POINTER(ControlContext))
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class ControllerCallbacks(Structure):
    _fields_ = [("struct_size", c_size_t), ("user_data", c_void_p), ("decide", DECIDE_FN), ("reset", RESET_FN),
                ("destroy", DESTROY_FN), ("bind", BIND_FN)]


class Targets(Structure):
    _fields_ = [("struct_size", c_size_t), ("latency_ms", c_double), ("accuracy", c_double), ("power_w", c_double),
                ("energy_mj", c_double)]


class ManagerParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("app_name", c_char_p), ("targets", Targets), ("knobs", c_char_p),
                ("sensors", c_char_p), ("prepare_all", c_int32), ("telemetry", c_int32), ("restore_on_free", c_int32),
                ("simulate", c_int32), ("energy_sensor", c_char_p), ("power_sensor", c_char_p)]


class StepResult(Structure):
    _fields_ = [("struct_size", c_size_t), ("latency_ms", c_double), ("energy_mj", c_double), ("point", c_int32),
                ("met", c_int32)]


class TelemetrySummary(Structure):
    _fields_ = [("struct_size", c_size_t), ("count", c_uint64), ("misses", c_uint64), ("switches", c_uint64),
                ("within_target", c_double), ("mean_accuracy", c_double), ("mean_latency_ms", c_double),
                ("p50_latency_ms", c_double), ("p99_latency_ms", c_double), ("max_latency_ms", c_double),
                ("mean_energy_mj", c_double), ("mean_power_w", c_double)]


class SearchStatus(Structure):
    _fields_ = [("struct_size", c_size_t), ("searches", c_int32), ("subnets_added", c_int32), ("points_added", c_int32),
                ("points_profiled", c_int32), ("running", c_int32), ("exhausted", c_int32)]


def _sized(struct_type):
    s = struct_type()
    s.struct_size = ctypes.sizeof(struct_type)
    return s


# ---- the library
_lib = None

# name: (argtypes, restype); restype None = void, c_int = dynn_status unless listed in _PLAIN.
_SIGNATURES = {
    "dynn_version": ([], c_char_p), "dynn_status_string": ([c_int], c_char_p), "dynn_last_error": ([], c_char_p),
    "dynn_set_num_threads": ([c_int], c_int),
    "dynn_log_set": ([LOG_FN, c_void_p], None), "dynn_log_set_level": ([c_int], c_int),
    "dynn_subnet_parse": ([c_char_p, POINTER(Subnet)], c_int),
    "dynn_subnet_to_json": ([POINTER(Subnet), c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_subnet_macs": ([POINTER(Subnet), c_double, POINTER(c_int64)], c_int),
    "dynn_supernet_default_params": ([], SupernetParams),
    "dynn_supernet_load": ([c_char_p, POINTER(SupernetParams), POINTER(c_void_p)], c_int),
    "dynn_supernet_create_random": ([c_double, c_uint64, POINTER(SupernetParams), POINTER(c_void_p)], c_int),
    "dynn_supernet_free": ([c_void_p], None),
    "dynn_supernet_set_subnet": ([c_void_p, c_char_p], c_int),
    "dynn_supernet_get_subnet": ([c_void_p, POINTER(Subnet)], c_int),
    "dynn_supernet_get_info": ([c_void_p, POINTER(SupernetInfo)], c_int),
    "dynn_supernet_infer": ([c_void_p, POINTER(c_float), c_int64, c_int64, c_int64, c_int64, POINTER(c_float), c_size_t,
                             POINTER(c_size_t)], c_int),
    "dynn_supernet_infer_config": ([c_void_p, POINTER(Subnet), POINTER(c_float), c_int64, c_int64, c_int64, c_int64,
                                    POINTER(c_float), c_size_t, POINTER(c_size_t)], c_int),
    "dynn_supernet_set_threads": ([c_void_p, c_int], c_int),
    "dynn_supernet_get_threads": ([c_void_p, POINTER(c_int)], c_int),
    "dynn_supernet_set_device": ([c_void_p, c_char_p], c_int),
    "dynn_supernet_get_device": ([c_void_p, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_restore_on_exit_install": ([c_char_p], c_int),
    "dynn_restore_record_apply": ([c_char_p, c_int, POINTER(c_size_t)], c_int),
    "dynn_sim_default_params": ([], SimParams),
    "dynn_platform_create_simulated": ([c_char_p, POINTER(SimParams), POINTER(c_void_p)], c_int),
    "dynn_platform_detect": ([c_char_p, POINTER(c_void_p)], c_int),
    "dynn_platform_free": ([c_void_p], None),
    "dynn_platform_name": ([c_void_p, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_platform_now": ([c_void_p, POINTER(c_double)], c_int),
    "dynn_platform_num_knobs": ([c_void_p, POINTER(c_size_t)], c_int),
    "dynn_platform_knob_info": ([c_void_p, c_size_t, POINTER(KnobInfo)], c_int),
    "dynn_platform_knob_string": ([c_void_p, c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_platform_find_knob": ([c_void_p, c_char_p, POINTER(c_size_t)], c_int),
    "dynn_platform_knob_get": ([c_void_p, c_size_t, POINTER(c_int64)], c_int),
    "dynn_platform_knob_set": ([c_void_p, c_size_t, c_int64], c_int),
    "dynn_platform_restore": ([c_void_p], c_int),
    "dynn_platform_num_sensors": ([c_void_p, POINTER(c_size_t)], c_int),
    "dynn_platform_sensor_string": ([c_void_p, c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_platform_find_sensor": ([c_void_p, c_char_p, POINTER(c_size_t)], c_int),
    "dynn_platform_sensor_read": ([c_void_p, c_size_t, POINTER(c_double)], c_int),
    "dynn_platform_sim_add_interference": ([c_void_p, c_int, c_double, c_double, c_double, c_uint64], c_int),
    "dynn_profile_create": ([POINTER(c_void_p)], c_int),
    "dynn_profile_load": ([c_char_p, POINTER(c_void_p)], c_int),
    "dynn_profile_load_levels": ([c_char_p, c_char_p, POINTER(c_void_p)], c_int),
    "dynn_profile_free": ([c_void_p], None),
    "dynn_profile_save": ([c_void_p, c_char_p], c_int),
    "dynn_profile_num_points": ([c_void_p, POINTER(c_size_t)], c_int),
    "dynn_profile_get_point": ([c_void_p, c_size_t, POINTER(OperatingPoint)], c_int),
    "dynn_profile_point_string": ([c_void_p, c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_profile_add_point": ([c_void_p, POINTER(OperatingPoint), c_char_p, c_char_p, c_char_p], c_int),
    "dynn_profile_pareto_front": ([c_void_p, c_char_p, POINTER(c_size_t), c_size_t, POINTER(c_size_t)], c_int),
    "dynn_controller_create": ([c_char_p, c_char_p, POINTER(c_void_p)], c_int),
    "dynn_controller_create_custom": ([POINTER(ControllerCallbacks), c_char_p, POINTER(c_void_p)], c_int),
    "dynn_controller_free": ([c_void_p], None),
    "dynn_controller_list": ([c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_controller_name": ([c_void_p, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_manager_default_params": ([], ManagerParams),
    "dynn_model_load": ([c_char_p, c_char_p, POINTER(c_void_p)], c_int),
    "dynn_model_free": ([c_void_p], None),
    "dynn_model_family": ([c_void_p], c_char_p),
    "dynn_model_num_classes": ([c_void_p], c_int),
    "dynn_model_set_subnet": ([c_void_p, c_char_p], c_int),
    "dynn_model_prepare": ([c_void_p, POINTER(c_char_p), c_size_t], c_int),
    "dynn_model_current_subnet": ([c_void_p, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_model_infer": ([c_void_p, POINTER(c_float), c_int64, c_int64, c_int64, c_int64, POINTER(c_float), c_size_t,
                          POINTER(c_size_t)], c_int),
    "dynn_model_subnet_info": ([c_void_p, c_char_p, POINTER(c_double), POINTER(c_double)], c_int),
    "dynn_model_subnet_resolution": ([c_void_p, c_char_p, POINTER(c_int)], c_int),
    "dynn_model_set_threads": ([c_void_p, c_int], c_int),
    "dynn_model_get_threads": ([c_void_p, POINTER(c_int)], c_int),
    "dynn_manager_create": ([c_void_p, c_void_p, c_void_p, c_void_p, POINTER(ManagerParams), POINTER(c_void_p)], c_int),
    "dynn_manager_create_model": ([c_void_p, c_void_p, c_void_p, c_void_p, POINTER(ManagerParams), POINTER(c_void_p)], c_int),
    "dynn_profile_from_json": ([c_char_p, POINTER(c_void_p)], c_int),
    "dynn_manager_free": ([c_void_p], None),
    "dynn_manager_plan": ([c_void_p, POINTER(c_int32), POINTER(Subnet)], c_int),
    "dynn_manager_infer": ([c_void_p, POINTER(c_float), c_int64, c_int64, c_int64, c_int64, POINTER(c_float), c_size_t,
                            POINTER(StepResult)], c_int),
    "dynn_manager_decide": ([c_void_p, POINTER(c_int32)], c_int),
    "dynn_manager_report": ([c_void_p, c_double, c_double, POINTER(StepResult)], c_int),
    "dynn_manager_set_targets": ([c_void_p, POINTER(Targets)], c_int),
    "dynn_manager_point_string": ([c_void_p, c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_manager_telemetry_summary": ([c_void_p, POINTER(TelemetrySummary)], c_int),
    "dynn_manager_set_search": ([c_void_p, c_int32, c_int32], c_int),
    "dynn_manager_search_status": ([c_void_p, POINTER(SearchStatus)], c_int),
    "dynn_manager_num_points": ([c_void_p, POINTER(c_size_t)], c_int),
    "dynn_manager_telemetry_summary_string": ([c_void_p, c_char_p, c_size_t, POINTER(c_size_t)], c_int),
    "dynn_manager_telemetry_write": ([c_void_p, c_char_p, c_int], c_int),
}
_PLAIN = {"dynn_version", "dynn_status_string", "dynn_last_error", "dynn_log_set", "dynn_supernet_default_params",
          "dynn_model_family", "dynn_model_num_classes",
          "dynn_sim_default_params", "dynn_manager_default_params"}


def load(path=None):
    """Loads libdynn_c (path, else $DYNN_C_LIBRARY, else "libdynn_c.so.0") and declares the signatures."""
    global _lib
    path = path or os.environ.get("DYNN_C_LIBRARY") or "libdynn_c.so.0"
    lib = ctypes.CDLL(path)
    for name, (args, res) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    _lib = lib
    return lib


def lib():
    if _lib is None:
        load()
    return _lib


def _call(name, *args):
    status = getattr(lib(), name)(*args)
    if status != OK:
        raise DynnError(status, lib().dynn_last_error().decode())
    return status


def _b(s):
    return None if s is None else s.encode()


def _string(name, *args):
    """Calls a caller-buffer string function twice: once for the size, once for the text."""
    needed = c_size_t(0)
    status = getattr(lib(), name)(*args, None, 0, byref(needed))
    if status not in (OK, EBUFS):
        raise DynnError(status, lib().dynn_last_error().decode())
    buf = ctypes.create_string_buffer(needed.value)
    _call(name, *args, buf, needed.value, None)
    return buf.value.decode()


def version():
    return lib().dynn_version().decode()


def restore_on_exit_install(record_path=None):
    """Puts changed cpufreq/devfreq settings back on exit() and fatal signals; record_path (optional)
    is written for restore_record_apply after a kill -9."""
    _call("dynn_restore_on_exit_install", _b(record_path))


def restore_record_apply(path, force=False):
    """Writes back the originals in a record left by a process that died; returns how many."""
    written = c_size_t(0)
    _call("dynn_restore_record_apply", _b(path), 1 if force else 0, byref(written))
    return written.value


_log_keepalive = None


def set_log(fn, level=LOG_WARN):
    """Routes library messages to fn(level, text); None restores stderr."""
    global _log_keepalive
    _log_keepalive = LOG_FN(lambda lvl, msg, _: fn(lvl, msg.decode())) if fn else None
    lib().dynn_log_set(_log_keepalive if fn else LOG_FN(), None)
    _call("dynn_log_set_level", level)


class _Handle:
    _free = None

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def ptr(self):
        if not self._ptr:
            raise DynnError(EINVAL, f"{type(self).__name__} is closed")
        return self._ptr

    def close(self):
        if self._ptr:
            getattr(lib(), self._free)(self._ptr)
            self._ptr = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Supernet(_Handle):
    _free = "dynn_supernet_free"

    @classmethod
    def load(cls, path, device="cpu", num_threads=0):
        p = lib().dynn_supernet_default_params()
        p.device = _b(device)
        p.num_threads = num_threads
        out = c_void_p()
        _call("dynn_supernet_load", _b(path), byref(p), byref(out))
        return cls(out)

    @classmethod
    def random(cls, width_mult=1.0, seed=1, num_threads=0):
        p = lib().dynn_supernet_default_params()
        p.num_threads = num_threads
        out = c_void_p()
        _call("dynn_supernet_create_random", width_mult, seed, byref(p), byref(out))
        return cls(out)

    def info(self):
        i = _sized(SupernetInfo)
        _call("dynn_supernet_get_info", self.ptr, byref(i))
        return i

    def set_subnet(self, subnet_json):
        _call("dynn_supernet_set_subnet", self.ptr, _b(subnet_json))

    def subnet(self):
        s = Subnet()
        _call("dynn_supernet_get_subnet", self.ptr, byref(s))
        return s

    def infer(self, image, n, r, subnet=None):
        """Logits (a list of n * num_classes floats) of an NCHW float32 ctypes array [n*3*r*r]; subnet
        (a Subnet) runs that sub-network without switching (dynn_supernet_infer_config)."""
        logits = (c_float * (n * self.info().num_classes))()
        written = c_size_t(0)
        if subnet is None:
            _call("dynn_supernet_infer", self.ptr, image, n, 3, r, r, logits, len(logits), byref(written))
        else:
            _call("dynn_supernet_infer_config", self.ptr, byref(subnet), image, n, 3, r, r, logits, len(logits),
                  byref(written))
        return list(logits[:written.value])

    def set_threads(self, n):
        _call("dynn_supernet_set_threads", self.ptr, n)

    def threads(self):
        n = c_int(0)
        _call("dynn_supernet_get_threads", self.ptr, byref(n))
        return n.value

    def set_device(self, device):
        _call("dynn_supernet_set_device", self.ptr, _b(device))

    def device(self):
        return _string("dynn_supernet_get_device", self.ptr)


class Model(_Handle):
    """A dynamic DNN of any family (dynn_model_*): the family is detected from the checkpoint, and
    sub-networks are JSON in that family's form (see dynn.h)."""
    _free = "dynn_model_free"

    @classmethod
    def load(cls, path, **options):
        """options: device, engine, family, num_threads, cache_bytes (dynn_model_load's options_json)."""
        out = c_void_p()
        _call("dynn_model_load", _b(path), _b(json.dumps(options)) if options else None, byref(out))
        return cls(out)

    @property
    def family(self):
        return lib().dynn_model_family(self.ptr).decode()

    @property
    def num_classes(self):
        return lib().dynn_model_num_classes(self.ptr)

    def set_subnet(self, subnet_json):
        _call("dynn_model_set_subnet", self.ptr, _b(subnet_json))

    def prepare(self, subnet_jsons):
        arr = (c_char_p * len(subnet_jsons))(*[_b(s) for s in subnet_jsons])
        _call("dynn_model_prepare", self.ptr, arr, len(subnet_jsons))

    def subnet(self):
        return _string("dynn_model_current_subnet", self.ptr)

    def subnet_info(self, subnet_json=None):
        """(MACs per image, parameters) of a sub-network (None: the current one)."""
        macs, params = c_double(0), c_double(0)
        _call("dynn_model_subnet_info", self.ptr, _b(subnet_json), byref(macs), byref(params))
        return macs.value, params.value

    def resolution(self, subnet_json=None):
        r = c_int(0)
        _call("dynn_model_subnet_resolution", self.ptr, _b(subnet_json), byref(r))
        return r.value

    def infer(self, image, n, r):
        """Logits (n * num_classes floats) of an NCHW float32 ctypes array [n*3*r*r]."""
        logits = (c_float * (n * self.num_classes))()
        written = c_size_t(0)
        _call("dynn_model_infer", self.ptr, image, n, 3, r, r, logits, len(logits), byref(written))
        return list(logits[:written.value])

    def set_threads(self, n):
        _call("dynn_model_set_threads", self.ptr, n)

    def threads(self):
        n = c_int(0)
        _call("dynn_model_get_threads", self.ptr, byref(n))
        return n.value


class Platform(_Handle):
    _free = "dynn_platform_free"

    @classmethod
    def simulated(cls, name="xavier-nx", cpu_lut_dir=None, gpu_lut_dir=None, latency_noise=0.0, seed=1):
        p = lib().dynn_sim_default_params()
        p.cpu_lut_dir = _b(cpu_lut_dir)
        p.gpu_lut_dir = _b(gpu_lut_dir)
        p.latency_noise = latency_noise
        p.seed = seed
        out = c_void_p()
        _call("dynn_platform_create_simulated", _b(name), byref(p), byref(out))
        return cls(out)

    @classmethod
    def detect(cls, root=None):
        out = c_void_p()
        _call("dynn_platform_detect", _b(root), byref(out))
        return cls(out)

    @property
    def name(self):
        return _string("dynn_platform_name", self.ptr)

    def now(self):
        v = c_double()
        _call("dynn_platform_now", self.ptr, byref(v))
        return v.value

    def knobs(self):
        """[(name, unit, allowed, value text)] for every knob."""
        n = c_size_t()
        _call("dynn_platform_num_knobs", self.ptr, byref(n))
        return [tuple(_string("dynn_platform_knob_string", self.ptr, i, w)
                      for w in (KNOB_NAME, KNOB_UNIT, KNOB_ALLOWED, KNOB_VALUE)) for i in range(n.value)]

    def sensors(self):
        n = c_size_t()
        _call("dynn_platform_num_sensors", self.ptr, byref(n))
        return [(_string("dynn_platform_sensor_string", self.ptr, i, SENSOR_NAME),
                 _string("dynn_platform_sensor_string", self.ptr, i, SENSOR_UNIT)) for i in range(n.value)]

    def knob(self, name):
        i = c_size_t()
        _call("dynn_platform_find_knob", self.ptr, _b(name), byref(i))
        v = c_int64()
        _call("dynn_platform_knob_get", self.ptr, i, byref(v))
        return v.value

    def set_knob(self, name, value):
        i = c_size_t()
        _call("dynn_platform_find_knob", self.ptr, _b(name), byref(i))
        _call("dynn_platform_knob_set", self.ptr, i, value)

    def read(self, sensor):
        i = c_size_t()
        _call("dynn_platform_find_sensor", self.ptr, _b(sensor), byref(i))
        v = c_double()
        _call("dynn_platform_sensor_read", self.ptr, i, byref(v))
        return v.value

    def restore(self):
        _call("dynn_platform_restore", self.ptr)

    def add_interference(self, gpu, start_s, duration_s, share, cpu_mask=0):
        _call("dynn_platform_sim_add_interference", self.ptr, 1 if gpu else 0, start_s, duration_s, share, cpu_mask)


class Profile(_Handle):
    _free = "dynn_profile_free"

    @classmethod
    def create(cls):
        out = c_void_p()
        _call("dynn_profile_create", byref(out))
        return cls(out)

    @classmethod
    def load(cls, path):
        out = c_void_p()
        _call("dynn_profile_load", _b(path), byref(out))
        return cls(out)

    @classmethod
    def from_json(cls, text):
        out = c_void_p()
        _call("dynn_profile_from_json", _b(text), byref(out))
        return cls(out)

    @classmethod
    def load_levels(cls, path, device="gpu"):
        out = c_void_p()
        _call("dynn_profile_load_levels", _b(path), _b(device), byref(out))
        return cls(out)

    def save(self, path):
        _call("dynn_profile_save", self.ptr, _b(path))

    def __len__(self):
        n = c_size_t()
        _call("dynn_profile_num_points", self.ptr, byref(n))
        return n.value

    def point(self, i):
        p = _sized(OperatingPoint)
        _call("dynn_profile_get_point", self.ptr, i, byref(p))
        return p

    def point_id(self, i):
        return _string("dynn_profile_point_string", self.ptr, i, POINT_ID)

    def add(self, point_id, subnet, latency_ms, accuracy, device="cpu", level=-1, hardware_json=None):
        p = _sized(OperatingPoint)
        p.subnet = subnet
        p.latency_ms = p.latency_p90_ms = latency_ms
        p.power_w = p.energy_mj = math.nan
        p.accuracy = accuracy
        p.level = level
        _call("dynn_profile_add_point", self.ptr, byref(p), _b(point_id), _b(device), _b(hardware_json))

    def pareto_front(self, objectives="latency,accuracy"):
        n = c_size_t()
        _call("dynn_profile_pareto_front", self.ptr, _b(objectives), None, 0, byref(n))
        idx = (c_size_t * max(1, n.value))()
        _call("dynn_profile_pareto_front", self.ptr, _b(objectives), idx, n.value, byref(n))
        return list(idx[:n.value])


def subnet_parse(text):
    s = Subnet()
    _call("dynn_subnet_parse", _b(text), byref(s))
    return s


def uniform_subnet(ks, e, d, r):
    return subnet_parse(f"ks={str(ks) * NUM_BLOCKS} e={str(e) * NUM_BLOCKS} d={str(d) * NUM_STAGES} r={r}")


class Controller(_Handle):
    _free = "dynn_controller_free"

    @classmethod
    def builtin(cls, name, params_json=None):
        out = c_void_p()
        _call("dynn_controller_create", _b(name), _b(params_json), byref(out))
        return cls(out)

    @classmethod
    def custom(cls, obj, name="python"):
        """obj.decide(obs: Observation, points: list) -> point index or (index, {knob_index: value});
        optional obj.bind(points, knob_names) and obj.reset(). Exceptions become DYNN_ERROR."""
        state = {}

        def bind(_, ctx):
            try:
                c = ctx.contents
                state["points"] = [c.points[i] for i in range(c.num_points)]
                state["knobs"] = [c.knob_names[i].decode() for i in range(c.num_knobs)]
                if hasattr(obj, "bind"):
                    obj.bind(state["points"], state["knobs"])
                return OK
            except Exception as e:  # never let Python exceptions unwind through C
                print(f"controller bind failed: {e!r}")
                return ERROR

        def decide(_, obs, out):
            try:
                ans = obj.decide(obs.contents, state["points"])
                knobs = {}
                if isinstance(ans, tuple):
                    ans, knobs = ans
                d = out.contents
                d.point = int(ans)
                for k, v in knobs.items():
                    d.knob_values[k] = int(v)
                    d.knob_set[k] = 1
                return OK
            except Exception as e:
                print(f"controller decide failed: {e!r}")
                return ERROR

        def reset(_):
            if hasattr(obj, "reset"):
                obj.reset()

        cb = _sized(ControllerCallbacks)
        cb.decide, cb.reset, cb.bind = DECIDE_FN(decide), RESET_FN(reset), BIND_FN(bind)
        cb.destroy = DESTROY_FN()
        out = c_void_p()
        _call("dynn_controller_create_custom", byref(cb), _b(name), byref(out))
        h = cls(out)
        h._keepalive = (cb.decide, cb.reset, cb.bind, obj, state)  # the C side holds raw pointers to these
        return h

    @staticmethod
    def names():
        return _string("dynn_controller_list").split()


class Manager(_Handle):
    _free = "dynn_manager_free"

    def __init__(self, platform, profile, controller, supernet=None, target_latency_ms=0.0, target_accuracy=0.0,
                 app_name="app", simulate=True, knobs=None, sensors=None, model=None):
        """supernet: a Supernet (OFA MobileNetV3); model: a Model of any family (not both)."""
        p = lib().dynn_manager_default_params()
        p.app_name = _b(app_name)
        p.targets.latency_ms = target_latency_ms
        p.targets.accuracy = target_accuracy
        p.simulate = 1 if simulate else 0
        p.knobs = _b(knobs)
        p.sensors = _b(sensors)
        out = c_void_p()
        if model is not None and supernet is not None:
            raise ValueError("Manager: give a supernet or a model, not both")
        if model is not None:
            _call("dynn_manager_create_model", platform.ptr, profile.ptr, controller.ptr, model.ptr, byref(p), byref(out))
        else:
            _call("dynn_manager_create", platform.ptr, profile.ptr, controller.ptr, supernet.ptr if supernet else None,
                  byref(p), byref(out))
        super().__init__(out)
        self._refs = (controller,)  # a Python controller's callbacks must outlive the manager
        self._input = None
        self._logits = (c_float * 1000)()

    def plan(self):
        point, sub = c_int32(), Subnet()
        _call("dynn_manager_plan", self.ptr, byref(point), byref(sub))
        return point.value, sub

    def infer(self, image=None):
        """One managed inference; image: a ctypes float array [3*r*r] (None: zeros at the planned size)."""
        point, sub = self.plan()
        r = sub.r
        if image is None:
            if self._input is None or len(self._input) != 3 * r * r:
                self._input = (c_float * (3 * r * r))()
            image = self._input
        res = _sized(StepResult)
        _call("dynn_manager_infer", self.ptr, image, 1, 3, r, r, self._logits, len(self._logits), byref(res))
        return res

    def logits(self):
        return list(self._logits)

    def decide(self):
        p = c_int32()
        _call("dynn_manager_decide", self.ptr, byref(p))
        return p.value

    def report(self, latency_ms, energy_mj=math.nan):
        res = _sized(StepResult)
        _call("dynn_manager_report", self.ptr, latency_ms, energy_mj, byref(res))
        return res

    def set_targets(self, latency_ms=0.0, accuracy=0.0, power_w=0.0, energy_mj=0.0):
        t = _sized(Targets)
        t.latency_ms, t.accuracy, t.power_w, t.energy_mj = latency_ms, accuracy, power_w, energy_mj
        _call("dynn_manager_set_targets", self.ptr, byref(t))

    def point_id(self, i):
        return _string("dynn_manager_point_string", self.ptr, i, POINT_ID)

    def point_subnet(self, i):
        """The point's sub-network as its family's JSON (any family)."""
        return _string("dynn_manager_point_string", self.ptr, i, POINT_SUBNET)

    def point_family(self, i):
        return _string("dynn_manager_point_string", self.ptr, i, POINT_FAMILY)

    def summary(self):
        s = _sized(TelemetrySummary)
        _call("dynn_manager_telemetry_summary", self.ptr, byref(s))
        return s

    def set_search(self, enabled=True, max_subnets=4):
        """Sub-networks below the profile's points when none is fast enough (docs/runtime.md)."""
        _call("dynn_manager_set_search", self.ptr, 1 if enabled else 0, max_subnets)

    def search_status(self):
        s = _sized(SearchStatus)
        _call("dynn_manager_search_status", self.ptr, byref(s))
        return s

    def num_points(self):
        n = c_size_t()
        _call("dynn_manager_num_points", self.ptr, byref(n))
        return n.value

    def summary_string(self):
        return _string("dynn_manager_telemetry_summary_string", self.ptr)

    def write_telemetry(self, path, fmt=TELEMETRY_CSV):
        _call("dynn_manager_telemetry_write", self.ptr, _b(path), fmt)
